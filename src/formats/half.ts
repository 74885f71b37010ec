/** Dense matrices stored in half precision (bf16 or f16): 2 bytes per weight, multiplied in f32. */

import { bf16BitsToF32, f16BitsToF32, fromBf16, fromF16, toBf16, toF16 } from '../tensor/dtype.js';
import { dims2, Tensor } from '../tensor/tensor.js';
import { checkArray, checkDims, matmulOut, matmulRhs } from './check.js';
import { FormatError } from './errors.js';
import type { FormatOps } from './types.js';

/** The two half-precision storage types: bfloat16 (f32's top 16 bits) and IEEE binary16. */
export type HalfFormat = 'bf16' | 'f16';

/**
 * A dense [rows, cols] matrix whose elements are stored as 16-bit patterns, row-major: element (i, k)
 * is `data[i·cols + k]`, decoded as bfloat16 (`format: 'bf16'`, exact widening: bits << 16) or IEEE
 * binary16 (`format: 'f16'`, subnormals, ±Inf and NaN included). Every bit pattern is a valid element.
 * Half the bytes of dense f32: a decode step that streams the weight moves half as much.
 */
export interface HalfMatrix {
  readonly format: HalfFormat;
  readonly rows: number;
  readonly cols: number;
  /** [rows·cols] element bit patterns, row-major. */
  readonly data: Uint16Array;
}

/** A HalfMatrix known to be bf16. */
export type BF16Matrix = HalfMatrix & { readonly format: 'bf16' };
/** A HalfMatrix known to be f16. */
export type F16Matrix = HalfMatrix & { readonly format: 'f16' };

/**
 * Round a dense t [M,K] to half precision, round-to-nearest-even (f16: overflow to ±Inf, tiny values to
 * subnormals or ±0; both keep NaN a NaN).
 *
 * ```ts
 * const w16 = halfFromDense(w, 'bf16'); // 2 bytes per weight; matmul(w16, x) accumulates in f32
 * ```
 */
export function halfFromDense(t: Tensor, format: 'bf16'): BF16Matrix;
export function halfFromDense(t: Tensor, format: 'f16'): F16Matrix;
export function halfFromDense(t: Tensor, format: HalfFormat): HalfMatrix;
export function halfFromDense(t: Tensor, format: HalfFormat): HalfMatrix {
  checkHalfFormat(format, 'halfFromDense');
  const [rows, cols] = dims2(t, 'halfFromDense: t');
  const data = format === 'bf16' ? toBf16(t.data) : toF16(t.data);
  return { format, rows, cols, data };
}

/**
 * Wrap bit patterns already in half precision (e.g. a bf16 tensor read from safetensors) as a
 * [rows, cols] matrix without copying: the matrix shares `bits`.
 */
export function halfFromBits(bits: Uint16Array, rows: number, cols: number, format: 'bf16'): BF16Matrix;
export function halfFromBits(bits: Uint16Array, rows: number, cols: number, format: 'f16'): F16Matrix;
export function halfFromBits(bits: Uint16Array, rows: number, cols: number, format: HalfFormat): HalfMatrix;
export function halfFromBits(bits: Uint16Array, rows: number, cols: number, format: HalfFormat): HalfMatrix {
  checkHalfFormat(format, 'halfFromBits');
  const a = { format, rows, cols, data: bits };
  halfValidate(a);
  return a;
}

/** Decode to a new dense f32 [rows, cols] tensor (exact: every half value is an f32 value). */
export function halfToDense(a: HalfMatrix): Tensor {
  return new Tensor(decodeHalf(a.format, a.data), [a.rows, a.cols]);
}

/** Throw FormatError unless `a` is tagged bf16 or f16, has valid dims and a Uint16Array of rows·cols. */
export function halfValidate(a: HalfMatrix): void {
  const tag = (a as { format?: unknown } | null)?.format;
  const format = tag === 'f16' ? 'f16' : 'bf16';
  if (a === null || typeof a !== 'object' || (tag !== 'bf16' && tag !== 'f16')) {
    throw new FormatError(format, 'format', `format is ${JSON.stringify(tag)} but must be "bf16" or "f16"`);
  }
  checkDims(format, a);
  checkArray(format, 'data', a.data, Uint16Array, a.rows * a.cols, 'rows·cols');
}

/** Exact bytes of `data`: 2·rows·cols. */
export function halfNbytes(a: HalfMatrix): number {
  return a.data.byteLength;
}

/**
 * Reference product: a [M,K] · b [K,N] → [M,N] (b [K] → [M]), each row decoded to f32 and every
 * output summed in f64. Assumes `a` is valid.
 */
export function halfMatmul(a: HalfMatrix, b: Tensor): Tensor {
  const { n, vector } = matmulRhs(`${a.format}Matmul`, a.cols, b);
  const out = matmulOut(a.rows, n, vector);
  const K = a.cols;
  const decode = a.format === 'bf16' ? bf16BitsToF32 : f16BitsToF32;
  const row = new Float32Array(K);
  const acc = new Float64Array(n);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < K; k++) row[k] = decode(a.data[i * K + k]!);
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const v = row[k]!;
      for (let j = 0; j < n; j++) acc[j]! += v * b.data[k * n + j]!;
    }
    out.data.set(acc, i * n);
  }
  return out;
}

/** Number of elements that are not ±0 (NaN counts as non-zero), read from the bits. */
export function halfNonZero(a: HalfMatrix): number {
  let count = 0;
  for (let i = 0; i < a.data.length; i++) if ((a.data[i]! & 0x7fff) !== 0) count++;
  return count;
}

/** bf16's functions as one FormatOps; `fromDense(w)` rounds to nearest even. */
export const bf16: FormatOps<BF16Matrix> = {
  name: 'bf16',
  fromDense: (w) => halfFromDense(w, 'bf16'),
  toDense: halfToDense,
  validate: (a) => validateAs('bf16', a),
  nbytes: halfNbytes,
  matmul: halfMatmul,
};

/** f16's functions as one FormatOps; `fromDense(w)` rounds to nearest even. */
export const f16: FormatOps<F16Matrix> = {
  name: 'f16',
  fromDense: (w) => halfFromDense(w, 'f16'),
  toDense: halfToDense,
  validate: (a) => validateAs('f16', a),
  nbytes: halfNbytes,
  matmul: halfMatmul,
};

/** f32 values of half bit patterns. */
export function decodeHalf(format: HalfFormat, bits: Uint16Array): Float32Array {
  return format === 'bf16' ? fromBf16(bits) : fromF16(bits);
}

function validateAs(format: HalfFormat, a: HalfMatrix): void {
  halfValidate(a);
  if (a.format !== format) {
    throw new FormatError(format, 'format', `format is "${a.format}" but must be "${format}"`);
  }
}

function checkHalfFormat(format: unknown, fn: string): asserts format is HalfFormat {
  if (format !== 'bf16' && format !== 'f16') {
    throw new RangeError(`${fn}: format must be "bf16" or "f16", got ${JSON.stringify(format)}`);
  }
}
