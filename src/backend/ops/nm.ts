/**
 * N:M matmul on the WebAssembly kernels (src/kernels/nm.ts): C[M,N] = W[M,K] · B[K,N] with W keeping at
 * most n of every m columns. 2:4 runs its own kernels (swizzle-gathered SpMV); any other n:m (m ≤ 16)
 * runs the generic ones. B is zero-padded to G·m rows so the kernels read whole groups.
 */

import { type NM, nmLayout, nmMatmul, nmValidate } from '../../formats/nm.js';
import type { Tensor } from '../../tensor/tensor.js';
import { register } from '../dispatch.js';
import { resident } from '../resident.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import { checkSparseCall, runSparseMatmul, sameShape, uploadPadded } from './csr.js';
import { MIN_PARALLEL_WORK } from './dense.js';

/** An N:M weight packed in kernel memory. */
export interface ResidentNM {
  rows: number;
  cols: number;
  n: number;
  m: number;
  /** Groups per row, ceil(cols/m). */
  groups: number;
  /** Byte offsets of values (f32) and meta (u8, followed by 8 zero bytes). */
  values: number;
  meta: number;
}

/** Validate `w` (once) and upload it, or return the copy already resident in `rt`. */
export function residentNm(rt: WasmRuntime, w: NM): ResidentNM {
  const r = resident(rt, w, 'nm', () => {
    nmValidate(w);
    const ptrs = [rt.upload(w.values), uploadPadded(rt, w.meta, 8)];
    const { groups } = nmLayout(w.cols, w.n, w.m);
    const value: ResidentNM = {
      rows: w.rows,
      cols: w.cols,
      n: w.n,
      m: w.m,
      groups,
      values: ptrs[0]!,
      meta: ptrs[1]!,
    };
    return { ptrs, value };
  });
  return sameShape(r, w);
}

/**
 * W[M,K] · B with W in N:M form and B [K] (→ [M]) or [K,N] (→ [M,N]), on the WebAssembly kernels.
 * The weight is validated and uploaded on first use and stays resident (`release(w)` after changing it).
 * @example nmMatmulWasm(nmFromDense(nmPruneMagnitude(w, 2, 4), 2, 4), x)
 */
export function nmMatmulWasm(w: NM, b: Tensor): Tensor {
  checkSparseCall('nmMatmulWasm', 'nm', w, b);
  const rt = runtime();
  const r = residentNm(rt, w);
  const is24 = r.n === 2 && r.m === 4;
  return runSparseMatmul(
    rt,
    r.rows,
    b,
    (bp, cp, N) => {
      const work = r.rows * r.groups * r.n * N;
      const ranges = rt.rowRanges(r.rows, 1, work, MIN_PARALLEL_WORK);
      const args = [r.values, r.meta, bp, cp];
      if (b.rank === 1) {
        if (is24) rt.parallel('nm24_spmv_f32', [...args, r.groups], ranges);
        else rt.parallel('nm_spmv_f32', [...args, r.groups, r.n, r.m], ranges);
      } else if (is24) rt.parallel('nm24_spmm_f32', [...args, N, r.groups], ranges);
      else rt.parallel('nm_spmm_f32', [...args, N, r.groups, r.n, r.m], ranges);
    },
    r.groups * r.m,
  );
}

register('matmul', ['nm', 'dense'], 'fast', nmMatmulWasm);
register('matmul', ['nm', 'dense'], 'reference', nmMatmul);
