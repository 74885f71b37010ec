import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type BenchOptions,
  commandLine,
  parseReps,
  parseThreads,
  runBench,
  type SuiteName,
} from './bench.js';
import { builtZooModel, DEMO_DIR, DEMO_ZOO_MODEL, type DemoOptions } from './demo.js';
import { main, program } from './main.js';

const bin = fileURLToPath(new URL('../../../bin/sparsekit.js', import.meta.url));

async function parsed(args: string[]): Promise<{ suites: SuiteName[]; opts: BenchOptions }> {
  let got: { suites: SuiteName[]; opts: BenchOptions } | undefined;
  const argv = ['node', 'sparsekit', ...args];
  await program(argv, async (suites, opts) => {
    got = { suites, opts };
    return 0;
  }).parseAsync(argv);
  assert.ok(got, 'bench ran');
  return got;
}

test('bench options reach the suite runner parsed', async () => {
  const { suites, opts } = await parsed([
    'bench',
    'kernels',
    '--quick',
    '--threads',
    '2,1,2',
    '--reps',
    '7',
    '--only',
    'csr 90%',
  ]);
  assert.deepEqual(suites, ['kernels']);
  assert.equal(opts.quick, true);
  assert.deepEqual(opts.threads, [2, 1]);
  assert.equal(opts.reps, 7);
  assert.equal(opts.only, 'csr 90%');
  assert.equal(opts.out, 'bench/results');
  assert.equal(opts.report, 'BENCHMARKS.md');
});

test('bench with no suite runs every suite but quality, with the defaults', async () => {
  const { suites, opts } = await parsed(['bench']);
  assert.deepEqual(suites, ['kernels', 'models', 'prune', 'train']);
  assert.equal(opts.quick, false);
  assert.equal(opts.threads, undefined);
  assert.equal(opts.reportOnly, false);
  assert.equal((await parsed(['bench', '--report-only'])).opts.reportOnly, true);
});

test('with no arguments the main job runs: the demo (generation + perplexity on a model)', async () => {
  let demo: DemoOptions | undefined;
  const code = await main(['node', 'sparsekit'], runBench, {
    demo: async (opts) => {
      demo = opts;
      return 0;
    },
  });
  assert.equal(code, 0);
  assert.equal(demo?.modelDir, DEMO_DIR);
  assert.equal(demo?.rebuild, false);
});

test('flag values are checked and the error names the flag and the fix', () => {
  assert.deepEqual(parseThreads('1, 2'), [1, 2]);
  for (const bad of ['0', '1,,2', 'two', '1.5', '-1'])
    assert.throws(() => parseThreads(bad), /--threads takes thread counts ≥ 1/);
  assert.equal(parseReps('5'), 5);
  for (const bad of ['0', 'x', '2.5']) assert.throws(() => parseReps(bad), /--reps takes a whole number/);
});

test('bad flags and unknown suites exit with code 2 and a message naming them', () => {
  for (const [args, message] of [
    [
      ['bench', 'kernels', '--threads', '0'],
      /option '--threads <list>' argument '0' is invalid\. --threads takes/,
    ],
    [['bench', 'kernels', '--reps'], /option '--reps <n>' argument missing/],
    [['bench', 'fast'], /value 'fast' is invalid for argument 'suite'\. Allowed choices are kernels/],
    [['bench', '--quik'], /unknown option '--quik'/],
  ] as const) {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('--help exits 0 and lists the bench flags', async () => {
  const r = spawnSync(process.execPath, [bin, 'bench', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  for (const flag of ['--quick', '--threads <list>', '--reps <n>', '--out <dir>', '--only <text>'])
    assert.ok(r.stdout.includes(flag), flag);
  assert.equal(typeof main, 'function');
});

test('the recorded command quotes what a shell would need', () => {
  assert.equal(
    commandLine(['node', 'bin/sparsekit.js', 'bench', 'kernels', '--quick']),
    'sparsekit bench kernels --quick',
  );
  assert.equal(commandLine(['node', 'x', 'bench', '--only', 'csr 90%']), "sparsekit bench --only 'csr 90%'");
});

test('the demo prefers the reference model when the zoo has it built', () => {
  const root = mkdtempSync(join(tmpdir(), 'sparsekit-zoo-'));
  const was = process.env.SPARSEKIT_ZOO;
  process.env.SPARSEKIT_ZOO = root;
  try {
    assert.equal(builtZooModel(DEMO_ZOO_MODEL), undefined, 'not built: the random model is used');
    mkdirSync(join(root, DEMO_ZOO_MODEL));
    writeFileSync(join(root, DEMO_ZOO_MODEL, 'config.json'), '{}');
    assert.equal(builtZooModel(DEMO_ZOO_MODEL), join(root, DEMO_ZOO_MODEL));
  } finally {
    if (was === undefined) delete process.env.SPARSEKIT_ZOO;
    else process.env.SPARSEKIT_ZOO = was;
    rmSync(root, { recursive: true, force: true });
  }
});
