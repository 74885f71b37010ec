/**
 * Half-precision matmul on the WebAssembly kernels (src/kernels/half.ts): C = W · B with W [M,K] stored
 * as bf16 or f16 bits, B f32 [K] (GEMV) or [K,N] (GEMM), f32 accumulation. The weight stays resident in
 * kernel memory at 2 bytes per element, so a decode step streams half the bytes of dense f32.
 */

import { FormatError } from '../../formats/errors.js';
import { type HalfFormat, type HalfMatrix, halfValidate } from '../../formats/half.js';
import { Tensor } from '../../tensor/tensor.js';
import { register } from '../dispatch.js';
import { gemvPanelCopy } from '../panels.js';
import { halfGemmRef, halfGemvRef } from '../reference/half.js';
import { kernelOffset, resident } from '../resident.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import { sameShape } from './csr.js';
import { gemvOut, gemvOutMany, MIN_PARALLEL_WORK, outputFor, rhsCols, runGemm } from './dense.js';
import { planBuffer, registerGemvInto, registerSharedGemv } from './matmul.js';

/** A half-precision weight packed in kernel memory. */
export interface ResidentHalf {
  rows: number;
  cols: number;
  format: HalfFormat;
  /** Byte offset of the bits (u16, row-major). */
  data: number;
  /** f16 only: whether any element is Inf or NaN (the GEMV then runs its exact-specials loop). */
  specials: boolean;
}

/** Whether f16 bits hold an Inf or NaN (exponent all ones). */
export function hasF16Specials(bits: Uint16Array): boolean {
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0x7c00) === 0x7c00) return true;
  return false;
}

/** What the kernels need of `w` once its bits are at `ptr` in kernel memory (f16: whether it holds Inf / NaN). */
function residentValue(w: HalfMatrix, ptr: number): ResidentHalf {
  const specials = w.format === 'f16' && hasF16Specials(w.data);
  return { rows: w.rows, cols: w.cols, format: w.format, data: ptr, specials };
}

/**
 * Validate `w` (once) and upload it, or return the copy already resident in `rt`. Data that is a kernel array
 * is used in place (no copy). f16 only: `specials` is found when this is built, so after writing Inf or NaN
 * into a weight, `release(w)` it.
 */
export function residentHalf(rt: WasmRuntime, w: HalfMatrix): ResidentHalf {
  const r = resident(rt, w, w.format, () => {
    halfValidate(w);
    const inPlace = kernelOffset(rt, w.data);
    const ptr = inPlace ?? rt.upload(w.data);
    return { ptrs: inPlace === undefined ? [ptr] : [], value: residentValue(w, ptr) };
  });
  return sameShape(r, w);
}

function checkHalfCall(op: string, w: HalfMatrix, b: Tensor): void {
  if (w?.format !== 'bf16' && w?.format !== 'f16') {
    throw new FormatError(
      'bf16',
      'format',
      `${op}: w.format is ${JSON.stringify(w?.format)} but must be "bf16" or "f16"`,
    );
  }
  if (!(b instanceof Tensor) || (b.rank !== 1 && b.rank !== 2)) {
    throw new RangeError(
      `${op}: b must be a Tensor [K] or [K,N], got ${b instanceof Tensor ? `shape [${b.shape.join(', ')}]` : typeof b}`,
    );
  }
  if (b.shape[0] !== w.cols) {
    throw new RangeError(`${op}: b has ${b.shape[0]} rows but w has ${w.cols} columns`);
  }
}

/**
 * W[M,K] · B with W in bf16 or f16 and B f32 [K] (→ [M]) or [K,N] (→ [M,N]), on the WebAssembly kernels.
 * The weight is validated and uploaded on first use and stays resident (`release(w)` after changing it).
 * @example halfMatmulWasm(halfFromDense(w, 'bf16'), x) // GEMV reading 2 bytes per weight
 */
export function halfMatmulWasm(w: HalfMatrix, b: Tensor): Tensor {
  checkHalfCall('halfMatmulWasm', w, b);
  const rt = runtime();
  const [M, K] = [w.rows, w.cols];
  const N = rhsCols(b);
  if (N === 1) {
    const r = halfGemvWeight(rt, w);
    return gemvOut(
      M,
      b,
      (bp, cp, xp) => {
        rt.kernels.half_pack_x!(bp, xp, K);
        runHalfGemv(rt, r, xp, cp);
      },
      K * 4,
    );
  }
  const r = residentHalf(rt, w);
  const bp = rt.upload(b.data);
  const cp = rt.alloc(M * N * 4);
  try {
    runGemm(r.data, bp, cp, M, K, N, r.format === 'bf16' ? 'gemm_bf16_f32' : 'gemm_f16_f32');
    return new Tensor(rt.f32(cp, M * N).slice(), [M, N]);
  } finally {
    rt.free(bp);
    rt.free(cp);
  }
}

/** A half weight's GEMV copy: the resident copy (panel = 0) or a panel-major one with panels of `panel` columns. */
interface HalfGemvWeight extends ResidentHalf {
  panel: number;
}

/**
 * The copy of `w` the GEMV reads: rows longer than one panel (src/backend/panels.ts; panels start at multiples
 * of 32 columns, the kernel's block) get a panel-major copy, except a kernel array, read in place row-major.
 */
function halfGemvWeight(rt: WasmRuntime, w: HalfMatrix): HalfGemvWeight {
  const r = resident(rt, w, `${w.format}-gemv`, () => {
    halfValidate(w);
    const copy = gemvPanelCopy(rt, w.data, w.rows, w.cols, 32);
    if (copy) return { ptrs: [copy.ptr], value: { ...residentValue(w, copy.ptr), panel: copy.panel } };
    // row-major: the resident copy itself (its entry owns the memory)
    return { ptrs: [], value: { ...residentHalf(rt, w), panel: 0 } };
  });
  return sameShape(r, w);
}

/** The GEMV kernel and its arguments (before the row range) for half weight `r` on packed x at `xp`, y at `yp`. */
function halfGemvCall(r: HalfGemvWeight, xp: number, yp: number): [string, number[]] {
  const { rows: M, cols: K, panel } = r;
  const specials = r.specials ? 1 : 0;
  if (panel === 0) {
    if (r.format === 'bf16') return ['gemv_bf16_f32', [r.data, xp, yp, M, K]];
    return ['gemv_f16_f32', [r.data, xp, yp, M, K, specials]];
  }
  if (r.format === 'bf16') return ['gemv_bf16_f32_panels', [r.data, xp, yp, M, K, panel]];
  return ['gemv_f16_f32_panels', [r.data, xp, yp, M, K, panel, specials]];
}

/** Row ranges of a half GEMV on the runtime's threads. */
function halfGemvRanges(rt: WasmRuntime, r: HalfGemvWeight): Array<[number, number]> {
  return rt.rowRanges(r.rows, 4, r.rows * r.cols, MIN_PARALLEL_WORK);
}

/** The GEMV of half weight `r` on packed x at `xp` into y at `yp` (rows split over the threads). */
function runHalfGemv(rt: WasmRuntime, r: HalfGemvWeight, xp: number, yp: number): void {
  const [kernel, args] = halfGemvCall(r, xp, yp);
  rt.parallel(kernel, args, halfGemvRanges(rt, r));
}

/**
 * W_i · b for half weights of one format W_i [M_i, K] and one column b (matmulShared): b written and packed
 * once, one GEMV per weight in the same call frame.
 */
function halfGemvShared(ws: readonly HalfMatrix[], b: Tensor): Tensor[] {
  for (const w of ws) checkHalfCall('matmulShared', w, b);
  const rt = runtime();
  const rs = ws.map((w) => halfGemvWeight(rt, w));
  const K = b.shape[0]!;
  return gemvOutMany(
    rs.map((r) => r.rows),
    b,
    (bp, ys, xp) => {
      rt.kernels.half_pack_x!(bp, xp, K);
      for (let i = 0; i < rs.length; i++) runHalfGemv(rt, rs[i]!, xp, ys[i]!);
    },
    K * 4,
  );
}

/**
 * y = W · x for a half W, x and y at offsets of kernel arrays (matmulInto): x packed into a call frame, y written
 * in place.
 */
function halfGemvInto(w: HalfMatrix, xp: number, yp: number): void {
  const rt = runtime();
  const r = halfGemvWeight(rt, w);
  const packed = rt.beginFrame(w.cols * 4);
  try {
    rt.kernels.half_pack_x!(xp, packed, w.cols);
    runHalfGemv(rt, r, packed, yp);
  } finally {
    rt.endFrame(packed);
  }
}

/** halfGemvInto prepared for one (w, x, y) (see GemvPlanner): x packed into a plan buffer of its size. */
function halfGemvPlan(w: HalfMatrix, xp: number, yp: number): () => void {
  const rt = runtime();
  const r = halfGemvWeight(rt, w);
  const K = w.cols;
  const packed = planBuffer(rt, K * 4);
  const [kernel, args] = halfGemvCall(r, packed, yp);
  const gemv = rt.bind(kernel, args, halfGemvRanges(rt, r));
  return () => {
    rt.kernels.half_pack_x!(xp, packed, K);
    gemv();
  };
}

/** The TypeScript twin of halfMatmulWasm (same checks, the reference kernels). */
export function halfMatmulRef(w: HalfMatrix, b: Tensor): Tensor {
  checkHalfCall('halfMatmulRef', w, b);
  const [M, K] = [w.rows, w.cols];
  const N = rhsCols(b);
  const out = outputFor(M, b);
  if (N === 1) halfGemvRef(w.format, w.data, b.data, out.data, M, K);
  else halfGemmRef(w.format, w.data, b.data, out.data, M, K, N);
  return out;
}

for (const format of ['bf16', 'f16'] as const) {
  register('matmul', [format, 'dense'], 'fast', halfMatmulWasm);
  register('matmul', [format, 'dense'], 'reference', halfMatmulRef);
}
registerSharedGemv(halfMatmulWasm, halfGemvShared);
registerGemvInto(halfMatmulWasm, halfGemvInto, halfGemvPlan);
