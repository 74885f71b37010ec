/**
 * Bitmask matmul on the WebAssembly kernels (src/kernels/bitmask.ts): C[M,N] = W[M,K] · B[K,N] with W
 * stored as presence bits plus packed values. SpMV expands mask nibbles into dense lanes with SIMD
 * swizzles (no index loads, no gathers); SpMM walks the set bits. Like a dense GEMV, the SpMV multiplies
 * pruned lanes by 0, so a non-finite x at a pruned column gives NaN where the twin (which skips them) does not.
 */

import { type Bitmask, bitmaskBytesPerRow, bitmaskMatmul, bitmaskValidate } from '../../formats/bitmask.js';
import type { Tensor } from '../../tensor/tensor.js';
import { register } from '../dispatch.js';
import { resident } from '../resident.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import { checkSparseCall, prefixRanges, runSparseMatmul, sameShape, uploadPadded } from './csr.js';

/** A bitmask weight packed in kernel memory. */
export interface ResidentBitmask {
  rows: number;
  cols: number;
  /** ceil(cols/8): mask bytes per row. */
  bytesPerRow: number;
  /** Byte offsets of mask (u8, + 8 zero bytes), rowPtr (u32) and values (f32, + 16 zero bytes). */
  mask: number;
  rowPtr: number;
  values: number;
  /** Host copy of rowPtr, for splitting rows by non-zeros. */
  hostRowPtr: Uint32Array;
}

/** Validate `w` (once) and upload it, or return the copy already resident in `rt`. */
export function residentBitmask(rt: WasmRuntime, w: Bitmask): ResidentBitmask {
  const r = resident(rt, w, 'bitmask', () => {
    bitmaskValidate(w);
    const ptrs = [uploadPadded(rt, w.mask, 8), rt.upload(w.rowPtr), uploadPadded(rt, w.values, 16)];
    const value: ResidentBitmask = {
      rows: w.rows,
      cols: w.cols,
      bytesPerRow: bitmaskBytesPerRow(w.cols),
      mask: ptrs[0]!,
      rowPtr: ptrs[1]!,
      values: ptrs[2]!,
      hostRowPtr: w.rowPtr.slice(),
    };
    return { ptrs, value };
  });
  return sameShape(r, w);
}

/**
 * W[M,K] · B with W a bitmask and B [K] (→ [M]) or [K,N] (→ [M,N]), on the WebAssembly kernels.
 * The weight is validated and uploaded on first use and stays resident (`release(w)` after changing it).
 * @example bitmaskMatmulWasm(bitmaskFromDense(w), x)
 */
export function bitmaskMatmulWasm(w: Bitmask, b: Tensor): Tensor {
  checkSparseCall('bitmaskMatmulWasm', 'bitmask', w, b);
  const rt = runtime();
  const r = residentBitmask(rt, w);
  const bpr = r.bytesPerRow;
  return runSparseMatmul(
    rt,
    r.rows,
    b,
    (bp, cp, N) => {
      // a row costs its non-zeros plus a fixed scan of its mask bytes
      const ranges = prefixRanges(rt, r.hostRowPtr, N, bpr);
      if (b.rank === 1) rt.parallel('bitmask_spmv_f32', [r.mask, r.rowPtr, r.values, bp, cp, bpr], ranges);
      else rt.parallel('bitmask_spmm_f32', [r.mask, r.rowPtr, r.values, bp, cp, N, bpr], ranges);
    },
    b.rank === 1 ? bpr * 8 : r.cols,
  );
}

register('matmul', ['bitmask', 'dense'], 'fast', bitmaskMatmulWasm);
register('matmul', ['bitmask', 'dense'], 'reference', bitmaskMatmul);
