import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attachRatios,
  baselineDrift,
  breakEven,
  breakEvenText,
  evaluateTargets,
  lowestWinning,
} from './analysis.js';
import type { KernelCaseSpec } from './cases.js';
import { result } from './testing.js';

const csr = (sparsity: number, ms: number, more: Partial<KernelCaseSpec> = {}) =>
  result({ format: 'csr', pattern: 'unstructured', sparsity, ...more }, ms);

test('lowest winning sparsity ignores a lucky point below a loss', () => {
  const p = (s: number, ratio: number) => ({ sparsity: s, ratio });
  assert.equal(lowestWinning([p(0.5, 0.8), p(0.7, 1.2), p(0.9, 3)]), 0.7);
  assert.equal(lowestWinning([p(0.5, 1.1), p(0.6, 0.9), p(0.7, 1.2)]), 0.7);
  assert.equal(lowestWinning([p(0.9, 0.9), p(0.5, 0.5)]), null);
  assert.equal(lowestWinning([p(0.5, 2), p(0.9, 3)]), 0.5);
});

test('ratios compare with sparsekit dense and the faster onnxruntime layout of the same arena', () => {
  const cases = attachRatios([
    result({}, 10),
    result({ impl: 'onnxruntime', layout: 'xw' }, 8),
    result({ impl: 'onnxruntime', layout: 'wx' }, 9),
    csr(0.9, 2),
    csr(0.9, 4, { threads: 2 }), // no baselines at 2 threads
  ]);
  assert.equal(cases[3]!.vsDense, 5);
  assert.equal(cases[3]!.vsOrt, 4);
  assert.equal(cases[1]!.peerBaseline, true);
  assert.equal(cases[2]!.peerBaseline, undefined);
  assert.equal(cases[0]!.vsOrt, 0.8);
  assert.equal(cases[4]!.vsDense, undefined);
});

test('break-even rows per shape, batch and threads; "> max" when a format never wins', () => {
  const cases = attachRatios([
    result({}, 10),
    result({ impl: 'onnxruntime', layout: 'xw' }, 6),
    csr(0.5, 15),
    csr(0.7, 8),
    csr(0.9, 2),
    result({ format: 'nm', pattern: 'nm', nm: [2, 4], sparsity: 0.5 }, 9),
  ]);
  const [row, ...rest] = breakEven(cases);
  assert.equal(rest.length, 0);
  assert.equal(row!.N, 1);
  assert.equal(breakEvenText(row!.cells.csr, 'vsDense'), '70%');
  assert.equal(breakEvenText(row!.cells.csr, 'vsOrt'), '90%');
  assert.equal(breakEvenText(row!.cells['nm2:4'], 'vsDense'), '50%');
  assert.equal(breakEvenText(row!.cells['nm2:4'], 'vsOrt'), '> 50%');
  assert.equal(breakEvenText(row!.cells.bitmask, 'vsOrt'), '—');
});

test('targets: PASS and MISS from measured ratios, "not measured" when a case is missing', () => {
  const cases = attachRatios([
    result({ op: 'gemm', M: 1024, K: 1024, N: 1024 }, 40), // 53.7 GFLOP/s
    result({ op: 'gemm', M: 1024, K: 1024, N: 1024, threads: 2 }, 25), // 1.6× only
    result({}, 10),
    result({ impl: 'onnxruntime', layout: 'wx' }, 9),
    csr(0.5, 12),
    csr(0.6, 8),
    csr(0.9, 2),
    result({ format: 'bitmask', pattern: 'unstructured', sparsity: 0.5 }, 8.5),
  ]);
  const rows = evaluateTargets(cases);
  const find = (t: string) => rows.filter((r) => r.target.startsWith(t));
  assert.deepEqual(
    find('dense GEMM 1024³ on 1').map((r) => r.pass),
    [true],
  );
  assert.equal(find('dense GEMM 1024³ on 2')[0]!.pass, false);
  assert.equal(find('dense GEMV vs onnxruntime')[0]!.measured, '0.90×');
  assert.equal(find('CSR SpMV, 90%')[0]!.pass, true); // 9 / 2 = 4.5×
  assert.equal(find('CSR SpMM batch 8')[0]!.pass, null);
  const be = find('break-even vs onnxruntime at batch 1')[0]!;
  assert.equal(be.measured, '50% (bitmask)'); // bitmask wins from its only point, 50%
  assert.equal(be.pass, true);
  const half = find('50% unstructured')[0]!;
  assert.equal(half.measured, '1.06× (bitmask)');
  assert.equal(half.pass, true);
  assert.equal(find('column-sparse GEMV')[0]!.measured, 'not measured');
});

test('baselines timed in two passes are pooled over every call, and their drift is reported', () => {
  const pass = (spec: Parameters<typeof result>[0], ms: number[]) => ({
    ...result(spec, ms.slice().sort((a, b) => a - b)[ms.length >> 1]!),
    ms,
  });
  const cases = attachRatios([
    pass({}, [10, 10, 10]),
    pass({ pass: 2 }, [20, 20, 20]),
    pass({ impl: 'onnxruntime', layout: 'wx' }, [9, 9, 9]),
    pass({ impl: 'onnxruntime', layout: 'wx', pass: 2 }, [9, 9, 9]),
    csr(0.9, 3),
  ]);
  // pooled dense: median of [10,10,10,20,20,20] = 15
  assert.equal(cases[4]!.vsDense, 5);
  assert.equal(cases[4]!.vsOrt, 3);
  assert.equal(cases[0]!.vsOrt, 9 / 15, 'a baseline compares pooled with pooled');
  assert.equal(cases[1]!.vsOrt, 9 / 15);
  assert.ok(cases[2]!.peerBaseline && cases[3]!.peerBaseline);
  assert.deepEqual(
    baselineDrift(cases).map((d) => [d.who, d.pass1Ms, d.pass2Ms]),
    [
      ['sparsekit dense', 10, 20],
      ['onnxruntime wx', 9, 9],
    ],
  );
});
