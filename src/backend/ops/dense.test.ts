import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { setBackendMode } from '../dispatch.js';
import { relError, TOL } from '../tolerances.js';
import { useRuntime, type WasmVariant } from '../wasm.js';
import { denseMatmulRef, denseMatmulWasm } from './dense.js';
import { matmul } from './matmul.js';

const variants: WasmVariant[] = ['simd', 'relaxed'];

for (const variant of variants) {
  for (const threads of [1, 2]) {
    test(`dense GEMV matches its twin (${variant}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
      useRuntime({ variant, threads });
      for (const [M, K] of [
        [1, 1],
        [5, 17],
        [17, 5],
        [64, 257],
        [1031, 515],
      ] as const) {
        const w = randn([M, K], M * 7 + K);
        const x = randn([K], K);
        const err = relError(denseMatmulWasm(w, x).data, denseMatmulRef(w, x).data);
        assert.ok(err <= TOL.gemv, `${M}×${K}: error ${err} > TOL.gemv ${TOL.gemv}`);
      }
    });
  }
}

test('matmul: names the argument when shapes do not fit', () => {
  const w = randn([4, 3], 1);
  assert.throws(() => matmul(w, randn([5], 2)), /b has 5 rows but w has 3 columns/);
  assert.throws(() => matmul(randn([2, 2, 2], 1), randn([2], 1)), /w must be rank 2/);
});

test('matmul: reference mode gives the twin result exactly', () => {
  const w = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  const x = Tensor.from([1, 0, -1]);
  setBackendMode('reference');
  assert.deepEqual([...matmul(w, x).data], [-2, -2]);
  setBackendMode('auto');
  assert.deepEqual([...matmul(w, x).data], [-2, -2]);
});
