/**
 * N:M with half-precision values (bf16 or f16): N:M's group layout and metadata, 2-byte values. 2:4 then costs
 * 4 B of values + 1 B of meta per 4 weights (62.5% of dense bf16, 31.25% of dense f32), exactly, when the weight
 * was bf16 (or f16) to begin with.
 */

import { toBf16, toF16 } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { byteLengths, checkArray, checkDims, checkInt, matmulRhs } from './check.js';
import { FormatError } from './errors.js';
import { decodeHalf, type HalfFormat } from './half.js';
import { type NM, nmFromDense, nmLayout, nmMatmul, nmToDense, nmValidate } from './nm.js';
import type { FormatOps } from './types.js';

/** The format tag of a half-value N:M matrix: `nm_bf16` or `nm_f16`. */
export type HalfNMFormat = 'nm_bf16' | 'nm_f16';

/**
 * A [rows, cols] n:m matrix (see NM: the same groups, slots, meta records and padding rules) whose slot values
 * are 16-bit patterns: bfloat16 (`format: 'nm_bf16'`, value = bits << 16) or IEEE binary16 (`format: 'nm_f16'`).
 * A padding slot's value decodes to ±0.
 */
export interface HalfNM {
  readonly format: HalfNMFormat;
  readonly rows: number;
  readonly cols: number;
  /** N: values kept per group, 1 ≤ n < m. */
  readonly n: number;
  /** M: columns per group, m ≤ 16. */
  readonly m: number;
  /** [rows·G·n] bit patterns of the slot values, laid out [row][group][slot]. */
  readonly values: Uint16Array;
  /** [rows·G·metaBytesPerGroup] packed positions, exactly N:M's. */
  readonly meta: Uint8Array;
}

/** A HalfNM known to hold bf16 values. */
export type BF16NM = HalfNM & { readonly format: 'nm_bf16' };
/** A HalfNM known to hold f16 values. */
export type F16NM = HalfNM & { readonly format: 'nm_f16' };

/** The format tag for half values of type `values`. */
export function halfNmFormat(values: HalfFormat): HalfNMFormat {
  if (values !== 'bf16' && values !== 'f16') {
    throw new RangeError(`halfNm: values must be "bf16" or "f16", got ${JSON.stringify(values)}`);
  }
  return values === 'bf16' ? 'nm_bf16' : 'nm_f16';
}

/** The value type of a half-value N:M matrix: 'bf16' or 'f16'. */
export function halfNmValues(a: { format: HalfNMFormat }): HalfFormat {
  return a.format === 'nm_bf16' ? 'bf16' : 'f16';
}

/**
 * Pack a dense w [M,K] that already satisfies n:m (as nmFromDense: throws FormatError naming the row and group
 * otherwise), each kept value rounded to `values` precision, to nearest even.
 *
 * ```ts
 * const a = halfNmFromDense(nmPruneMagnitude(w, 2, 4), 2, 4, 'bf16'); // 5 bytes per 4 weights
 * matmul(a, x);                                                       // SpMV, f32 accumulation
 * ```
 */
export function halfNmFromDense(w: Tensor, n: number, m: number, values: 'bf16'): BF16NM;
export function halfNmFromDense(w: Tensor, n: number, m: number, values: 'f16'): F16NM;
export function halfNmFromDense(w: Tensor, n: number, m: number, values: HalfFormat): HalfNM;
export function halfNmFromDense(w: Tensor, n: number, m: number, values: HalfFormat): HalfNM {
  halfNmFormat(values);
  return halfNmFromNm(nmFromDense(w, n, m), values);
}

/** The same groups as `a` with its values rounded to `values` precision (exact when they are representable). */
export function halfNmFromNm(a: NM, values: 'bf16'): BF16NM;
export function halfNmFromNm(a: NM, values: 'f16'): F16NM;
export function halfNmFromNm(a: NM, values: HalfFormat): HalfNM;
export function halfNmFromNm(a: NM, values: HalfFormat): HalfNM {
  const format = halfNmFormat(values);
  const bits = values === 'bf16' ? toBf16(a.values) : toF16(a.values);
  return { format, rows: a.rows, cols: a.cols, n: a.n, m: a.m, values: bits, meta: a.meta };
}

/** Widen to an N:M matrix with f32 values (exact; shares meta with `a`). */
export function halfNmToNm(a: HalfNM): NM {
  const values = decodeHalf(halfNmValues(a), a.values);
  return { format: 'nm', rows: a.rows, cols: a.cols, n: a.n, m: a.m, values, meta: a.meta };
}

/** Build a half-value N:M matrix from its arrays and validate it (throws FormatError if malformed). Not copied. */
export function halfNmFromParts(
  rows: number,
  cols: number,
  n: number,
  m: number,
  values: Uint16Array,
  meta: Uint8Array,
  valueType: HalfFormat,
): HalfNM {
  const a: HalfNM = { format: halfNmFormat(valueType), rows, cols, n, m, values, meta };
  halfNmValidate(a);
  return a;
}

/** Unpack to a new dense f32 [rows, cols] tensor (exact). */
export function halfNmToDense(a: HalfNM): Tensor {
  return nmToDense(halfNmToNm(a));
}

/**
 * Throw FormatError unless `a` is a well-formed half-value N:M matrix: its tag, a Uint16Array of values, and
 * every rule of nmValidate on the decoded values (padding slots must decode to ±0).
 */
export function halfNmValidate(a: HalfNM): void {
  const tag = (a as { format?: unknown } | null)?.format;
  const f = tag === 'nm_f16' ? 'nm_f16' : 'nm_bf16';
  if (a === null || typeof a !== 'object' || (tag !== 'nm_bf16' && tag !== 'nm_f16')) {
    throw new FormatError(f, 'format', `format is ${JSON.stringify(tag)} but must be "nm_bf16" or "nm_f16"`);
  }
  checkDims(f, a);
  checkInt(f, 'm', a.m, 2, 16);
  checkInt(f, 'n', a.n, 1, a.m - 1);
  const { groups } = nmLayout(a.cols, a.n, a.m);
  checkArray(f, 'values', a.values, Uint16Array, a.rows * groups * a.n, 'rows·ceil(cols/m)·n');
  try {
    nmValidate(halfNmToNm(a));
  } catch (e) {
    // the same rule, named for this format (nmValidate says "nm: …")
    if (e instanceof FormatError) throw new FormatError(f, e.field, e.message.replace(/^nm: /, ''));
    throw e;
  }
}

/** Exact bytes of values + meta. */
export function halfNmNbytes(a: HalfNM): number {
  return byteLengths(a.values, a.meta);
}

/**
 * Reference product: a [M,K] · b [K,N] → [M,N] (b [K] → [M]), each value decoded exactly to f32 and summed in
 * f32 in storage order, like nmMatmul. Assumes `a` is valid.
 */
export function halfNmMatmul(a: HalfNM, b: Tensor): Tensor {
  matmulRhs(`${a.format}Matmul`, a.cols, b); // the error names this format, not nm
  return nmMatmul(halfNmToNm(a), b);
}

/** Number of live slots whose value is not ±0 (NaN counts as non-zero), read from the bits. */
export function halfNmNonZero(a: HalfNM): number {
  let count = 0;
  for (let i = 0; i < a.values.length; i++) if ((a.values[i]! & 0x7fff) !== 0) count++;
  return count;
}

/** N:M-with-bf16-values' functions as one FormatOps; `fromDense(w, n, m)` rounds to nearest even. */
export const nmBf16 = halfNmOps<BF16NM>('nm_bf16');

/** N:M-with-f16-values' functions as one FormatOps; `fromDense(w, n, m)` rounds to nearest even. */
export const nmF16 = halfNmOps<F16NM>('nm_f16');

function halfNmOps<T extends HalfNM>(format: T['format']): FormatOps<T, [n: number, m: number]> {
  const values = format === 'nm_bf16' ? 'bf16' : 'f16';
  return {
    name: format,
    fromDense: (w, n, m) => halfNmFromDense(w, n, m, values) as T,
    toDense: halfNmToDense,
    validate: (a) => validateAs(format, a),
    nbytes: halfNmNbytes,
    matmul: halfNmMatmul,
  };
}

function validateAs(format: HalfNMFormat, a: HalfNM): void {
  halfNmValidate(a);
  if (a.format !== format) {
    throw new FormatError(format, 'format', `format is "${a.format}" but must be "${format}"`);
  }
}
