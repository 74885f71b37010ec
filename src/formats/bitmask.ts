/** Bitmask: one bit per weight says whether it is stored; the stored values are packed row by row. */

import { dims2, Tensor } from '../tensor/tensor.js';
import {
  axpyRow,
  byteLengths,
  checkArray,
  checkDims,
  checkFormat,
  checkRowPtr,
  checkType,
  matmulOut,
  matmulRhs,
} from './check.js';
import { FormatError } from './errors.js';
import type { FormatOps } from './types.js';

/**
 * A [rows, cols] matrix as a bit per element plus the packed non-zeros. Row i's mask is
 * `mask[i·bytesPerRow … (i+1)·bytesPerRow)`, bytesPerRow = ceil(cols/8); bit j (LSB first) of byte b
 * is column 8b + j; bits past cols (padding) are 0. Row i's values, in column order, are
 * `values[rowPtr[i] … rowPtr[i+1])`, and rowPtr[i+1] − rowPtr[i] is the popcount of row i's mask.
 */
export interface Bitmask {
  readonly format: 'bitmask';
  readonly rows: number;
  readonly cols: number;
  /** [rows·ceil(cols/8)] presence bits, LSB first. */
  readonly mask: Uint8Array;
  /** [rows+1] offsets into values; rowPtr[rows] = nnz. */
  readonly rowPtr: Uint32Array;
  /** [nnz] stored values, row-major, column order. */
  readonly values: Float32Array;
}

/** Bytes of mask per row: ceil(cols/8). */
export function bitmaskBytesPerRow(cols: number): number {
  return Math.ceil(cols / 8);
}

/** Pack a dense w [M,K] as a bitmask, dropping exact zeros (NaN is kept). */
export function bitmaskFromDense(w: Tensor): Bitmask {
  const [rows, cols] = dims2(w, 'bitmaskFromDense');
  const bpr = bitmaskBytesPerRow(cols);
  const mask = new Uint8Array(rows * bpr);
  const rowPtr = new Uint32Array(rows + 1);
  const kept: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < cols; k++) {
      const v = w.data[i * cols + k]!;
      if (v === 0) continue;
      mask[i * bpr + (k >> 3)]! |= 1 << (k & 7);
      kept.push(v);
    }
    rowPtr[i + 1] = kept.length;
  }
  return { format: 'bitmask', rows, cols, mask, rowPtr, values: Float32Array.from(kept) };
}

/** Unpack to a new dense [rows, cols] tensor. */
export function bitmaskToDense(a: Bitmask): Tensor {
  const out = new Float32Array(a.rows * a.cols);
  forEachStored(a, (i, k, v) => {
    out[i * a.cols + k] = v;
  });
  return new Tensor(out, [a.rows, a.cols]);
}

/** Throw FormatError unless `a` is a well-formed bitmask: array types and lengths, rowPtr, zero padding bits, popcounts. */
export function bitmaskValidate(a: Bitmask): void {
  checkFormat('bitmask', a);
  checkDims('bitmask', a);
  const bpr = bitmaskBytesPerRow(a.cols);
  checkArray('bitmask', 'mask', a.mask, Uint8Array, a.rows * bpr, 'rows·ceil(cols/8)');
  checkArray('bitmask', 'rowPtr', a.rowPtr, Uint32Array, a.rows + 1, 'rows+1');
  checkType('bitmask', 'values', a.values, Float32Array);
  checkRowPtr('bitmask', 'rowPtr', a.rowPtr, a.values.length, 'nnz = values.length');
  const padding = a.cols % 8 === 0 ? 0 : 0xff & ~((1 << (a.cols % 8)) - 1);
  for (let i = 0; i < a.rows; i++) {
    const last = (i + 1) * bpr - 1;
    if (a.mask[last]! & padding) {
      throw new FormatError(
        'bitmask',
        'mask',
        `mask[${last}]=0b${a.mask[last]!.toString(2)} in row ${i} has padding bits set ` +
          `(bits ${a.cols % 8}…7 lie past cols = ${a.cols} and must be 0)`,
      );
    }
    let count = 0;
    for (let b = i * bpr; b <= last; b++) count += popcount8(a.mask[b]!);
    const stored = a.rowPtr[i + 1]! - a.rowPtr[i]!;
    if (count !== stored) {
      throw new FormatError(
        'bitmask',
        'rowPtr',
        `rowPtr[${i + 1}]−rowPtr[${i}] = ${stored} but row ${i}'s mask has ${count} bits set (they must match)`,
      );
    }
  }
}

/** Exact bytes of mask + rowPtr + values. */
export function bitmaskNbytes(a: Bitmask): number {
  return byteLengths(a.mask, a.rowPtr, a.values);
}

/** Reference product: a [M,K] · b [K,N] → [M,N] (b [K] → [M]). Assumes `a` is valid. */
export function bitmaskMatmul(a: Bitmask, b: Tensor): Tensor {
  const { n, vector } = matmulRhs('bitmaskMatmul', a.cols, b);
  const out = matmulOut(a.rows, n, vector);
  forEachStored(a, (i, k, v) => axpyRow(out.data, i, v, b.data, k, n));
  return out;
}

/** Bitmask's functions as one FormatOps. */
export const bitmask: FormatOps<Bitmask> = {
  name: 'bitmask',
  fromDense: bitmaskFromDense,
  toDense: bitmaskToDense,
  validate: bitmaskValidate,
  nbytes: bitmaskNbytes,
  matmul: bitmaskMatmul,
};

/** Call f(i, k, v) for every stored element: row i, column k, value v (row-major order). */
function forEachStored(a: Bitmask, f: (i: number, k: number, v: number) => void): void {
  const bpr = bitmaskBytesPerRow(a.cols);
  for (let i = 0; i < a.rows; i++) {
    let p = a.rowPtr[i]!;
    for (let k = 0; k < a.cols; k++) {
      if ((a.mask[i * bpr + (k >> 3)]! >> (k & 7)) & 1) f(i, k, a.values[p++]!);
    }
  }
}

function popcount8(byte: number): number {
  let count = 0;
  for (let x = byte; x !== 0; x &= x - 1) count++;
  return count;
}
