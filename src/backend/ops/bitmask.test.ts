import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Bitmask, bitmaskFromDense, bitmaskMatmul } from '../../formats/bitmask.js';
import { FormatError } from '../../formats/errors.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { randn } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { setFallbackPolicy } from '../dispatch.js';
import { relError, TOL } from '../tolerances.js';
import { useRuntime, type WasmVariant } from '../wasm.js';
import { bitmaskMatmulWasm } from './bitmask.js';
import { matmul } from './matmul.js';

const RUNTIMES: Array<[WasmVariant, number]> = [
  ['simd', 1],
  ['simd', 2],
  ['relaxed', 1],
  ['relaxed', 2],
];
/** Column counts that are not multiples of 8 (and of 16 and 64, the kernels' other steps), plus 64 and 72. */
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [5, 17],
  [17, 5],
  [33, 33],
  [3, 64],
  [3, 72],
  [2, 131],
];
const NS = [1, 3, 8, 17, 64];

function rhs(K: number, N: number, seed: number): Tensor {
  return N === 1 ? randn([K], seed) : randn([K, N], seed);
}

function assertTwin(w: Bitmask, N: number, what: string): void {
  const b = rhs(w.cols, N, N + 5 * w.cols);
  const got = bitmaskMatmulWasm(w, b);
  const want = bitmaskMatmul(w, b);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const tol = N === 1 ? TOL.spmv : TOL.spmm;
  const err = relError(got.data, want.data);
  assert.ok(err <= tol, `${what} N=${N}: error ${err} > ${tol}`);
}

for (const [variant, threads] of RUNTIMES) {
  const rt = `${variant}, ${threads} thread${threads > 1 ? 's' : ''}`;

  test(`bitmask: SpMV and SpMM match bitmaskMatmul, cols not a multiple of 8 (${rt})`, () => {
    useRuntime({ variant, threads });
    let seed = 1;
    for (const [M, K] of SHAPES) {
      for (const d of [0, 0.1, 0.5, 1]) {
        const w = bitmaskFromDense(testMatrix(M, K, d, seed++));
        for (const N of NS) assertTwin(w, N, `${M}×${K} density ${d}`);
      }
    }
    const big = bitmaskFromDense(withEmptyRows(testMatrix(300, 701, 0.5, seed++), 4));
    for (const N of NS) assertTwin(big, N, '300×701 density 0.5, every 4th row empty');
  });
}

test('bitmask: matmul() dispatches to the WebAssembly kernel', () => {
  useRuntime({ variant: 'relaxed', threads: 1 });
  setFallbackPolicy('throw');
  try {
    const w = bitmaskFromDense(testMatrix(9, 30, 0.5, 3));
    const x = randn([30], 4);
    assert.deepEqual([...matmul(w, x).data], [...bitmaskMatmulWasm(w, x).data]);
  } finally {
    setFallbackPolicy('warn');
  }
});

test('bitmask: a mask that disagrees with rowPtr raises FormatError before any kernel runs', () => {
  const rt = useRuntime({ variant: 'simd', threads: 1 });
  let calls = 0;
  const parallel = rt.parallel.bind(rt);
  rt.parallel = (...args) => {
    calls++;
    parallel(...args);
  };
  const good = bitmaskFromDense(testMatrix(4, 12, 0.5, 5));
  const extraBit = good.mask.slice();
  extraBit[0] = extraBit[0]! ^ 1; // one more or one fewer stored value in row 0 than rowPtr says
  assert.throws(() => bitmaskMatmulWasm({ ...good, mask: extraBit }, randn([12], 1)), FormatError);
  const padding = good.mask.slice();
  padding[1] = padding[1]! | 0x80; // bit 7 of row 0's second byte is column 15 ≥ 12
  assert.throws(() => bitmaskMatmulWasm({ ...good, mask: padding }, randn([12], 1)), FormatError);
  assert.equal(calls, 0, 'no kernel ran');
});
