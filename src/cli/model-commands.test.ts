import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { perplexity } from '../eval/perplexity.js';
import { generate } from '../generate/generate.js';
import { loadCausalLM } from '../models/load.js';
import { writeRandomLlama } from './demo-model.js';

const bin = fileURLToPath(new URL('../../../bin/sparsekit.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'sparsekit-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const model = join(tmp, 'tiny');
writeRandomLlama(model, {
  hiddenSize: 16,
  intermediateSize: 32,
  layers: 1,
  heads: 2,
  kvHeads: 1,
  maxPositions: 64,
});
const text = join(tmp, 'text.txt');
writeFileSync(
  text,
  'The Fulton County Grand Jury said Friday an investigation of recent primary elections produced no evidence. '.repeat(
    4,
  ),
);

const sparsekit = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: tmp });

test('generate streams the prompt and its greedy continuation, then prefill and decode tokens/s', async () => {
  const r = sparsekit(
    'generate',
    model,
    '--prompt',
    'The jury said',
    '--max-new-tokens',
    '6',
    '--threads',
    '1',
  );
  assert.equal(r.status, 0, r.stderr);
  const lm = loadCausalLM(model);
  const expected = await generate(lm, lm.tokenizer!.encode('The jury said'), {
    maxNewTokens: 6,
    stopTokenIds: [50256],
    tokenizer: { stream: () => lm.tokenizer!.stream({ skipSpecialTokens: true }) },
  });
  assert.equal(r.stdout, `The jury said${expected.text}\n`);
  assert.match(
    r.stderr,
    /prefill: 3 tokens in [\d.]+ m?s \([\d.]+ tokens\/s\) · decode: 5 tokens in [\d.]+ m?s \([\d.]+ tokens\/s\) · generated 6 tokens/,
  );
});

test('generate samples reproducibly with --seed and names the settings', () => {
  const args = [
    'generate',
    model,
    '--prompt',
    'Once',
    '--max-new-tokens',
    '8',
    '--temperature',
    '1.5',
    '--top-k',
    '40',
    '--seed',
    '9',
  ];
  const a = sparsekit(...args);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(a.stdout, sparsekit(...args).stdout);
  assert.notEqual(a.stdout, sparsekit(...args.slice(0, -1), '10').stdout);
  assert.match(a.stderr, /sampling: temperature 1\.5, top-k 40, top-p 1, seed 9/);
});

test('eval ppl --json matches the library on a text file; --data brown reads the held-out split', async () => {
  const r = sparsekit('eval', 'ppl', model, '--data', text, '--ctx', '32', '--stride', '16', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const lm = loadCausalLM(model);
  const ids = lm.tokenizer!.encode((await import('node:fs')).readFileSync(text, 'utf8'));
  const lib = await perplexity(lm, ids, { ctx: 32, stride: 16 });
  assert.equal(out.tokens, ids.length - 1);
  assert.equal(out.textTokens, ids.length);
  assert.ok(Math.abs(out.ppl - lib.ppl) < 1e-9 * lib.ppl, `${out.ppl} vs ${lib.ppl}`);
  assert.equal(out.complete, true);
  const b = sparsekit('eval', 'ppl', model, '--data', 'brown', '--max-tokens', '80', '--ctx', '64');
  assert.equal(b.status, 0, b.stderr);
  assert.match(
    b.stdout,
    /^perplexity [\d.]+ over 78 scored tokens of 80 .* · Brown corpus, test split · ctx 64, stride 64/,
  );
});

test('eval ppl --kv-dtype: the library figure with that cache; a bf16 cache stays within 0.5% of f32', async () => {
  const ids = loadCausalLM(model).tokenizer!.encode((await import('node:fs')).readFileSync(text, 'utf8'));
  const ppl = {} as Record<string, number>;
  for (const kvDtype of ['f32', 'bf16'] as const) {
    const args = ['eval', 'ppl', model, '--data', text, '--ctx', '32', '--weights', 'bf16'];
    const r = sparsekit(...args, '--kv-dtype', kvDtype, '--json');
    assert.equal(r.status, 0, r.stderr);
    ppl[kvDtype] = JSON.parse(r.stdout).ppl;
    const lib = await perplexity(loadCausalLM(model, { weights: 'bf16', kvDtype }), ids, { ctx: 32 });
    assert.ok(
      Math.abs(ppl[kvDtype]! - lib.ppl) < 1e-9 * lib.ppl,
      `${kvDtype}: ${ppl[kvDtype]} vs ${lib.ppl}`,
    );
  }
  assert.notEqual(ppl.bf16, ppl.f32, 'the option reached the cache');
  assert.ok(Math.abs(ppl.bf16! / ppl.f32! - 1) < 5e-3, `bf16 ${ppl.bf16} vs f32 ${ppl.f32}`);
});

test('errors name the argument and the fix (exit 2)', () => {
  const noTok = join(tmp, 'no-tokenizer');
  mkdirSync(noTok);
  writeFileSync(join(noTok, 'config.json'), '{}');
  for (const [args, message] of [
    [
      ['generate', join(tmp, 'nope'), '--prompt', 'x'],
      /<model-dir> .*nope does not exist; give a Hugging Face model folder/,
    ],
    [['generate', noTok, '--prompt', 'x'], /has no tokenizer\.json; copy the tokenizer\.json/],
    [['generate', model, '--prompt', 'x', '--top-p', '2'], /--top-p takes a number in \[1e-9, 1\]/],
    [['generate', model], /required option '--prompt <text>' not specified/],
    [
      ['eval', 'ppl', model, '--data', text, '--ctx', '1000'],
      /--ctx 1000 is more than the model's 64 positions; use --ctx 64 or less/,
    ],
    [
      ['eval', 'ppl', model, '--data', text, '--ctx', '8', '--stride', '9'],
      /--stride 9 is more than --ctx 8/,
    ],
    [
      ['eval', 'ppl', model, '--data', join(tmp, 'missing.txt')],
      /--data .*missing\.txt does not exist; give the path of a UTF-8 text file/,
    ],
    [['eval', 'ppl', model, '--data', 'brown:dev'], /names no Brown split/],
    [
      ['generate', model, '--prompt', 'x', '--kv-dtype', 'f8'],
      /--kv-dtype takes one of f32, bf16, f16, like --kv-dtype f32/,
    ],
  ] as const) {
    const r = sparsekit(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('Ctrl-C during eval ppl prints a partial result and exits 130', async () => {
  const child = spawn(
    process.execPath,
    [bin, 'eval', 'ppl', model, '--data', 'brown', '--max-tokens', '3000', '--ctx', '64', '--stride', '1'],
    { cwd: tmp },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('[ppl') && !child.killed) child.kill('SIGINT'); // once: a second press quits at once
    });
    child.on('exit', (c) => resolve(c));
  });
  assert.equal(code, 130, stderr);
  assert.match(
    stdout,
    /^interrupted: partial perplexity \(windows done: \d+\) [\d.]+ over \d+ scored tokens of 3000/,
  );
});

test('demo --random builds the random model once, then generates and scores Brown text', () => {
  const args = [
    'demo',
    '--random',
    '--model-dir',
    'demo',
    '--max-new-tokens',
    '4',
    '--max-tokens',
    '64',
    '--ctx',
    '32',
    '--stride',
    '16',
  ];
  const r = sparsekit(...args);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2, r.stdout);
  assert.ok(lines[0]!.startsWith('The jury said'));
  assert.match(
    lines[1]!,
    /^perplexity [\d.]+ over 63 scored tokens of 64 .* Brown corpus, test split · ctx 32, stride 16/,
  );
  assert.match(r.stderr, /built a random, untrained Llama model/);
  const again = sparsekit(...args);
  // Same model: same greedy text; the same perplexity up to f32 summation order (thread splits may differ).
  const [text0, ppl0] = r.stdout.split('\n');
  const [text1, ppl1] = again.stdout.split('\n');
  assert.equal(text1, text0);
  const value = (line?: string) => Number(/^perplexity ([\d.]+)/.exec(line ?? '')?.[1]);
  assert.ok(Math.abs(value(ppl1) - value(ppl0)) < 1e-6 * value(ppl0), `${ppl0} vs ${ppl1}`);
  assert.match(again.stderr, /using demo: a random, untrained Llama model/);
});

test('generate and eval ppl flags reach their runners parsed', async () => {
  const { program } = await import('./main.js');
  let got: unknown[] = [];
  const record = async (...a: unknown[]) => {
    got = a;
    return 0;
  };
  const argv = [
    'node',
    'sparsekit',
    'generate',
    'm',
    '--prompt',
    'hi',
    '--top-p',
    '0.9',
    '--stop',
    'a',
    'b',
    '--stop-id',
    '1,2',
    '--stop-id',
    '3',
    '--weights',
    'bf16',
    '--kv-dtype',
    'f32',
  ];
  await program(argv, undefined, { generate: record }).parseAsync(argv);
  assert.deepEqual(got, [
    'm',
    { prompt: 'hi', topP: 0.9, stop: ['a', 'b'], stopId: [1, 2, 3], weights: 'bf16', kvDtype: 'f32' },
  ]);
  const argv2 = [
    'node',
    'sparsekit',
    'eval',
    'ppl',
    'm',
    '--data',
    'brown',
    '--ctx',
    '128',
    '--max-tokens',
    '500',
    '--kv-dtype',
    'bf16',
  ];
  await program(argv2, undefined, { ppl: record }).parseAsync(argv2);
  assert.deepEqual(got, ['m', { data: 'brown', ctx: 128, maxTokens: 500, json: false, kvDtype: 'bf16' }]);
});

test('profile prints each phase split by kernel beside the roofline; --json gives the same phases', () => {
  const r = sparsekit(
    'profile',
    model,
    '--context',
    '24,40',
    '--steps',
    '2',
    '--prefill',
    '8',
    '--threads',
    '1',
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /probing read bandwidth \(\d+ MiB, 1 thread\(s\)\)/);
  assert.match(r.stdout, /^decode at context 24, 1 thread\(s\): [\d.]+ ms\/step \([\d.]+ tokens\/s\)$/m);
  assert.match(r.stdout, /^decode at context 40, 1 thread\(s\)/m);
  assert.match(r.stdout, /roofline at [\d.]+ GB\/s \(probe\): weights [\d.]+ ms → \d+% of it/);
  assert.match(r.stdout, /^ {2}matmul +[\d.]+ +\d+% +weights read at [\d.]+ GB\/s \(\d+% of the probe\)$/m);
  assert.match(
    r.stdout,
    /^ {2}gemv_f32 +8 +[\d.]+ +\d+%$/m,
    'the 7 block linears and the head: 8 GEMVs per step',
  );
  assert.match(r.stdout, /^ {2}lm_head +1 +[\d.]+ +\d+% +[\d.]+ [KM]iB +[\d.]+ GB\/s$/m);
  assert.match(r.stdout, /^prefill of 8 tokens, 1 thread\(s\)/m);
  assert.match(r.stdout, /^ {2}gemm_f32 +7 /m);
  const j = sparsekit(
    'profile',
    model,
    '--context',
    '24',
    '--steps',
    '2',
    '--prefill',
    '0',
    '--no-probe',
    '--json',
  );
  assert.equal(j.status, 0, j.stderr);
  assert.equal(j.stderr, '');
  const out = JSON.parse(j.stdout) as {
    readBytesPerSecond?: number;
    phases: Array<{ phase: string; tokens: number }>;
  };
  assert.equal(out.readBytesPerSecond, undefined);
  assert.deepEqual(
    out.phases.map((p) => `${p.phase} ${p.tokens}`),
    ['decode 24'],
  );
  for (const [args, message] of [
    [
      ['profile', model, '--context', '500'],
      /--context 500 is out of range: with --steps 8 it must be in \[19, 64\]/,
    ],
    [['profile', model, '--context', '12,x'], /--context takes positive token counts separated by commas/],
    [
      ['profile', model, '--prefill', '65', '--context', '24'],
      /--prefill 65 exceeds the model's 64 positions/,
    ],
    [['profile', join(tmp, 'nope')], /<model-dir> .*nope does not exist/],
  ] as const) {
    const e = sparsekit(...args);
    assert.equal(e.status, 2, `${args.join(' ')}: exit ${e.status}, stderr ${e.stderr}`);
    assert.match(e.stderr, message);
  }
});
