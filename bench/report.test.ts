import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachRatios, breakEven } from './analysis.js';
import { benchmarksMarkdown, breakEvenMarkdown, markdownTable, ms } from './report.js';
import type { SuiteResult } from './results.js';
import { result } from './testing.js';

const machine = {
  cpu: 'Test CPU',
  cores: 2,
  llcBytes: 105 * 2 ** 20,
  llcSource: 'test',
  memoryBytes: 2 ** 34,
  node: 'v20.0.0',
  v8: '11.3',
  wasmVariant: 'relaxed',
  onnxruntime: '1.30.0',
  otherCpuShare: 0.03,
};

function suite(mode: SuiteResult['mode'], cases = baseCases()): SuiteResult {
  return {
    suite: 'kernels',
    mode,
    command: `sparsekit bench kernels${mode === 'quick' ? ' --quick' : ''}`,
    date: '2025-01-02T03:04:05.000Z',
    durationSeconds: 61,
    machine,
    options: { threads: [1], reps: 5 },
    cases,
  };
}

function baseCases() {
  return [
    result({}, 10),
    result({ impl: 'onnxruntime', layout: 'xw' }, 6),
    result({ format: 'csr', pattern: 'unstructured', sparsity: 0.5 }, 15),
    result({ format: 'csr', pattern: 'unstructured', sparsity: 0.9 }, 1.5),
    {
      ...result({ format: 'nm', pattern: 'nm', nm: [2, 4], sparsity: 0.5 }, 1),
      status: 'no fast path' as const,
      medianMs: undefined,
    },
  ];
}

test('markdown tables pad columns and right-align numbers', () => {
  assert.equal(
    markdownTable(['a', 'num'], [['xyz', '1.5']], [false, true]),
    ['| a   | num |', '|-----|----:|', '| xyz | 1.5 |'].join('\n'),
  );
  assert.equal(ms(0.12345), '0.123');
  assert.equal(ms(12.345), '12.35');
  assert.equal(ms(undefined), '—');
});

test('the break-even table has a vs-dense and a vs-ORT column per format', () => {
  const text = breakEvenMarkdown(breakEven(attachRatios(baseCases())));
  const [header, , row] = text.split('\n');
  assert.match(header!, /csr vs dense \| csr vs ORT/);
  assert.doesNotMatch(header!, /nm2:4/, 'a format that was not timed has no column');
  // csr: 0.5 loses to both; 0.9 wins both (10/1.5, 6/1.5)
  assert.match(row!, /4096×4096 \|\s+1 \|\s+1 \|\s+90% \|\s+90% \|/);
});

test('BENCHMARKS.md: full run before quick, commands before tables, targets with PASS/MISS', () => {
  const md = benchmarksMarkdown([suite('quick'), suite('full'), suite('partial')]);
  const full = md.indexOf('## kernels: full run');
  const quick = md.indexOf('## kernels: quick run');
  assert.ok(full > 0 && quick > full, 'full section first');
  assert.ok(!md.includes('partial run'), 'partial runs are left out');
  assert.match(md, /Command: `sparsekit bench kernels` — 2025-01-02 03:04 UTC, 61 s/);
  assert.match(md, /Machine: Test CPU, 2 cores, last-level cache 105 MiB/);
  assert.match(md, /Other processes used 3% of the CPU during the run/);
  const row = (...cells: string[]) =>
    new RegExp(`\\| ${cells.map((c) => c.replace(/[()*]/g, '\\$&')).join('\\s*\\| ')}\\s*\\|`);
  assert.match(
    md,
    row('CSR SpMV, 90% vs onnxruntime dense', '4096×4096, 1 thread', '≥ 4.00×', '4.00×', 'PASS'),
  );
  assert.match(md, row('dense GEMV vs onnxruntime', '4096×4096, 1 thread', '≥ 0.80×', '0.60×', 'MISS'));
  const table = md.indexOf('### 4096×4096, batch 1 (GEMV / SpMV)', full);
  const cmd = md.indexOf('`npx sparsekit bench kernels --threads 1 --only "4096x4096 N=1"`', table);
  assert.ok(table > 0 && cmd > table, 'the reproducing command follows the table title');
  assert.match(md, /sparsekit nm2:4\s+\|\s+1 \| no fast path/);
  assert.match(md, /onnxruntime dense \(x·Wᵀ\) \*/);
  assert.match(md, /--quick --threads 1 --only "4096x4096 N=1"/);
});

test('BENCHMARKS.md says so when there are no results', () => {
  assert.match(benchmarksMarkdown([]), /No results yet: run `npm run bench`/);
});

test('a run with two baseline passes shows how far they drifted', () => {
  const cases = [
    ...baseCases(),
    result({ pass: 2 }, 20),
    result({ impl: 'onnxruntime', layout: 'xw', pass: 2 }, 6),
  ];
  const md = benchmarksMarkdown([suite('full', cases)]);
  assert.match(md, /### Baseline drift/);
  assert.match(md, /differ by up to 2\.00× in this run/);
  assert.match(md, /4096x4096 N=1 t1\s+\| sparsekit dense\s+\|\s+10\.00 \|\s+20\.00 \|\s+0\.50 \|/);
  assert.match(md, /sparsekit dense, pass 2/);
});

test('a column-sparse case that timed its read pattern states what free arithmetic would reach', () => {
  // dense GEMV 2 ms; the column-sparse GEMV reads half of 64 MiB in 1.6 ms (1.25× dense); its pattern alone streams
  // the same bytes at twice the kernel's rate, so with free arithmetic it would be 2.5× dense
  const kernelRate = (4096 * 2048 * 4) / 1.6e-3;
  const col = {
    ...result({ op: 'colsparse_gemv', pattern: 'inputs', sparsity: 0.5 }, 1.6),
    columnStream: { activeBytesPerSecond: 2 * kernelRate, allBytesPerSecond: 30e9 },
  };
  const md = benchmarksMarkdown([suite('full', [result({}, 2), col])]);
  assert.match(md, /Column-sparse GEMV: its read pattern alone/);
  assert.match(
    md,
    /- 4096×4096, 1 thread: the active columns stream at [\d.]+ GB\/s in the kernel's order \(all columns in that order: 30(\.0)? GB\/s\); the kernel reads them at [\d.]+ GB\/s and measured 1\.25× the dense GEMV, so with free arithmetic it would reach 2\.50×\./,
  );
  assert.doesNotMatch(
    benchmarksMarkdown([suite('full')]),
    /its read pattern alone/,
    'no line without the probe',
  );
});
