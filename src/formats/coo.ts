/** COO (coordinate list): one (row, col, value) triple per stored element, in canonical row-then-column order. */

import { dims2, Tensor } from '../tensor/tensor.js';
import {
  axpyRow,
  byteLengths,
  checkArray,
  checkDims,
  checkFormat,
  checkType,
  indexArrayType,
  matmulOut,
  matmulRhs,
} from './check.js';
import type { CSR } from './csr.js';
import { FormatError } from './errors.js';
import type { FormatOps } from './types.js';

/**
 * A [rows, cols] matrix as triples (rowIdx[p], colIdx[p], values[p]), sorted by row then column with
 * no duplicates (canonical order). Explicit zeros may be stored.
 */
export interface COO {
  readonly format: 'coo';
  readonly rows: number;
  readonly cols: number;
  /** [nnz] row of each entry, non-decreasing. */
  readonly rowIdx: Uint32Array;
  /** [nnz] column of each entry, strictly increasing within a row. */
  readonly colIdx: Uint32Array;
  /** [nnz] value of each entry. */
  readonly values: Float32Array;
}

/** Pack a dense w [M,K] as COO, dropping exact zeros (NaN is kept). */
export function cooFromDense(w: Tensor): COO {
  const [rows, cols] = dims2(w, 'cooFromDense');
  const rowIdx: number[] = [];
  const colIdx: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < cols; k++) {
      const v = w.data[i * cols + k]!;
      if (v === 0) continue;
      rowIdx.push(i);
      colIdx.push(k);
      values.push(v);
    }
  }
  return { format: 'coo', rows, cols, ...typed(rowIdx, colIdx, values) };
}

/**
 * Build a canonical COO from entries in any order: sorts by (row, col) and sums duplicates in f32, in
 * input order (scipy's `sum_duplicates` convention; sums that cancel stay as explicit zeros).
 * Throws FormatError for mismatched lengths or indices that are not integers in range.
 */
export function cooFromEntries(
  rows: number,
  cols: number,
  rowIdx: ArrayLike<number>,
  colIdx: ArrayLike<number>,
  values: ArrayLike<number>,
): COO {
  checkDims('coo', { rows, cols });
  const count = values.length;
  if (rowIdx.length !== count || colIdx.length !== count) {
    const lengths = `rowIdx ${rowIdx.length}, colIdx ${colIdx.length}, values ${count}`;
    throw new FormatError('coo', 'rowIdx', `entries must have equal lengths, got ${lengths}`);
  }
  for (let p = 0; p < count; p++) {
    checkEntryIndex('rowIdx', p, rowIdx[p]!, rows, 'rows');
    checkEntryIndex('colIdx', p, colIdx[p]!, cols, 'cols');
  }
  const order = Array.from({ length: count }, (_, p) => p);
  order.sort((p, q) => rowIdx[p]! - rowIdx[q]! || colIdx[p]! - colIdx[q]! || p - q);
  const out = { rowIdx: [] as number[], colIdx: [] as number[], values: [] as number[] };
  for (const p of order) {
    const last = out.values.length - 1;
    if (last >= 0 && out.rowIdx[last] === rowIdx[p] && out.colIdx[last] === colIdx[p]) {
      out.values[last] = Math.fround(out.values[last]! + Math.fround(values[p]!));
    } else {
      out.rowIdx.push(rowIdx[p]!);
      out.colIdx.push(colIdx[p]!);
      out.values.push(Math.fround(values[p]!));
    }
  }
  return { format: 'coo', rows, cols, ...typed(out.rowIdx, out.colIdx, out.values) };
}

/** Unpack to a new dense [rows, cols] tensor. */
export function cooToDense(a: COO): Tensor {
  const out = new Float32Array(a.rows * a.cols);
  for (let p = 0; p < a.values.length; p++) out[a.rowIdx[p]! * a.cols + a.colIdx[p]!] = a.values[p]!;
  return new Tensor(out, [a.rows, a.cols]);
}

/** Throw FormatError unless `a` is a well-formed COO: array types and lengths, indices in range, canonical order. */
export function cooValidate(a: COO): void {
  checkFormat('coo', a);
  checkDims('coo', a);
  checkType('coo', 'values', a.values, Float32Array);
  const nnz = a.values.length;
  checkArray('coo', 'rowIdx', a.rowIdx, Uint32Array, nnz, 'nnz = values.length');
  checkArray('coo', 'colIdx', a.colIdx, Uint32Array, nnz, 'nnz = values.length');
  for (let p = 0; p < nnz; p++) {
    const [i, k] = [a.rowIdx[p]!, a.colIdx[p]!];
    if (i >= a.rows) {
      throw new FormatError(
        'coo',
        'rowIdx',
        `rowIdx[${p}]=${i} is out of range (must be < rows = ${a.rows})`,
      );
    }
    if (k >= a.cols) {
      throw new FormatError(
        'coo',
        'colIdx',
        `colIdx[${p}]=${k} is out of range (must be < cols = ${a.cols})`,
      );
    }
    if (p === 0) continue;
    const [pi, pk] = [a.rowIdx[p - 1]!, a.colIdx[p - 1]!];
    const entries = `entry ${p} (${i}, ${k}) after entry ${p - 1} (${pi}, ${pk})`;
    if (i < pi) {
      throw new FormatError(
        'coo',
        'rowIdx',
        `rowIdx[${p}]=${i} is less than rowIdx[${p - 1}]=${pi}: ${entries} ` +
          '(entries must be sorted by row, then column; cooFromEntries sorts)',
      );
    }
    if (i === pi && k === pk) {
      throw new FormatError('coo', 'colIdx', `duplicate ${entries} (cooFromEntries sums duplicates)`);
    }
    if (i === pi && k < pk) {
      throw new FormatError(
        'coo',
        'colIdx',
        `colIdx[${p}]=${k} is less than colIdx[${p - 1}]=${pk} in row ${i}: ` +
          `${entries} (columns must be strictly increasing within a row; cooFromEntries sorts)`,
      );
    }
  }
}

/** Exact bytes of rowIdx + colIdx + values. */
export function cooNbytes(a: COO): number {
  return byteLengths(a.rowIdx, a.colIdx, a.values);
}

/** Reference product: a [M,K] · b [K,N] → [M,N] (b [K] → [M]). Assumes `a` is valid. */
export function cooMatmul(a: COO, b: Tensor): Tensor {
  const { n, vector } = matmulRhs('cooMatmul', a.cols, b);
  const out = matmulOut(a.rows, n, vector);
  for (let p = 0; p < a.values.length; p++)
    axpyRow(out.data, a.rowIdx[p]!, a.values[p]!, b.data, a.colIdx[p]!, n);
  return out;
}

/** Convert a valid COO to CSR (same entries, explicit zeros kept; colIdx narrowed to u16 when cols ≤ 65536). */
export function cooToCsr(a: COO): CSR {
  const rowPtr = new Uint32Array(a.rows + 1);
  for (let p = 0; p < a.rowIdx.length; p++) rowPtr[a.rowIdx[p]! + 1]!++;
  for (let i = 0; i < a.rows; i++) rowPtr[i + 1]! += rowPtr[i]!;
  const colIdx = new (indexArrayType(a.cols))(a.colIdx);
  return { format: 'csr', rows: a.rows, cols: a.cols, rowPtr, colIdx, values: a.values.slice() };
}

/** Convert a valid CSR to COO (same entries, explicit zeros kept). */
export function csrToCoo(a: CSR): COO {
  const rowIdx = new Uint32Array(a.values.length);
  for (let i = 0; i < a.rows; i++) rowIdx.fill(i, a.rowPtr[i]!, a.rowPtr[i + 1]!);
  return {
    format: 'coo',
    rows: a.rows,
    cols: a.cols,
    rowIdx,
    colIdx: Uint32Array.from(a.colIdx),
    values: a.values.slice(),
  };
}

/** COO's functions as one FormatOps. */
export const coo: FormatOps<COO> = {
  name: 'coo',
  fromDense: cooFromDense,
  toDense: cooToDense,
  validate: cooValidate,
  nbytes: cooNbytes,
  matmul: cooMatmul,
};

function typed(
  rowIdx: number[],
  colIdx: number[],
  values: number[],
): Pick<COO, 'rowIdx' | 'colIdx' | 'values'> {
  return {
    rowIdx: Uint32Array.from(rowIdx),
    colIdx: Uint32Array.from(colIdx),
    values: Float32Array.from(values),
  };
}

function checkEntryIndex(field: string, p: number, x: number, bound: number, boundText: string): void {
  if (!(Number.isInteger(x) && x >= 0 && x < bound)) {
    throw new FormatError(
      'coo',
      field,
      `${field}[${p}]=${x} must be an integer in [0, ${boundText} = ${bound})`,
    );
  }
}
