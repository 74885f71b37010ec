import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn, rng } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { setBackendMode } from '../dispatch.js';
import { columnStreamRef } from '../reference/colsparse.js';
import { release } from '../resident.js';
import { relError, TOL } from '../tolerances.js';
import { runtime, useRuntime, type WasmVariant } from '../wasm.js';
import {
  activeInputs,
  columnSparseGemv,
  columnSparseGemvRef,
  columnSparseGemvWasm,
  columnStream,
} from './colsparse.js';
import { matmul } from './matmul.js';

const variants: WasmVariant[] = ['simd', 'relaxed'];

/** A random sorted subset of [0, K) holding each index with probability `p`. */
function randomSubset(K: number, p: number, seed: number): Uint32Array {
  const next = rng(seed);
  const out: number[] = [];
  for (let k = 0; k < K; k++) if (next() < p) out.push(k);
  return Uint32Array.from(out);
}

function all(K: number): Uint32Array {
  return Uint32Array.from({ length: K }, (_, k) => k);
}

for (const variant of variants) {
  for (const threads of [1, 2]) {
    test(`column-sparse GEMV matches its twin: empty, full and random 50% sets (${variant}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
      useRuntime({ variant, threads });
      for (const [M, K] of [
        [1, 1],
        [5, 17],
        [17, 5],
        [33, 257],
        [257, 33],
        [1031, 515],
      ] as const) {
        const w = randn([M, K], M * 7 + K);
        const x = randn([K], K);
        for (const [name, active] of [
          ['empty', new Uint32Array(0)],
          ['full', all(K)],
          ['50%', randomSubset(K, 0.5, M + K)],
        ] as const) {
          const err = relError(
            columnSparseGemvWasm(w, x, active).data,
            columnSparseGemvRef(w, x, active).data,
          );
          assert.ok(
            err <= TOL.colsparse,
            `${M}×${K}, ${name} set: error ${err} > TOL.colsparse ${TOL.colsparse}`,
          );
        }
      }
    });
  }
}

test('column-sparse GEMV: an empty set gives exact zeros; the active set of x gives the dense product', () => {
  useRuntime({ variant: 'simd', threads: 2 });
  const w = randn([300, 200], 3);
  assert.deepEqual(
    [...columnSparseGemv(w, randn([200], 4), new Uint32Array(0)).data],
    new Array(300).fill(0),
  );
  // zero out ~70% of x: skipping the zero inputs must not change the result beyond rounding
  const x = randn([200], 5);
  const next = rng(6);
  for (let k = 0; k < 200; k++) if (next() < 0.7) x.data[k] = 0;
  const active = activeInputs(x, 0);
  assert.ok(active.length > 20 && active.length < 100, `active set of ${active.length}`);
  const err = relError(columnSparseGemv(w, x, active).data, matmul(w, x).data);
  assert.ok(err <= TOL.colsparse, `error ${err} > TOL.colsparse ${TOL.colsparse}`);
});

test('column-sparse GEMV: exact result on a tiny fixture, also in reference mode', () => {
  useRuntime({ variant: 'relaxed', threads: 1 });
  // W [2,3] = [[1, 2, 3], [4, 5, 6]], x = [10, 100, 1000], S = {0, 2} → y = [1·10 + 3·1000, 4·10 + 6·1000]
  const w = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  const x = Tensor.from([10, 100, 1000]);
  const S = Uint32Array.from([0, 2]);
  assert.deepEqual([...columnSparseGemv(w, x, S).data], [3010, 6040]);
  setBackendMode('reference');
  try {
    assert.deepEqual([...columnSparseGemv(w, x, S).data], [3010, 6040]);
  } finally {
    setBackendMode('auto');
  }
});

test('column-sparse GEMV: release(w) after an in-place change makes the next call see the new weights', () => {
  useRuntime({ variant: 'simd', threads: 1 });
  const w = Tensor.from([1, 2, 3, 4], [2, 2]);
  const x = Tensor.from([1, 1]);
  const S = Uint32Array.from([1]);
  assert.deepEqual([...columnSparseGemv(w, x, S).data], [2, 4]);
  w.data[1] = 20;
  release(w);
  assert.deepEqual([...columnSparseGemv(w, x, S).data], [20, 4]);
});

test('column-sparse GEMV: bad arguments raise, naming the argument, before any kernel memory is touched', () => {
  const rt = useRuntime({ variant: 'simd', threads: 1 });
  const w = randn([8, 6], 1);
  const x = randn([6], 2);
  const used = rt.heap.used;
  const cases: Array<[Uint32Array | number[], Tensor, RegExp]> = [
    [
      Uint32Array.from([0, 3, 2]),
      x,
      /active must be sorted ascending, but active\[2\] = 2 follows active\[1\] = 3/,
    ],
    [Uint32Array.from([1, 4, 4]), x, /active holds 4 twice \(positions 1 and 2\)/],
    [Uint32Array.from([0, 6]), x, /active\[1\] = 6 is out of range: w has 6 columns/],
    [Uint32Array.from([0]), randn([5], 3), /x must be a vector \[6\] \(w has 6 columns\), got shape \[5\]/],
    [Uint32Array.from([0]), randn([6, 1], 3), /x must be a vector \[6\].*got shape \[6, 1\]/],
    [[0, 1], x, /active must be a Uint32Array/],
  ];
  for (const [active, xx, message] of cases) {
    assert.throws(() => columnSparseGemv(w, xx, active as Uint32Array), message);
  }
  assert.throws(() => columnSparseGemv(randn([8], 1), x, new Uint32Array(0)), /w must be a rank-2 Tensor/);
  assert.equal(rt.heap.used, used, 'a rejected call must not upload anything');
  assert.equal(runtime(), rt);
});

test('activeInputs: indices with |x| > threshold, ascending; NaN counts as active', () => {
  const x = Tensor.from([0, 0.5, -2, 0.125, Number.NaN, -0.25]);
  assert.deepEqual([...activeInputs(x, 0.25)], [1, 2, 4]);
  assert.deepEqual([...activeInputs(x)], [1, 2, 3, 4, 5]);
  assert.throws(() => activeInputs(x, -1), /threshold must be a finite number ≥ 0, got -1/);
  assert.throws(
    () => activeInputs(randn([2, 3], 1), 0),
    /x must be a vector Tensor \[K\], got shape \[2, 3\]/,
  );
});

for (const variant of variants) {
  for (const threads of [1, 2]) {
    test(`column stream probe: the active columns' sum as its twin reads it (${variant}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
      useRuntime({ variant, threads });
      for (const [M, K] of [
        [1, 1],
        [17, 5],
        [257, 33],
        [1031, 515],
      ] as const) {
        const w = randn([M, K], M + 3 * K);
        const wt = new Float32Array(M * K);
        for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) wt[k * M + m] = w.data[m * K + k]!;
        for (const active of [new Uint32Array(0), all(K), randomSubset(K, 0.5, K)]) {
          const want = columnStreamRef(wt, M, active, 0, M);
          const got = columnStream(w, active);
          assert.ok(
            Math.abs(got - want) <= 1e-4 * (1 + Math.abs(want)),
            `${M}x${K}, ${active.length} active: ${got} vs ${want}`,
          );
        }
      }
      assert.throws(
        () => columnStream(randn([4, 8], 1), Uint32Array.from([3, 9])),
        /columnStream: active\[1\] = 9 is out of range/,
      );
    });
  }
}
