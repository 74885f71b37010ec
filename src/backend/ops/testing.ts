/**
 * Shared pieces of the ops tests (not part of the public API): the runtimes every kernel is checked on,
 * the twin comparison against a reference, the "dispatches to WebAssembly" check and a kernel-run counter.
 */

import assert from 'node:assert/strict';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { setFallbackPolicy } from '../dispatch.js';
import { kernelArray } from '../resident.js';
import { relError, TOL } from '../tolerances.js';
import { runtime, useRuntime, type WasmVariant } from '../wasm.js';
import { type MatmulWeight, matmul, matmulInto } from './matmul.js';

/** Every (variant, threads) pair a kernel's parity tests run on. */
export const RUNTIMES: ReadonlyArray<readonly [WasmVariant, number]> = [
  ['simd', 1],
  ['simd', 2],
  ['relaxed', 1],
  ['relaxed', 2],
];

/** Right-hand-side column counts the SpMV/SpMM parity tests use. */
export const NS = [1, 3, 8, 17, 64];

/** Call `body` once per runtime with a label like "simd, 2 threads" and a function that selects it. */
export function forEachRuntime(body: (label: string, use: () => void) => void): void {
  for (const [variant, threads] of RUNTIMES) {
    body(`${variant}, ${threads} thread${threads > 1 ? 's' : ''}`, () => useRuntime({ variant, threads }));
  }
}

/** Select each runtime in turn and call `fn` with its label (inside one test). */
export function onEveryRuntime(fn: (where: string) => void): void {
  forEachRuntime((label, use) => {
    use();
    fn(label);
  });
}

/** Right-hand side for N columns: a vector [K] when N = 1, else [K,N]. */
export function rhs(K: number, N: number, seed: number): Tensor {
  return N === 1 ? randn([K], seed) : randn([K, N], seed);
}

type MatmulFn<W> = (w: W, b: Tensor) => Tensor;

/**
 * The fast kernel and its reference agree on W·B for an N-column right-hand side (seeded by `seed`), within
 * `tol.vector` (N = 1; default TOL.spmv) or `tol.block` (default TOL.spmm).
 */
export function assertTwin<W extends { readonly cols: number }>(
  fast: MatmulFn<W>,
  reference: MatmulFn<W>,
  w: W,
  N: number,
  what: string,
  seed: number,
  tols: { vector: number; block: number } = { vector: TOL.spmv, block: TOL.spmm },
): void {
  const b = rhs(w.cols, N, seed);
  const got = fast(w, b);
  const want = reference(w, b);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const tol = N === 1 ? tols.vector : tols.block;
  const err = relError(got.data, want.data);
  assert.ok(err <= tol, `${what} N=${N}: error ${err} > ${tol}`);
}

/** The public `matmul` under the `throw` fallback policy returns exactly what the WebAssembly op does. */
export function assertDispatchesToWasm<W>(
  variant: WasmVariant,
  cases: ReadonlyArray<readonly [W, Tensor]>,
  matmul: (w: W, b: Tensor) => Tensor,
  wasm: MatmulFn<W>,
): void {
  useRuntime({ variant, threads: 1 });
  setFallbackPolicy('throw');
  try {
    for (const [w, b] of cases) assert.deepEqual([...matmul(w, b).data], [...wasm(w, b).data]);
  } finally {
    setFallbackPolicy('warn');
  }
}

/** Select the simd runtime on 1 thread and count its kernel launches from now on. */
export function countKernelRuns(): { readonly calls: number } {
  const rt = useRuntime({ variant: 'simd', threads: 1 });
  const counter = { calls: 0 };
  const parallel = rt.parallel.bind(rt);
  rt.parallel = (...args) => {
    counter.calls++;
    parallel(...args);
  };
  return counter;
}

/** N:M patterns the kernel tests cover: 2:4 (own kernels); the generic kernel's n = 1, 2 and 4 paths (1:4, 2:8,
 * 4:8) and its any-n path (3:16). */
export const NM_PATTERNS: ReadonlyArray<readonly [number, number]> = [
  [2, 4],
  [4, 8],
  [1, 4],
  [2, 8],
  [3, 16],
];

/** [rows, cols] for the N:M kernel tests: a partial last group for every m above (and one exact multiple). */
export const NM_SHAPES: ReadonlyArray<readonly [number, number]> = [
  [1, 1],
  [5, 17],
  [17, 5],
  [33, 33],
  [4, 32],
];

/**
 * matmulInto(w, x, y) with x and y kernel arrays (the in-place GEMV a decode step runs) gives matmul(w, x)'s
 * numbers within TOL.spmv; y starts as NaN so an unwritten row shows.
 */
export function assertGemvInto(w: MatmulWeight, seed: number, what: string): void {
  const rt = runtime();
  const [M, K] = w instanceof Tensor ? [w.shape[0]!, w.shape[1]!] : [w.rows, w.cols];
  const x = kernelArray(rt, Float32Array, K);
  x.set(randn([K], seed).data);
  const y = kernelArray(rt, Float32Array, M).fill(Number.NaN);
  matmulInto(w, x, y);
  const want = matmul(w, new Tensor(x.slice(), [K])).data;
  assert.ok(relError(y, want) <= TOL.spmv, `${what}: matmulInto vs matmul ${relError(y, want)}`);
}
