/** Dense matmul on the WebAssembly kernels: GEMV for one column, register-blocked GEMM otherwise. */

import { dims2, Tensor } from '../../tensor/tensor.js';
import { register } from '../dispatch.js';
import { gemvPanelCopy } from '../panels.js';
import { gemmRef, gemvRef } from '../reference/dense.js';
import { kernelOffset, resident } from '../resident.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import { registerGemvInto, registerSharedGemv } from './matmul.js';

/** Below this many multiply-adds a kernel stays on one thread (a wake-up costs more than it saves). */
export const MIN_PARALLEL_WORK = 1 << 16;

/** Offset of a dense weight kept resident in kernel memory (its own data when that is a kernel array). */
export function residentDense(w: Tensor): number {
  const rt = runtime();
  return resident(rt, w, 'dense', () => {
    const inPlace = kernelOffset(rt, w.data);
    if (inPlace !== undefined) return { ptrs: [], value: inPlace };
    const ptr = rt.upload(w.data);
    return { ptrs: [ptr], value: ptr };
  });
}

/** A dense weight's GEMV copy: row-major (panel = 0, possibly in place) or panel-major with panels of `panel` columns. */
export interface GemvWeight {
  ptr: number;
  panel: number;
}

/**
 * The copy of `w` [M,K] the GEMV reads. Rows longer than one panel (gemvPanelWidth) get a panel-major copy
 * (src/backend/panels.ts), except a kernel array, which is read in place row-major (a second copy would double
 * the weight's memory).
 */
export function gemvWeight(w: Tensor, M: number, K: number): GemvWeight {
  const rt = runtime();
  return resident(rt, w, 'gemv', () => {
    const copy = gemvPanelCopy(rt, w.data, M, K, 16);
    if (copy) return { ptrs: [copy.ptr], value: copy };
    // row-major: the resident copy itself (its entry owns the memory)
    return { ptrs: [], value: { ptr: residentDense(w), panel: 0 } };
  });
}

/** y = W·x for a GEMV weight (gemvWeight) on x at `x`, y at `y`, rows split over the threads. */
export function runGemv(g: GemvWeight, x: number, y: number, M: number, K: number): void {
  const rt = runtime();
  const [kernel, args] = gemvCall(g, x, y, M, K);
  rt.parallel(kernel, args, rt.rowRanges(M, 4, M * K, MIN_PARALLEL_WORK));
}

/** The GEMV kernel and its arguments (before the row range) for a GEMV weight. */
function gemvCall(g: GemvWeight, x: number, y: number, M: number, K: number): [string, number[]] {
  return g.panel === 0
    ? ['gemv_f32', [g.ptr, x, y, M, K]]
    : ['gemv_f32_panels', [g.ptr, x, y, M, K, g.panel]];
}

/** Columns of a right-hand side: 1 for a vector [K], N for [K,N]. */
export function rhsCols(b: Tensor): number {
  return b.rank === 1 ? 1 : b.shape[1]!;
}

/** Output tensor for W[M,·] · b: rank 1 [M] when b is a vector, else [M,N]. */
export function outputFor(M: number, b: Tensor): Tensor {
  return b.rank === 1 ? Tensor.zeros([M]) : Tensor.zeros([M, b.shape[1]!]);
}

/** C = W · B with W dense [M,K] and B [K] or [K,N], on the WebAssembly kernels. */
export function denseMatmulWasm(w: Tensor, b: Tensor): Tensor {
  const [M, K] = dims2(w, 'matmul: w');
  const N = rhsCols(b);
  const rt = runtime();
  if (N === 1) {
    const g = gemvWeight(w, M, K);
    return gemvOut(M, b, (bp, cp) => runGemv(g, bp, cp, M, K));
  }
  const wp = residentDense(w);
  const bp = rt.upload(b.data);
  const cp = rt.alloc(M * N * 4);
  try {
    runGemm(wp, bp, cp, M, K, N);
    return new Tensor(rt.f32(cp, M * N).slice(), [M, N]);
  } finally {
    rt.free(bp);
    rt.free(cp);
  }
}

/**
 * A GEMV's call frame in one heap block: x [K] (b's data) at the start, then `extra` bytes, then y [M];
 * `run(x, y, extra)` fills y, which comes back as a new tensor, [M] or [M, 1] like b (the frame is the runtime's
 * scratch block: beginFrame).
 */
export function gemvOut(
  M: number,
  b: Tensor,
  run: (x: number, y: number, extra: number) => void,
  extraBytes = 0,
): Tensor {
  const rt = runtime();
  const xBytes = Math.ceil((b.size * 4) / 64) * 64;
  const extra = Math.ceil(extraBytes / 64) * 64;
  const block = rt.beginFrame(xBytes + extra + M * 4);
  try {
    rt.f32(block, b.size).set(b.data);
    const y = block + xBytes + extra;
    run(block, y, block + xBytes);
    return new Tensor(rt.f32(y, M).slice(), b.rank === 1 ? [M] : [M, 1]);
  } finally {
    rt.endFrame(block);
  }
}

/**
 * Several GEMVs' call frame in one heap block: x [K] (b's data), then `extra` bytes, then y_i [M_i] for each
 * output; `run(x, ys, extra)` fills every y_i, which come back as new tensors, [M_i] or [M_i, 1] like b (their
 * data are views into one new array).
 */
export function gemvOutMany(
  Ms: readonly number[],
  b: Tensor,
  run: (x: number, ys: number[], extra: number) => void,
  extraBytes = 0,
): Tensor[] {
  const rt = runtime();
  const pad = (bytes: number) => Math.ceil(bytes / 64) * 64;
  const xBytes = pad(b.size * 4);
  const extra = pad(extraBytes);
  const ys: number[] = [];
  let end = xBytes + extra;
  for (const M of Ms) {
    ys.push(end);
    end += pad(M * 4);
  }
  const block = rt.beginFrame(end);
  try {
    rt.f32(block, b.size).set(b.data);
    for (let i = 0; i < ys.length; i++) ys[i]! += block;
    run(block, ys, block + xBytes);
    // one copy of the outputs' region; each tensor views its part (one JS allocation, not one per output)
    const first = ys[0]!;
    const out = rt.f32(first, (block + end - first) / 4).slice();
    return Ms.map((M, i) => {
      const at = (ys[i]! - first) / 4;
      return new Tensor(out.subarray(at, at + M), b.rank === 1 ? [M] : [M, 1]);
    });
  } finally {
    rt.endFrame(block);
  }
}

/** W_i · b for dense weights W_i [M_i, K] and one column b: b written once, one GEMV per weight (matmulShared). */
function denseGemvShared(ws: readonly Tensor[], b: Tensor): Tensor[] {
  const K = b.shape[0]!;
  const Ms = ws.map((w) => dims2(w, 'matmulShared: w')[0]);
  const gs = ws.map((w, i) => gemvWeight(w, Ms[i]!, K));
  return gemvOutMany(Ms, b, (x, ys) => {
    for (let i = 0; i < ws.length; i++) runGemv(gs[i]!, x, ys[i]!, Ms[i]!, K);
  });
}

/** y = W · x for a dense W, x and y at offsets of kernel arrays (matmulInto): read and written in place. */
function denseGemvInto(w: Tensor, xp: number, yp: number): void {
  const [M, K] = dims2(w, 'matmulInto: w');
  runGemv(gemvWeight(w, M, K), xp, yp, M, K);
}

/** denseGemvInto prepared for one (w, x, y) (see GemvPlanner). */
function denseGemvPlan(w: Tensor, xp: number, yp: number): () => void {
  const [M, K] = dims2(w, 'matmulInto: w');
  const rt = runtime();
  const [kernel, args] = gemvCall(gemvWeight(w, M, K), xp, yp, M, K);
  return rt.bind(kernel, args, rt.rowRanges(M, 4, M * K, MIN_PARALLEL_WORK));
}

/**
 * C[M,N] = A[M,K] · B[K,N] on kernel memory (byte offsets): packs B into 8-column strips (threads split
 * the strips), then runs the 4×8 micro-kernel with rows split in multiples of 4 (src/kernels/gemm.ts).
 * `kernel` names the GEMM for A's storage: `gemm_f32`, or `gemm_bf16_f32` / `gemm_f16_f32` (same arguments).
 */
export function runGemm(
  a: number,
  b: number,
  c: number,
  M: number,
  K: number,
  N: number,
  kernel: 'gemm_f32' | 'gemm_bf16_f32' | 'gemm_f16_f32' = 'gemm_f32',
): void {
  const rt = runtime();
  const packed = packB(rt, b, K, N);
  let scratch = -1;
  try {
    scratch = rt.alloc(Number(rt.kernels.gemm_scratch_bytes!(M)));
    rt.parallel(kernel, [a, packed, c, M, K, N, scratch], rt.rowRanges(M, 4, M * K * N, MIN_PARALLEL_WORK));
  } finally {
    rt.free(packed);
    if (scratch >= 0) rt.free(scratch);
  }
}

/**
 * B [K,N] at `b` packed into 8-column strips ([⌈N/8⌉][K][8] f32, zero columns past N; gemm_pack_b_f32, threads
 * split the strips) in a new heap block the caller frees: what the GEMM, the N:M SpMM and the CSR SpMM from
 * 128 columns (withSpmmB) read.
 */
export function packB(rt: WasmRuntime, b: number, K: number, N: number): number {
  const packed = rt.alloc(Number(rt.kernels.gemm_pack_b_bytes!(K, N)));
  const strips = Math.ceil(N / 8);
  rt.parallel('gemm_pack_b_f32', [b, packed, K, N], rt.rowRanges(strips, 1, K * N, MIN_PARALLEL_WORK));
  return packed;
}

/** The TypeScript twin of denseMatmulWasm. */
export function denseMatmulRef(w: Tensor, b: Tensor): Tensor {
  const [M, K] = dims2(w, 'matmul: w');
  const N = rhsCols(b);
  const out = outputFor(M, b);
  if (N === 1) gemvRef(w.data, b.data, out.data, M, K);
  else gemmRef(w.data, b.data, out.data, M, K, N);
  return out;
}

register('matmul', ['dense', 'dense'], 'fast', denseMatmulWasm);
register('matmul', ['dense', 'dense'], 'reference', denseMatmulRef);
registerSharedGemv(denseMatmulWasm, denseGemvShared);
registerGemvInto(denseMatmulWasm, denseGemvInto, denseGemvPlan);
