/** The public matmul: C = W · B for a weight W in any format and a dense right-hand side B. */

import { type Tensor, Tensor as TensorClass } from '../../tensor/tensor.js';
import { dispatchGeneration, resolve } from '../dispatch.js';
import { kernelOffset, residentGeneration } from '../resident.js';
import { runtime, type WasmRuntime } from '../wasm.js';

/** Anything with a dense shape: a dense Tensor or a sparse format object ({ format, rows, cols, … }). */
export type MatmulWeight = Tensor | { readonly format: string; readonly rows: number; readonly cols: number };

/** The format name dispatch uses for a weight. */
export function weightFormat(w: MatmulWeight): string {
  return w instanceof TensorClass ? 'dense' : w.format;
}

function weightDims(w: MatmulWeight): [number, number] {
  if (w instanceof TensorClass) {
    if (w.rank !== 2)
      throw new RangeError(`matmul: w must be rank 2 [M,K], got shape [${w.shape.join(', ')}]`);
    return [w.shape[0]!, w.shape[1]!];
  }
  return [w.rows, w.cols];
}

/**
 * C = W · B. W is [M,K] dense or sparse; B is a vector [K] (→ [M]) or a block [K,N] (→ [M,N]).
 * Runs the fast kernel registered for W's format, or its reference under the fallback policy.
 * @example matmul(csrFromDense(w), x) // SpMV
 */
export function matmul(w: MatmulWeight, b: Tensor): Tensor {
  const [, K] = weightDims(w);
  if (!(b instanceof TensorClass)) throw new TypeError('matmul: b must be a Tensor');
  if (b.rank !== 1 && b.rank !== 2) {
    throw new RangeError(`matmul: b must be [K] or [K,N], got shape [${b.shape.join(', ')}]`);
  }
  if (b.shape[0] !== K) {
    throw new RangeError(
      `matmul: b has ${b.shape[0]} rows but w has ${K} columns (b must be [${K}] or [${K},N])`,
    );
  }
  const fn = resolve<(w: MatmulWeight, b: Tensor) => Tensor>('matmul', [weightFormat(w), 'dense']);
  // A [K,1] block (a decode step's feature-major activations) runs the format's matrix-vector kernel, not its
  // N-column one: the data are the same, and SpMV is up to 2× faster than SpMM with N = 1.
  if (b.rank === 2 && b.shape[1] === 1 && !(w instanceof TensorClass)) {
    const [M] = weightDims(w);
    return fn(w, b.reshape([K])).reshape([M, 1]);
  }
  return fn(w, b);
}

/** A GEMV into a given output (see registerGemvInto): x and y are byte offsets of kernel arrays in the runtime. */
// biome-ignore lint/suspicious/noExplicitAny: each format's weights have their own type
type GemvInto = (w: any, x: number, y: number) => void;
/**
 * The same GEMV prepared once for fixed (w, x, y): the function it returns runs the kernels with everything
 * looked up beforehand (undefined: this weight has no prepared form; matmulInto calls `into` each time).
 */
// biome-ignore lint/suspicious/noExplicitAny: each format's weights have their own type
export type GemvPlanner = (w: any, x: number, y: number) => (() => void) | undefined;
const gemvIntos = new Map<unknown, { into: GemvInto; plan: GemvPlanner | undefined }>();

/**
 * Register `into` as the in-place GEMV form of the fast matmul `single` (backend only): matmulInto runs it to
 * read x and write y where they are (kernel arrays), with no upload and no copy out. `plan`, when given,
 * prepares it for one (w, x, y) that a decode step multiplies again at every token.
 */
export function registerGemvInto(single: unknown, into: GemvInto, plan?: GemvPlanner): void {
  if (gemvIntos.has(single)) throw new Error('registerGemvInto: this matmul already has an in-place form');
  gemvIntos.set(single, { into, plan });
}

// Scratch of prepared GEMVs (packed or expanded x), one block per runtime and size: a step's products run one after
// the other, so the products of one size share one (heap blocks kept for the runtime's life, never one per product).
const planBuffers = new WeakMap<WasmRuntime, Map<number, number>>();

/** A scratch block of `bytes` (at least 64) for prepared GEMVs (see GemvPlanner), shared by every plan of that size. */
export function planBuffer(rt: WasmRuntime, bytes: number): number {
  let bySize = planBuffers.get(rt);
  if (!bySize) {
    bySize = new Map();
    planBuffers.set(rt, bySize);
  }
  let p = bySize.get(bytes);
  if (p === undefined) {
    p = rt.alloc(Math.max(64, bytes));
    bySize.set(bytes, p);
  }
  return p;
}

/** A prepared matmulInto and what it was prepared for. */
interface GemvPlan {
  x: Float32Array;
  y: Float32Array;
  rt: WasmRuntime;
  threads: number;
  dispatch: number;
  residents: number;
  run: () => void;
}

// The prepared products by weight: a decode step's 200-odd GEMVs each find theirs with one lookup, instead of
// dispatching, finding the resident copy and splitting rows again. About 2 µs a product on a SmolLM-sized step
// (its JavaScript touches memory the weights' stream has just evicted): 0.45 ms of an 11.6 ms bf16 step.
const plans = new WeakMap<object, GemvPlan>();

function planFor(w: object, x: Float32Array, y: Float32Array, rt: WasmRuntime): GemvPlan | undefined {
  const p = plans.get(w);
  return p !== undefined &&
    p.x === x &&
    p.y === y &&
    p.rt === rt &&
    p.threads === rt.threads &&
    p.dispatch === dispatchGeneration() &&
    p.residents === residentGeneration()
    ? p
    : undefined;
}

/**
 * y [M] ← W · x for W [M, K] in any format and x [K]: the same numbers as `matmul(w, x)`. When x and y are
 * kernel arrays (backend/resident.ts) and W's format has an in-place GEMV (dense f32, bf16, f16, CSR, BSR, N:M),
 * the kernel reads x and writes y where they are; otherwise this runs `matmul` and copies its result into y. A
 * decode step keeps its activations in kernel arrays this way, with no JS array per product. The second call
 * with the same (w, x, y) runs what the first prepared, until the thread count, a kernel registration, the
 * backend mode or a `release` changes.
 */
export function matmulInto(w: MatmulWeight, x: Float32Array, y: Float32Array): void {
  const rt = runtime();
  const prepared = planFor(w, x, y, rt);
  if (prepared !== undefined) {
    prepared.run();
    return;
  }
  const [M, K] = weightDims(w);
  if (!(x instanceof Float32Array) || x.length !== K) {
    throw new RangeError(`matmulInto: x must be a Float32Array of w's ${K} columns, got length ${x?.length}`);
  }
  if (!(y instanceof Float32Array) || y.length !== M) {
    throw new RangeError(`matmulInto: y must be a Float32Array of w's ${M} rows, got length ${y?.length}`);
  }
  const fn = resolve<(w: MatmulWeight, b: Tensor) => Tensor>('matmul', [weightFormat(w), 'dense']);
  const inPlace = gemvIntos.get(fn);
  if (inPlace) {
    const xp = kernelOffset(rt, x);
    const yp = kernelOffset(rt, y);
    if (xp !== undefined && yp !== undefined) {
      const dispatch = dispatchGeneration();
      const residents = residentGeneration();
      const run = inPlace.plan?.(w, xp, yp);
      if (run) {
        // stamped with the generations from before planning: planning may itself register or release
        plans.set(w, { x, y, rt, threads: rt.threads, dispatch, residents, run });
        run();
      } else inPlace.into(w, xp, yp);
      return;
    }
  }
  y.set(fn(w, new TensorClass(x, [K])).data);
}

/** A GEMV over several weights of one format sharing one right-hand side (see registerSharedGemv). */
// biome-ignore lint/suspicious/noExplicitAny: each format's weights have their own type
type SharedGemv = (ws: readonly any[], b: Tensor) => Tensor[];
const sharedGemvs = new Map<unknown, SharedGemv>();

/**
 * Register `shared` as the many-weights form of the fast matmul `single` (backend only): matmulShared runs it
 * when every weight resolves to `single` and the right-hand side is one column.
 */
export function registerSharedGemv(single: unknown, shared: SharedGemv): void {
  if (sharedGemvs.has(single)) throw new Error('registerSharedGemv: this matmul already has a shared form');
  sharedGemvs.set(single, shared);
}

/**
 * [W₀ · b, W₁ · b, …] for weights W_i [M_i, K] sharing one right-hand side b [K] or [K,N] (e.g. a decode step's
 * q, k and v projections). The same numbers as one `matmul` per weight; when b is one column and every weight
 * has the same format with a shared GEMV form (dense f32, bf16, f16), b is copied into kernel memory (and packed)
 * once and the GEMVs run back to back in one call frame, instead of one frame per weight.
 * @example const [q, k, v] = matmulShared([wq, wk, wv], xt) // xt [C, 1] → [Hq·d, 1], [Hkv·d, 1], [Hkv·d, 1]
 */
export function matmulShared(ws: readonly MatmulWeight[], b: Tensor): Tensor[] {
  if (!Array.isArray(ws) || ws.length === 0)
    throw new TypeError('matmulShared: ws must be a non-empty array of weights');
  if (!(b instanceof TensorClass)) throw new TypeError('matmulShared: b must be a Tensor');
  const format = weightFormat(ws[0]!);
  const oneColumn = b.rank === 1 || (b.rank === 2 && b.shape[1] === 1);
  if (ws.length === 1 || !oneColumn || ws.some((w) => weightFormat(w) !== format)) {
    return ws.map((w) => matmul(w, b));
  }
  for (const w of ws) {
    const [, K] = weightDims(w);
    if (b.shape[0] !== K) {
      throw new RangeError(
        `matmulShared: b has ${b.shape[0]} rows but a weight has ${K} columns (every weight must be [M_i, ${b.shape[0]}])`,
      );
    }
  }
  const shared = sharedGemvs.get(resolve('matmul', [format, 'dense']));
  return shared ? shared(ws, b) : ws.map((w) => matmul(w, b));
}
