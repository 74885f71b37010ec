import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csrFromDense } from '../../formats/csr.js';
import { randn, sparsify } from '../../tensor/random.js';
import { setBackendMode } from '../dispatch.js';
import { relError, TOL } from '../tolerances.js';
import { type SparsePattern, sddmm } from './sddmm.js';
import { onEveryRuntime } from './testing.js';

function patternOf(M: number, K: number, sparsity: number, seed: number): SparsePattern {
  const w = csrFromDense(sparsify(randn([M, K], seed), sparsity, seed + 1));
  return { rows: M, cols: K, rowPtr: w.rowPtr, colIdx: Uint32Array.from(w.colIdx) };
}

test('sddmm: the WebAssembly kernel matches its TypeScript twin on every runtime (odd T, long T, empty rows)', () => {
  const cases: Array<[number, number, number, number]> = [
    [5, 7, 3, 0.5],
    [17, 33, 1, 0.9],
    [64, 48, 37, 0.7],
    [200, 300, 64, 0.95],
    [40, 90, 301, 0.8], // T in blocks of 128 with a 45-float tail
  ];
  onEveryRuntime((where) => {
    for (const [M, K, T, s] of cases) {
      const p = patternOf(M, K, s, M + K);
      const a = randn([M, T], 3);
      const b = randn([K, T], 4);
      const got = sddmm(p, a, b);
      setBackendMode('reference');
      const want = sddmm(p, a, b);
      setBackendMode('auto');
      assert.equal(got.length, p.colIdx.length);
      const err = relError(got, want);
      assert.ok(err <= TOL.spmm, `${where} ${M}×${K} T=${T}: error ${err}`);
    }
  });
});

test('sddmm: equals the dense product dY·Xᵀ at the kept positions', () => {
  const p = patternOf(6, 5, 0.5, 9);
  const a = randn([6, 4], 1);
  const b = randn([5, 4], 2);
  const got = sddmm(p, a, b);
  for (let i = 0; i < 6; i++) {
    for (let q = p.rowPtr[i]!; q < p.rowPtr[i + 1]!; q++) {
      let s = 0;
      for (let t = 0; t < 4; t++) s += a.data[i * 4 + t]! * b.data[p.colIdx[q]! * 4 + t]!;
      assert.ok(Math.abs(got[q]! - s) < 1e-5);
    }
  }
});

test('sddmm: a wrong shape names the argument', () => {
  const p = patternOf(4, 3, 0.5, 1);
  assert.throws(() => sddmm(p, randn([4, 2]), randn([4, 2])), /b must be \[3, 2\]/);
  assert.throws(() => sddmm(p, randn([3, 2]), randn([3, 2])), /a must be \[4, T\]/);
});
