/**
 * BSR matmul on the WebAssembly kernels (src/kernels/bsr.ts): C[M,N] = W[M,K] · B[K,N] with W stored as
 * r×c blocks. B is zero-padded to whole block columns and C is computed for whole block rows, so the
 * kernels never special-case edge blocks (their padding elements are 0 by the format's rules).
 */

import { type BSR, bsrGrid, bsrMatmul, bsrValidate } from '../../formats/bsr.js';
import type { Tensor } from '../../tensor/tensor.js';
import { register } from '../dispatch.js';
import { resident } from '../resident.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import { checkSparseCall, gemvInPlace, prefixRanges, runSparseMatmul, sameShape } from './csr.js';
import { registerGemvInto } from './matmul.js';

/** A BSR weight packed in kernel memory. */
export interface ResidentBSR {
  rows: number;
  cols: number;
  blockRows: number;
  blockCols: number;
  /** Byte offsets of blockRowPtr (u32), blockColIdx (u16 or u32) and values (f32). */
  blockRowPtr: number;
  blockColIdx: number;
  values: number;
  index: 'u16' | 'u32';
  /** Host copy of blockRowPtr, for splitting block rows by stored blocks. */
  hostBlockRowPtr: Uint32Array;
}

/** Validate `w` (once) and upload it, or return the copy already resident in `rt`. */
export function residentBsr(rt: WasmRuntime, w: BSR): ResidentBSR {
  const r = resident(rt, w, 'bsr', () => {
    bsrValidate(w);
    const ptrs = [rt.upload(w.blockRowPtr), rt.upload(w.blockColIdx), rt.upload(w.values)];
    const value: ResidentBSR = {
      rows: w.rows,
      cols: w.cols,
      blockRows: w.blockRows,
      blockCols: w.blockCols,
      blockRowPtr: ptrs[0]!,
      blockColIdx: ptrs[1]!,
      values: ptrs[2]!,
      index: w.blockColIdx instanceof Uint16Array ? 'u16' : 'u32',
      hostBlockRowPtr: w.blockRowPtr.slice(),
    };
    return { ptrs, value };
  });
  return sameShape(r, w);
}

/**
 * W[M,K] · B with W in BSR and B [K] (→ [M]) or [K,N] (→ [M,N]), on the WebAssembly kernels
 * (specialised for 1×4, 4×4 and 16×16 blocks, generic for any r×c). The weight is validated and
 * uploaded on first use and stays resident (`release(w)` after changing it in place).
 * @example bsrMatmulWasm(bsrFromDense(w, 4, 4), x)
 */
export function bsrMatmulWasm(w: BSR, b: Tensor): Tensor {
  checkSparseCall('bsrMatmulWasm', 'bsr', w, b);
  const rt = runtime();
  const r = residentBsr(rt, w);
  const [nbr, nbc] = bsrGrid(r);
  const { blockRows, blockCols } = r;
  const blockWork = blockRows * blockCols;
  return runSparseMatmul(
    rt,
    r.rows,
    b,
    (bp, cp, N) => {
      const ranges = prefixRanges(rt, r.hostBlockRowPtr, N * blockWork, 1);
      const args = [r.blockRowPtr, r.blockColIdx, r.values, bp, cp];
      if (b.rank === 1) rt.parallel(`bsr_spmv_${r.index}_f32`, [...args, blockRows, blockCols], ranges);
      else rt.parallel(`bsr_spmm_${r.index}_f32`, [...args, N, blockRows, blockCols], ranges);
    },
    nbc * blockCols,
    nbr * blockRows,
  );
}

/**
 * y = W · x for a BSR W, x and y at offsets of kernel arrays (matmulInto): read and written in place (through the
 * call frame when K or M is not a whole number of blocks).
 */
function bsrGemvInto(w: BSR, xp: number, yp: number): void {
  const rt = runtime();
  const r = residentBsr(rt, w);
  const [nbr, nbc] = bsrGrid(r);
  const { blockRows, blockCols } = r;
  const dims = { K: r.cols, kRows: nbc * blockCols, M: r.rows, mRows: nbr * blockRows };
  gemvInPlace(rt, xp, yp, dims, 0, (x, y) => {
    const ranges = prefixRanges(rt, r.hostBlockRowPtr, blockRows * blockCols, 1);
    const args = [r.blockRowPtr, r.blockColIdx, r.values, x, y, blockRows, blockCols];
    rt.parallel(`bsr_spmv_${r.index}_f32`, args, ranges);
  });
}

register('matmul', ['bsr', 'dense'], 'fast', bsrMatmulWasm);
registerGemvInto(bsrMatmulWasm, bsrGemvInto);
register('matmul', ['bsr', 'dense'], 'reference', bsrMatmul);
