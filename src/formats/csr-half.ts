/**
 * CSR with half-precision values (bf16 or f16): CSR's row pointers and column indices, 2-byte values. With u16
 * column indices a kept weight costs 4 bytes instead of CSR's 6, exactly, when the weight was bf16 (or f16)
 * to begin with.
 */

import { bf16BitsToF32, f16BitsToF32, f32ToF16Bits, toBf16, toF16 } from '../tensor/dtype.js';
import { dims2, Tensor } from '../tensor/tensor.js';
import {
  axpyRow,
  byteLengths,
  checkArray,
  checkDims,
  checkIndexArray,
  checkLength,
  checkRowPtr,
  checkSortedIndices,
  checkType,
  matmulOut,
  matmulRhs,
} from './check.js';
import { type CSR, csrFromDense } from './csr.js';
import { FormatError } from './errors.js';
import { decodeHalf, type HalfFormat } from './half.js';
import type { FormatOps } from './types.js';

/** The format tag of a half-value CSR: `csr_bf16` or `csr_f16`. */
export type HalfCSRFormat = 'csr_bf16' | 'csr_f16';

/**
 * A [rows, cols] matrix in compressed sparse row form whose values are 16-bit patterns: bfloat16
 * (`format: 'csr_bf16'`, value = bits << 16) or IEEE binary16 (`format: 'csr_f16'`). rowPtr and colIdx are
 * exactly CSR's (colIdx u16 when cols ≤ 65536, else u32). Explicit zeros may be stored.
 */
export interface HalfCSR {
  readonly format: HalfCSRFormat;
  readonly rows: number;
  readonly cols: number;
  /** [rows+1] offsets into colIdx/values; rowPtr[0] = 0, rowPtr[rows] = nnz. */
  readonly rowPtr: Uint32Array;
  /** [nnz] column of each stored entry, strictly increasing per row. */
  readonly colIdx: Uint16Array | Uint32Array;
  /** [nnz] bit pattern of each stored entry's value. */
  readonly values: Uint16Array;
}

/** A HalfCSR known to hold bf16 values. */
export type BF16CSR = HalfCSR & { readonly format: 'csr_bf16' };
/** A HalfCSR known to hold f16 values. */
export type F16CSR = HalfCSR & { readonly format: 'csr_f16' };

/** The format tag for half values of type `values`. */
export function halfCsrFormat(values: HalfFormat): HalfCSRFormat {
  if (values !== 'bf16' && values !== 'f16') {
    throw new RangeError(`halfCsr: values must be "bf16" or "f16", got ${JSON.stringify(values)}`);
  }
  return values === 'bf16' ? 'csr_bf16' : 'csr_f16';
}

/** The value type of a half-value CSR: 'bf16' or 'f16'. */
export function halfCsrValues(a: { format: HalfCSRFormat }): HalfFormat {
  return a.format === 'csr_bf16' ? 'bf16' : 'f16';
}

/**
 * Pack a dense w [M,K] as CSR with `values` precision, dropping exact zeros (as csrFromDense) and rounding
 * each kept value to nearest even. A value that rounds to ±0 stays stored, as an explicit zero.
 *
 * ```ts
 * const a = halfCsrFromDense(w, 'bf16'); // 4 bytes per kept weight with u16 indices
 * matmul(a, x);                           // SpMV, f32 accumulation
 * ```
 */
export function halfCsrFromDense(w: Tensor, values: 'bf16'): BF16CSR;
export function halfCsrFromDense(w: Tensor, values: 'f16'): F16CSR;
export function halfCsrFromDense(w: Tensor, values: HalfFormat): HalfCSR;
export function halfCsrFromDense(w: Tensor, values: HalfFormat): HalfCSR {
  halfCsrFormat(values);
  dims2(w, 'halfCsrFromDense: w');
  return halfCsrFromCsr(csrFromDense(w), values);
}

/** The same structure as `a` with its values rounded to `values` precision (exact when they are representable). */
export function halfCsrFromCsr(a: CSR, values: 'bf16'): BF16CSR;
export function halfCsrFromCsr(a: CSR, values: 'f16'): F16CSR;
export function halfCsrFromCsr(a: CSR, values: HalfFormat): HalfCSR;
export function halfCsrFromCsr(a: CSR, values: HalfFormat): HalfCSR {
  const format = halfCsrFormat(values);
  const bits = values === 'bf16' ? toBf16(a.values) : toF16(a.values);
  return { format, rows: a.rows, cols: a.cols, rowPtr: a.rowPtr, colIdx: a.colIdx, values: bits };
}

/** Widen to a CSR with f32 values (exact; shares rowPtr and colIdx with `a`). */
export function halfCsrToCsr(a: HalfCSR): CSR {
  const values = decodeHalf(halfCsrValues(a), a.values);
  return { format: 'csr', rows: a.rows, cols: a.cols, rowPtr: a.rowPtr, colIdx: a.colIdx, values };
}

/** Build a half-value CSR from its arrays and validate it (throws FormatError if malformed). Arrays are not copied. */
export function halfCsrFromParts(
  rows: number,
  cols: number,
  rowPtr: Uint32Array,
  colIdx: Uint16Array | Uint32Array,
  values: Uint16Array,
  valueType: HalfFormat,
): HalfCSR {
  const a: HalfCSR = { format: halfCsrFormat(valueType), rows, cols, rowPtr, colIdx, values };
  halfCsrValidate(a);
  return a;
}

/** Unpack to a new dense f32 [rows, cols] tensor (exact). */
export function halfCsrToDense(a: HalfCSR): Tensor {
  const decode = halfCsrValues(a) === 'bf16' ? bf16BitsToF32 : f16BitsToF32;
  const out = new Float32Array(a.rows * a.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let p = a.rowPtr[i]!; p < a.rowPtr[i + 1]!; p++) {
      out[i * a.cols + a.colIdx[p]!] = decode(a.values[p]!);
    }
  }
  return new Tensor(out, [a.rows, a.cols]);
}

/** Throw FormatError unless `a` is a well-formed half-value CSR (tag, arrays, rowPtr, sorted in-range columns). */
export function halfCsrValidate(a: HalfCSR): void {
  const tag = (a as { format?: unknown } | null)?.format;
  const f = tag === 'csr_f16' ? 'csr_f16' : 'csr_bf16';
  if (a === null || typeof a !== 'object' || (tag !== 'csr_bf16' && tag !== 'csr_f16')) {
    throw new FormatError(
      f,
      'format',
      `format is ${JSON.stringify(tag)} but must be "csr_bf16" or "csr_f16"`,
    );
  }
  checkDims(f, a);
  checkArray(f, 'rowPtr', a.rowPtr, Uint32Array, a.rows + 1, 'rows+1');
  checkType(f, 'values', a.values, Uint16Array);
  const nnz = a.values.length;
  checkIndexArray(f, 'colIdx', a.colIdx, a.cols, 'cols');
  checkLength(f, 'colIdx', a.colIdx, nnz, 'nnz = values.length');
  checkRowPtr(f, 'rowPtr', a.rowPtr, nnz, 'nnz = values.length');
  for (let i = 0; i < a.rows; i++) {
    checkSortedIndices(f, 'colIdx', a.colIdx, a.rowPtr[i]!, a.rowPtr[i + 1]!, a.cols, 'cols', `row ${i}`);
  }
}

/** Exact bytes of rowPtr + colIdx + values: 4·(rows+1) + (idxBytes + 2)·nnz. */
export function halfCsrNbytes(a: HalfCSR): number {
  return byteLengths(a.rowPtr, a.colIdx, a.values);
}

/**
 * Reference product: a [M,K] · b [K,N] → [M,N] (b [K] → [M]), each value decoded exactly to f32 and summed in
 * f32 in storage order, like csrMatmul. Assumes `a` is valid.
 */
export function halfCsrMatmul(a: HalfCSR, b: Tensor): Tensor {
  const { n, vector } = matmulRhs(`${a.format}Matmul`, a.cols, b);
  const out = matmulOut(a.rows, n, vector);
  const decode = halfCsrValues(a) === 'bf16' ? bf16BitsToF32 : f16BitsToF32;
  for (let i = 0; i < a.rows; i++) {
    for (let p = a.rowPtr[i]!; p < a.rowPtr[i + 1]!; p++) {
      axpyRow(out.data, i, decode(a.values[p]!), b.data, a.colIdx[p]!, n);
    }
  }
  return out;
}

/** Number of stored values that are not ±0 (NaN counts as non-zero), read from the bits. */
export function halfCsrNonZero(a: HalfCSR): number {
  let count = 0;
  for (let i = 0; i < a.values.length; i++) if ((a.values[i]! & 0x7fff) !== 0) count++;
  return count;
}

/**
 * Whether every f32 in `values` is exactly a `type` value (NaN counts as exact), so storing it in 2 bytes
 * loses nothing: true for the weights of a bf16 (or f16) checkpoint, even after pruning.
 */
export function exactInHalf(values: Float32Array, type: HalfFormat): boolean {
  if (type === 'bf16') {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < bits.length; i++) {
      if ((bits[i]! & 0xffff) !== 0 && !Number.isNaN(values[i])) return false;
    }
    return true;
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v) && !Object.is(f16BitsToF32(f32ToF16Bits(v)), v)) return false;
  }
  return true;
}

/** CSR-with-bf16-values' functions as one FormatOps; `fromDense(w)` rounds to nearest even. */
export const csrBf16: FormatOps<BF16CSR> = {
  name: 'csr_bf16',
  fromDense: (w) => halfCsrFromDense(w, 'bf16'),
  toDense: halfCsrToDense,
  validate: (a) => validateAs('csr_bf16', a),
  nbytes: halfCsrNbytes,
  matmul: halfCsrMatmul,
};

/** CSR-with-f16-values' functions as one FormatOps; `fromDense(w)` rounds to nearest even. */
export const csrF16: FormatOps<F16CSR> = {
  name: 'csr_f16',
  fromDense: (w) => halfCsrFromDense(w, 'f16'),
  toDense: halfCsrToDense,
  validate: (a) => validateAs('csr_f16', a),
  nbytes: halfCsrNbytes,
  matmul: halfCsrMatmul,
};

function validateAs(format: HalfCSRFormat, a: HalfCSR): void {
  halfCsrValidate(a);
  if (a.format !== format) {
    throw new FormatError(format, 'format', `format is "${a.format}" but must be "${format}"`);
  }
}
