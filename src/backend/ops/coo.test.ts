import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type COO, cooFromDense, cooMatmul } from '../../formats/coo.js';
import { FormatError } from '../../formats/errors.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { randn } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { setFallbackPolicy } from '../dispatch.js';
import { relError, TOL } from '../tolerances.js';
import { useRuntime, type WasmVariant } from '../wasm.js';
import { cooMatmulWasm } from './coo.js';
import { matmul } from './matmul.js';

const RUNTIMES: Array<[WasmVariant, number]> = [
  ['simd', 1],
  ['simd', 2],
  ['relaxed', 1],
  ['relaxed', 2],
];
const NS = [1, 3, 8, 17, 64];

function rhs(K: number, N: number, seed: number): Tensor {
  return N === 1 ? randn([K], seed) : randn([K, N], seed);
}

function assertTwin(w: COO, N: number, what: string): void {
  const b = rhs(w.cols, N, N + w.cols);
  const got = cooMatmulWasm(w, b);
  const want = cooMatmul(w, b);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const err = relError(got.data, want.data);
  const tol = N === 1 ? TOL.spmv : TOL.spmm;
  assert.ok(err <= tol, `${what} N=${N}: error ${err} > ${tol}`);
}

for (const [variant, threads] of RUNTIMES) {
  test(`coo: the CSR-converted fast path matches cooMatmul (${variant}, ${threads} thread(s))`, () => {
    useRuntime({ variant, threads });
    let seed = 1;
    for (const [M, K] of [
      [1, 1],
      [5, 17],
      [17, 5],
      [33, 33],
    ] as const) {
      for (const d of [0, 0.1, 0.5, 1]) {
        const w = cooFromDense(testMatrix(M, K, d, seed++));
        for (const N of NS) assertTwin(w, N, `${M}×${K} density ${d}`);
      }
    }
    const big = cooFromDense(withEmptyRows(testMatrix(300, 700, 0.3, seed++), 4));
    for (const N of NS) assertTwin(big, N, '300×700 density 0.3, every 4th row empty');
    const wide = cooFromDense(testMatrix(2, 70_000, 0.01, seed++)); // u32 indices after conversion
    for (const N of [1, 8]) assertTwin(wide, N, '2×70000 density 0.01');
  });
}

test('coo: matmul() dispatches to the fast path', () => {
  useRuntime({ variant: 'simd', threads: 1 });
  setFallbackPolicy('throw');
  try {
    const w = cooFromDense(testMatrix(10, 12, 0.4, 3));
    const x = randn([12, 3], 4);
    assert.deepEqual([...matmul(w, x).data], [...cooMatmulWasm(w, x).data]);
  } finally {
    setFallbackPolicy('warn');
  }
});

test('coo: unsorted entries raise FormatError before any kernel runs', () => {
  const rt = useRuntime({ variant: 'simd', threads: 1 });
  let calls = 0;
  const parallel = rt.parallel.bind(rt);
  rt.parallel = (...args) => {
    calls++;
    parallel(...args);
  };
  const good = cooFromDense(testMatrix(4, 6, 0.5, 5));
  const unsorted: COO = { ...good, rowIdx: good.rowIdx.slice().reverse() };
  assert.throws(() => cooMatmulWasm(unsorted, randn([6], 1)), FormatError);
  assert.equal(calls, 0, 'no kernel ran');
});
