import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormatError } from '../../formats/errors.js';
import { type NM, nmFromDense, nmMatmul, nmPruneMagnitude } from '../../formats/nm.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { randn } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { setFallbackPolicy } from '../dispatch.js';
import { relError, TOL } from '../tolerances.js';
import { useRuntime, type WasmVariant } from '../wasm.js';
import { matmul } from './matmul.js';
import { nmMatmulWasm } from './nm.js';

const RUNTIMES: Array<[WasmVariant, number]> = [
  ['simd', 1],
  ['simd', 2],
  ['relaxed', 1],
  ['relaxed', 2],
];
/** 2:4 (own kernels); the generic kernel's n = 1, 2 and 4 paths (1:4, 2:8, 4:8) and its any-n path (3:16). */
const PATTERNS: Array<[number, number]> = [
  [2, 4],
  [4, 8],
  [1, 4],
  [2, 8],
  [3, 16],
];
/** Column counts with a partial last group for every m above (and one exact multiple). */
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [5, 17],
  [17, 5],
  [33, 33],
  [4, 32],
];
const NS = [1, 3, 8, 17, 64];

function rhs(K: number, N: number, seed: number): Tensor {
  return N === 1 ? randn([K], seed) : randn([K, N], seed);
}

/** An n:m weight from a [M,K] matrix of the given density (pruned to n:m, so the density is at most n/m). */
function nmWeight(M: number, K: number, d: number, n: number, m: number, seed: number): NM {
  return nmFromDense(nmPruneMagnitude(testMatrix(M, K, d, seed), n, m), n, m);
}

function assertTwin(w: NM, N: number, what: string): void {
  const b = rhs(w.cols, N, N + 3 * w.cols);
  const got = nmMatmulWasm(w, b);
  const want = nmMatmul(w, b);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const tol = N === 1 ? TOL.spmv : TOL.spmm;
  const err = relError(got.data, want.data);
  assert.ok(err <= tol, `${what} N=${N}: error ${err} > ${tol}`);
}

for (const [variant, threads] of RUNTIMES) {
  const rt = `${variant}, ${threads} thread${threads > 1 ? 's' : ''}`;

  test(`nm: SpMV and SpMM match nmMatmul for 2:4, 4:8, 1:4, 2:8, 3:16 with partial last groups (${rt})`, () => {
    useRuntime({ variant, threads });
    let seed = 1;
    for (const [n, m] of PATTERNS) {
      for (const [M, K] of SHAPES) {
        for (const d of [0, 0.1, 0.5, 1]) {
          const w = nmWeight(M, K, d, n, m, seed++);
          for (const N of NS) assertTwin(w, N, `${n}:${m} ${M}×${K} density ${d}`);
        }
      }
      const big = nmFromDense(
        nmPruneMagnitude(withEmptyRows(testMatrix(300, 702, 1, seed++), 5), n, m),
        n,
        m,
      );
      for (const N of [1, 8, 17]) assertTwin(big, N, `${n}:${m} 300×702, every 5th row empty`);
    }
  });
}

test('nm: matmul() dispatches to the WebAssembly kernels', () => {
  useRuntime({ variant: 'relaxed', threads: 1 });
  setFallbackPolicy('throw');
  try {
    for (const [n, m] of [
      [2, 4],
      [4, 8],
    ] as const) {
      const w = nmWeight(8, 24, 1, n, m, 3);
      const x = randn([24], 4);
      assert.deepEqual([...matmul(w, x).data], [...nmMatmulWasm(w, x).data]);
    }
  } finally {
    setFallbackPolicy('warn');
  }
});

test('nm: meta that breaks the pattern raises FormatError before any kernel runs', () => {
  const rt = useRuntime({ variant: 'simd', threads: 1 });
  let calls = 0;
  const parallel = rt.parallel.bind(rt);
  rt.parallel = (...args) => {
    calls++;
    parallel(...args);
  };
  const good = nmWeight(4, 8, 1, 2, 4, 5);
  const swapped = good.meta.slice();
  swapped[0] = 1 | (0 << 2); // positions 1 then 0: not increasing
  assert.throws(() => nmMatmulWasm({ ...good, meta: swapped }, randn([8], 1)), FormatError);
  assert.throws(() => nmMatmulWasm({ ...good, meta: good.meta.subarray(1) }, randn([8], 1)), FormatError);
  assert.equal(calls, 0, 'no kernel ran');
});
