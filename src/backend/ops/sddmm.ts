/**
 * SDDMM, the sampled dense-dense product: for a sparsity pattern (CSR row pointers and column indices) and
 * dense A [M,T], B [K,T], out[p] = A[i,:] · B[col p,:] at each stored position (i, col p) only. It is the
 * gradient of a sparse weight at its kept entries; the autograd's sparse linear rule calls it.
 */

import { Tensor } from '../../tensor/tensor.js';
import { register, resolve } from '../dispatch.js';
import { splitByPrefix } from '../pool.js';
import { sddmmRef } from '../reference/sddmm.js';
import { runtime } from '../wasm.js';
import { MIN_PARALLEL_WORK } from './dense.js';

/** A sparsity pattern in CSR form: row i's positions are colIdx[rowPtr[i] … rowPtr[i+1]), any column order. */
export interface SparsePattern {
  readonly rows: number;
  readonly cols: number;
  /** [rows+1] offsets, rowPtr[0] = 0, non-decreasing. */
  readonly rowPtr: Uint32Array;
  /** [nnz] column of each position, < cols. */
  readonly colIdx: Uint32Array;
}

type SddmmFn = (p: SparsePattern, a: Tensor, b: Tensor) => Float32Array;

function checkSddmm(p: SparsePattern, a: Tensor, b: Tensor): number {
  if (!(p.rowPtr instanceof Uint32Array) || p.rowPtr.length !== p.rows + 1) {
    throw new RangeError(`sddmm: pattern.rowPtr must be a Uint32Array of rows+1 = ${p.rows + 1} offsets`);
  }
  if (!(p.colIdx instanceof Uint32Array) || p.colIdx.length !== p.rowPtr[p.rows]) {
    throw new RangeError(
      `sddmm: pattern.colIdx must be a Uint32Array of rowPtr[rows] = ${p.rowPtr[p.rows]} columns`,
    );
  }
  if (!(a instanceof Tensor) || a.rank !== 2 || a.shape[0] !== p.rows) {
    throw new RangeError(
      `sddmm: a must be [${p.rows}, T] (one row per pattern row), got [${a?.shape?.join(', ')}]`,
    );
  }
  const T = a.shape[1]!;
  if (!(b instanceof Tensor) || b.rank !== 2 || b.shape[0] !== p.cols || b.shape[1] !== T) {
    throw new RangeError(
      `sddmm: b must be [${p.cols}, ${T}] (one row per pattern column), got [${b?.shape?.join(', ')}]`,
    );
  }
  return T;
}

/**
 * out[p] = a[i,:] · b[colIdx[p],:] for every position p of every row i of the pattern.
 * a [rows, T], b [cols, T] → out [nnz]. Runs the WebAssembly kernel (rows split across threads by nnz).
 * @example sddmm(pattern, dYt, Xt) // a sparse weight's gradient at its kept entries
 */
export function sddmm(pattern: SparsePattern, a: Tensor, b: Tensor): Float32Array {
  checkSddmm(pattern, a, b);
  return resolve<SddmmFn>('sddmm', ['pattern', 'dense'])(pattern, a, b);
}

function sddmmWasm(p: SparsePattern, a: Tensor, b: Tensor): Float32Array {
  const T = a.shape[1]!;
  const nnz = p.colIdx.length;
  const out = new Float32Array(nnz);
  if (nnz === 0 || T === 0) return out;
  const rt = runtime();
  const ptrs: number[] = [];
  try {
    for (const arr of [p.rowPtr, p.colIdx, a.data, b.data]) ptrs.push(rt.upload(arr));
    const op = rt.alloc(nnz * 4);
    ptrs.push(op);
    const ranges =
      rt.threads === 1 || nnz * T < MIN_PARALLEL_WORK
        ? [[0, p.rows] as [number, number]]
        : splitByPrefix(p.rowPtr, rt.threads);
    rt.parallel('sddmm_f32', [ptrs[0]!, ptrs[1]!, ptrs[2]!, ptrs[3]!, op, T], ranges);
    out.set(rt.f32(op, nnz));
    return out;
  } finally {
    for (const q of ptrs) rt.free(q);
  }
}

function sddmmReference(p: SparsePattern, a: Tensor, b: Tensor): Float32Array {
  const out = new Float32Array(p.colIdx.length);
  sddmmRef(p.rowPtr, p.colIdx, a.data, b.data, out, a.shape[1]!);
  return out;
}

register('sddmm', ['pattern', 'dense'], 'fast', sddmmWasm);
register('sddmm', ['pattern', 'dense'], 'reference', sddmmReference);
