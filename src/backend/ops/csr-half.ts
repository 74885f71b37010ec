/**
 * Matmul of CSR weights with half-precision values (csr_bf16, csr_f16) on the WebAssembly kernels
 * (src/kernels/csr-half.ts): C[M,N] = W[M,K] · B[K,N], B a vector [K] (SpMV, the decode
 * case) or a row-major block (SpMM), f32 accumulation. The weight stays resident at 2 bytes per value, so a
 * decode step streams 4 bytes per kept weight (u16 indices) instead of 6 for CSR with f32 values.
 */

import { type HalfCSR, halfCsrMatmul, halfCsrValidate, halfCsrValues } from '../../formats/csr-half.js';
import type { HalfFormat } from '../../formats/half.js';
import type { Tensor } from '../../tensor/tensor.js';
import { register } from '../dispatch.js';
import { type Resident, resident } from '../resident.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import {
  checkHalfSparseCall,
  csrRanges,
  type ResidentCSR,
  residentForColumns,
  runSparseMatmul,
  sameShape,
  spmvPlan,
  stageSpmvX,
  uploadCsr,
  withSpmmB,
} from './csr.js';
import type { PanelOptions } from './csr-panels.js';
import { rhsCols } from './dense.js';
import { hasF16Specials } from './half.js';
import { registerGemvInto } from './matmul.js';

/** A half-value CSR weight packed in kernel memory: CSR's column-panel layout with u16 value bits. */
export interface ResidentHalfCSR extends ResidentCSR {
  /** How the value bits decode. */
  type: HalfFormat;
  /** f16 only: whether any value is Inf or NaN (the kernels then run their exact-specials loops). */
  specials: boolean;
}

/**
 * Validate `w` (once) and upload it, or return the copy already resident in `rt`. f16 only: `specials` is
 * found when this is built, so after writing Inf or NaN into a weight, `release(w)` it.
 */
export function residentHalfCsr(rt: WasmRuntime, w: HalfCSR): ResidentHalfCSR {
  const r = resident(rt, w, w.format, () => {
    halfCsrValidate(w);
    return uploadHalfCsr(rt, w);
  });
  return sameShape(r, w);
}

/** Upload a valid half-value CSR (the caller validates) like uploadCsr, with its value type and f16 specials. */
export function uploadHalfCsr(
  rt: WasmRuntime,
  w: HalfCSR,
  options: PanelOptions = {},
): Resident<ResidentHalfCSR> {
  const { ptrs, value } = uploadCsr(rt, w, options);
  const type = halfCsrValues(w);
  return { ptrs, value: { ...value, type, specials: type === 'f16' && hasF16Specials(w.values) } };
}

/**
 * C = W · B on a resident half-value CSR (column panels as the f32 CSR's), rows split by non-zeros: the SpMV
 * kernel for a vector; otherwise the SpMM kernel, which widens the values chunk by chunk into a per-call f32
 * scratch [nnz] (freed on return) and runs the f32 CSR SpMM row walk on them.
 */
export function halfCsrRun(rt: WasmRuntime, r: ResidentHalfCSR, b: Tensor): Tensor {
  return runSparseMatmul(rt, r.rows, b, (bp, cp, N) => {
    if (b.rank === 1) {
      halfCsrSpmv(rt, r, bp, cp);
      return;
    }
    const ranges = csrRanges(rt, r, N);
    const w = [r.rowPtr, r.colIdx, r.values];
    const panels = [r.rows, r.width, r.panels, ...halfCsrSpecials(r)];
    const wide = rt.alloc(Math.max(4, 4 * r.hostRowPtr[r.rows]!));
    try {
      withSpmmB(rt, bp, r.cols, N, (bIn, rowStride, groupStride) => {
        rt.parallel(
          `csr_spmm_${r.type}`,
          [...w, wide, bIn, rowStride, groupStride, cp, N, ...panels],
          ranges,
        );
      });
    } finally {
      rt.free(wide);
    }
  });
}

/** The f16 kernels' trailing specials flag (none for bf16). */
function halfCsrSpecials(r: ResidentHalfCSR): number[] {
  return r.type === 'f16' ? [r.specials ? 1 : 0] : [];
}

/** The SpMV kernel arguments (before the row range) of a resident half-value CSR on x at `xp`, y at `yp`. */
function halfCsrSpmvArgs(r: ResidentHalfCSR, xp: number, yp: number): number[] {
  return [r.rowPtr, r.colIdx, r.values, xp, yp, r.rows, r.cols, r.width, r.panels, ...halfCsrSpecials(r)];
}

/** y = W · x on a resident half-value CSR, x [K] at `xp`, y [M] at `yp`, rows split by non-zeros. */
function halfCsrSpmv(rt: WasmRuntime, r: ResidentHalfCSR, xp: number, yp: number): void {
  stageSpmvX(rt, xp, r.cols);
  rt.parallel(`csr_spmv_${r.type}`, halfCsrSpmvArgs(r, xp, yp), csrRanges(rt, r, 1));
}

/** y = W · x for a half-value CSR W, x and y at offsets of kernel arrays (matmulInto): read and written in place. */
function halfCsrGemvInto(w: HalfCSR, xp: number, yp: number): void {
  const rt = runtime();
  halfCsrSpmv(rt, residentHalfCsr(rt, w), xp, yp);
}

/** halfCsrGemvInto prepared for one (w, x, y) (see GemvPlanner). */
function halfCsrGemvPlan(w: HalfCSR, xp: number, yp: number): () => void {
  const rt = runtime();
  const r = residentHalfCsr(rt, w);
  return spmvPlan(rt, r.cols, xp, `csr_spmv_${r.type}`, halfCsrSpmvArgs(r, xp, yp), csrRanges(rt, r, 1));
}

function checkHalfCsrCall(op: string, w: HalfCSR, b: Tensor): void {
  checkHalfSparseCall(op, ['csr_bf16', 'csr_f16'], w, b);
}

/**
 * W[M,K] · B with W a CSR with bf16 or f16 values and B [K] (→ [M]) or [K,N] (→ [M,N]), on the WebAssembly
 * kernels. The weight is validated and uploaded on first use and stays resident (call `release(w)` after
 * changing its arrays in place).
 * @example halfCsrMatmulWasm(halfCsrFromDense(w, 'bf16'), x) // SpMV reading 4 bytes per kept weight
 */
export function halfCsrMatmulWasm(w: HalfCSR, b: Tensor): Tensor {
  checkHalfCsrCall('halfCsrMatmulWasm', w, b);
  const rt = runtime();
  const r = residentForColumns(
    rt,
    w,
    rhsCols(b),
    `${w.format}-spmm`,
    () => residentHalfCsr(rt, w),
    (options) => {
      halfCsrValidate(w);
      return uploadHalfCsr(rt, w, options);
    },
  );
  return halfCsrRun(rt, sameShape(r, w), b);
}

/** The TypeScript twin of halfCsrMatmulWasm: the same checks, then the format's reference product. */
export function halfCsrMatmulRef(w: HalfCSR, b: Tensor): Tensor {
  checkHalfCsrCall('halfCsrMatmulRef', w, b);
  return halfCsrMatmul(w, b);
}

for (const format of ['csr_bf16', 'csr_f16'] as const) {
  register('matmul', [format, 'dense'], 'fast', halfCsrMatmulWasm);
  register('matmul', [format, 'dense'], 'reference', halfCsrMatmulRef);
}
registerGemvInto(halfCsrMatmulWasm, halfCsrGemvInto, halfCsrGemvPlan);
