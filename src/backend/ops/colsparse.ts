/**
 * Column-sparse GEMV (activation sparsity): y = W[:, S] · x[S] for the set S of active inputs, reading
 * only the weight columns of active inputs. W is kept resident transposed ('colmajor', Wt [K,M]) so each
 * active input streams one contiguous column.
 */

import { dims2, Tensor } from '../../tensor/tensor.js';
import { transposeInto } from '../../tensor/transpose.js';
import { register, resolve } from '../dispatch.js';
import { colsparseGemvRef } from '../reference/colsparse.js';
import { resident } from '../resident.js';
import { runtime } from '../wasm.js';
import { MIN_PARALLEL_WORK } from './dense.js';

/**
 * Indices k of the inputs with |x[k]| > threshold, ascending: the `active` set for columnSparseGemv.
 * NaN inputs count as active, so a NaN reaches the output as it would in the dense product.
 * @example columnSparseGemv(w, x, activeInputs(x, 1e-3)) // ≈ matmul(w, x), skipping near-zero inputs
 */
export function activeInputs(x: Tensor, threshold = 0): Uint32Array {
  if (!(x instanceof Tensor) || x.rank !== 1) {
    throw new TypeError(`activeInputs: x must be a vector Tensor [K], got ${describe(x)}`);
  }
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0) {
    throw new RangeError(`activeInputs: threshold must be a finite number ≥ 0, got ${threshold}`);
  }
  const d = x.data;
  let count = 0;
  for (let k = 0; k < d.length; k++) if (!(Math.abs(d[k]!) <= threshold)) count++;
  const out = new Uint32Array(count);
  let j = 0;
  for (let k = 0; k < d.length; k++) if (!(Math.abs(d[k]!) <= threshold)) out[j++] = k;
  return out;
}

/**
 * y[M] = W[:, S] · x[S]: the GEMV over the active inputs S only (inputs outside S are treated as zero).
 * w: [M,K] dense; x: [K]; active: sorted, unique input indices < K (e.g. from activeInputs).
 * The first call on a weight keeps a transposed copy of it (M·K·4 bytes) resident in kernel memory;
 * call release(w) after changing w in place.
 * @example const y = columnSparseGemv(w, x, activeInputs(x, 0)) // equals matmul(w, x) up to rounding
 */
export function columnSparseGemv(w: Tensor, x: Tensor, active: Uint32Array): Tensor {
  checkColumnSparseArgs(w, x, active);
  const fn = resolve<(w: Tensor, x: Tensor, active: Uint32Array) => Tensor>('colsparse_gemv', [
    'dense',
    'dense',
  ]);
  return fn(w, x, active);
}

/** Throws a message naming the argument and the fix unless w [M,K], x [K], active fit together. */
export function checkColumnSparseArgs(w: Tensor, x: Tensor, active: Uint32Array): void {
  const at = 'columnSparseGemv';
  const K = checkWeightAndActive(at, w, active);
  if (!(x instanceof Tensor) || x.rank !== 1 || x.shape[0] !== K) {
    throw new RangeError(`${at}: x must be a vector [${K}] (w has ${K} columns), got ${describe(x)}`);
  }
}

/** Checks w [M,K] and the active set (as columnSparseGemv's arguments, errors prefixed `at`); returns K. */
function checkWeightAndActive(at: string, w: Tensor, active: Uint32Array): number {
  if (!(w instanceof Tensor) || w.rank !== 2) {
    throw new TypeError(`${at}: w must be a rank-2 Tensor [M,K], got ${describe(w)}`);
  }
  const K = w.shape[1]!;
  if (!(active instanceof Uint32Array)) {
    throw new TypeError(
      `${at}: active must be a Uint32Array of input indices (e.g. activeInputs(x, threshold)), got ${describe(active)}`,
    );
  }
  for (let j = 0; j < active.length; j++) {
    const k = active[j]!;
    if (k >= K) {
      throw new RangeError(
        `${at}: active[${j}] = ${k} is out of range: w has ${K} columns, so indices must be < ${K}`,
      );
    }
    if (j === 0) continue;
    const prev = active[j - 1]!;
    if (k === prev) {
      throw new RangeError(
        `${at}: active holds ${k} twice (positions ${j - 1} and ${j}); indices must be unique, remove the duplicates`,
      );
    }
    if (k < prev) {
      throw new RangeError(
        `${at}: active must be sorted ascending, but active[${j}] = ${k} follows active[${j - 1}] = ${prev}; sort it with active.sort()`,
      );
    }
  }
  return K;
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return `shape [${v.shape.join(', ')}]`;
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return v === null ? 'null' : typeof v;
}

/** Offset of W's transposed copy Wt [K,M] kept resident in kernel memory (tag 'colmajor'). */
export function residentColMajor(w: Tensor): number {
  const rt = runtime();
  return resident(rt, w, 'colmajor', () => {
    const [M, K] = dims2(w, 'columnSparseGemv: w');
    const ptr = rt.alloc(M * K * 4);
    transposeInto(w.data, M, K, rt.f32(ptr, M * K));
    return { ptrs: [ptr], value: ptr };
  });
}

/**
 * y[M] = Σ_j Wt[idx[j], :] · x[idx[j]] on kernel memory (byte offsets): outputs split over threads in
 * multiples of 4, each thread walking all nIdx active inputs for its slice.
 */
export function runColsparseGemv(
  wt: number,
  x: number,
  idx: number,
  nIdx: number,
  y: number,
  M: number,
): void {
  const rt = runtime();
  rt.parallel(
    'colsparse_gemv_f32',
    [wt, x, idx, nIdx, y, M],
    rt.rowRanges(M, 4, M * nIdx, MIN_PARALLEL_WORK),
  );
}

/** columnSparseGemv on the WebAssembly kernel (arguments already checked). */
export function columnSparseGemvWasm(w: Tensor, x: Tensor, active: Uint32Array): Tensor {
  const M = w.shape[0]!;
  const rt = runtime();
  const wt = residentColMajor(w);
  const xp = rt.upload(x.data);
  const ip = rt.upload(active);
  const yp = rt.alloc(M * 4);
  try {
    runColsparseGemv(wt, xp, ip, active.length, yp, M);
    const y = Tensor.zeros([M]);
    y.data.set(rt.f32(yp, M));
    return y;
  } finally {
    rt.free(xp);
    rt.free(ip);
    rt.free(yp);
  }
}

/**
 * What columnSparseGemv's read pattern alone costs: the active columns of w's resident transposed copy read in the
 * same order and split over the threads the same way, summed, with no multiply-adds and no output. The benchmark
 * times it beside the same call with every input active (the columns in order) to bound what skipping columns can
 * gain on this machine. Returns the sum (the tests check it against columnStreamRef).
 * @example const t0 = performance.now(); columnStream(w, active); const ms = performance.now() - t0
 */
export function columnStream(w: Tensor, active: Uint32Array): number {
  checkWeightAndActive('columnStream', w, active);
  const M = w.shape[0]!;
  const rt = runtime();
  const wt = residentColMajor(w);
  const ip = rt.upload(active);
  const out = rt.alloc(M * 4);
  try {
    const ranges = rt.rowRanges(M, 4, M * active.length, MIN_PARALLEL_WORK);
    rt.parallel('column_stream_f32', [wt, M, ip, active.length, out], ranges);
    return ranges.reduce((sum, [r0]) => sum + rt.f32(out + r0 * 4, 1)[0]!, 0);
  } finally {
    rt.free(ip);
    rt.free(out);
  }
}

/** The TypeScript twin of columnSparseGemvWasm (transposes W each call: a definition, not a fast path). */
export function columnSparseGemvRef(w: Tensor, x: Tensor, active: Uint32Array): Tensor {
  const M = w.shape[0]!;
  const y = Tensor.zeros([M]);
  colsparseGemvRef(w.transpose().data, x.data, active, active.length, y.data, M);
  return y;
}

register('colsparse_gemv', ['dense', 'dense'], 'fast', columnSparseGemvWasm);
register('colsparse_gemv', ['dense', 'dense'], 'reference', columnSparseGemvRef);
