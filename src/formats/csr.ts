/** CSR (compressed sparse row): per row, the sorted column indices and values of its non-zeros. */

import { dims2, Tensor } from '../tensor/tensor.js';
import {
  axpyRow,
  byteLengths,
  checkArray,
  checkDims,
  checkFormat,
  checkIndexArray,
  checkLength,
  checkRowPtr,
  checkSortedIndices,
  checkType,
  indexArrayType,
  matmulOut,
  matmulRhs,
} from './check.js';
import type { FormatOps } from './types.js';

/**
 * A [rows, cols] matrix in compressed sparse row form. Row i's entries are
 * `colIdx[rowPtr[i] … rowPtr[i+1])` / `values[…]`, columns strictly increasing.
 * colIdx is a Uint16Array when cols ≤ 65536, else a Uint32Array. Explicit zeros may be stored.
 */
export interface CSR {
  readonly format: 'csr';
  readonly rows: number;
  readonly cols: number;
  /** [rows+1] offsets into colIdx/values; rowPtr[0] = 0, rowPtr[rows] = nnz. */
  readonly rowPtr: Uint32Array;
  /** [nnz] column of each stored entry. */
  readonly colIdx: Uint16Array | Uint32Array;
  /** [nnz] value of each stored entry. */
  readonly values: Float32Array;
}

/** Pack a dense w [M,K] as CSR, dropping exact zeros (so -0 comes back as +0; NaN is kept). */
export function csrFromDense(w: Tensor): CSR {
  const [rows, cols] = dims2(w, 'csrFromDense');
  const rowPtr = new Uint32Array(rows + 1);
  for (let i = 0; i < rows; i++) {
    let count = 0;
    for (let k = 0; k < cols; k++) if (w.data[i * cols + k] !== 0) count++;
    rowPtr[i + 1] = rowPtr[i]! + count;
  }
  const nnz = rowPtr[rows]!;
  const colIdx = new (indexArrayType(cols))(nnz);
  const values = new Float32Array(nnz);
  let p = 0;
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < cols; k++) {
      const v = w.data[i * cols + k]!;
      if (v === 0) continue;
      colIdx[p] = k;
      values[p++] = v;
    }
  }
  return { format: 'csr', rows, cols, rowPtr, colIdx, values };
}

/** Build a CSR from its arrays and validate it (throws FormatError if malformed). The arrays are not copied. */
export function csrFromParts(
  rows: number,
  cols: number,
  rowPtr: Uint32Array,
  colIdx: Uint16Array | Uint32Array,
  values: Float32Array,
): CSR {
  const a: CSR = { format: 'csr', rows, cols, rowPtr, colIdx, values };
  csrValidate(a);
  return a;
}

/** Unpack to a new dense [rows, cols] tensor. */
export function csrToDense(a: CSR): Tensor {
  const out = new Float32Array(a.rows * a.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let p = a.rowPtr[i]!; p < a.rowPtr[i + 1]!; p++) out[i * a.cols + a.colIdx[p]!] = a.values[p]!;
  }
  return new Tensor(out, [a.rows, a.cols]);
}

/** Throw FormatError unless `a` is a well-formed CSR (array types and lengths, rowPtr, sorted in-range columns). */
export function csrValidate(a: CSR): void {
  checkFormat('csr', a);
  checkDims('csr', a);
  checkArray('csr', 'rowPtr', a.rowPtr, Uint32Array, a.rows + 1, 'rows+1');
  checkType('csr', 'values', a.values, Float32Array);
  const nnz = a.values.length;
  checkIndexArray('csr', 'colIdx', a.colIdx, a.cols, 'cols');
  checkLength('csr', 'colIdx', a.colIdx, nnz, 'nnz = values.length');
  checkRowPtr('csr', 'rowPtr', a.rowPtr, nnz, 'nnz = values.length');
  for (let i = 0; i < a.rows; i++) {
    checkSortedIndices('csr', 'colIdx', a.colIdx, a.rowPtr[i]!, a.rowPtr[i + 1]!, a.cols, 'cols', `row ${i}`);
  }
}

/** Exact bytes of rowPtr + colIdx + values. */
export function csrNbytes(a: CSR): number {
  return byteLengths(a.rowPtr, a.colIdx, a.values);
}

/** Reference product: a [M,K] · b [K,N] → [M,N] (b [K] → [M]). Assumes `a` is valid. */
export function csrMatmul(a: CSR, b: Tensor): Tensor {
  const { n, vector } = matmulRhs('csrMatmul', a.cols, b);
  const out = matmulOut(a.rows, n, vector);
  for (let i = 0; i < a.rows; i++) {
    for (let p = a.rowPtr[i]!; p < a.rowPtr[i + 1]!; p++)
      axpyRow(out.data, i, a.values[p]!, b.data, a.colIdx[p]!, n);
  }
  return out;
}

/** CSR's functions as one FormatOps. */
export const csr: FormatOps<CSR> = {
  name: 'csr',
  fromDense: csrFromDense,
  toDense: csrToDense,
  validate: csrValidate,
  nbytes: csrNbytes,
  matmul: csrMatmul,
};
