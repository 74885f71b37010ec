/** Shared validation and shape helpers for the format files (not re-exported). */

import { Tensor } from '../tensor/tensor.js';
import { FormatError } from './errors.js';

type TypedArrayCtor =
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor;

/** Largest column count whose indices fit in a Uint16Array (indices 0…65535). */
export const U16_INDEX_LIMIT = 65536;

/** The narrowest index array type for indices in [0, bound): Uint16Array if bound ≤ 65536, else Uint32Array. */
export function indexArrayType(bound: number): Uint16ArrayConstructor | Uint32ArrayConstructor {
  return bound <= U16_INDEX_LIMIT ? Uint16Array : Uint32Array;
}

/** Throw unless `a` is an object tagged `format`. */
export function checkFormat(format: string, a: unknown): void {
  if (a === null || typeof a !== 'object') {
    throw new FormatError(format, 'format', `expected an object, got ${a}`);
  }
  const tag = (a as { format?: unknown }).format;
  if (tag !== format) {
    throw new FormatError(format, 'format', `format is ${JSON.stringify(tag)} but must be "${format}"`);
  }
}

/** Throw unless `value` is an integer in [min, max]; `field` names it. */
export function checkInt(format: string, field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new FormatError(format, field, `${field} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/** Throw unless rows and cols are valid dimensions (cols ≤ 2^32 so u32 column indices fit). */
export function checkDims(format: string, a: { rows: unknown; cols: unknown }): void {
  checkInt(format, 'rows', a.rows, 0, 2 ** 32 - 1);
  checkInt(format, 'cols', a.cols, 0, 2 ** 32);
}

/** Throw unless `arr` is an instance of `type` (e.g. values must be a Float32Array). */
export function checkType<T extends TypedArrayCtor>(
  format: string,
  field: string,
  arr: unknown,
  type: T,
): asserts arr is InstanceType<T> {
  if (!(arr instanceof type)) {
    throw new FormatError(format, field, `${field} must be a ${type.name}, got ${describe(arr)}`);
  }
}

/** Throw unless `arr` has `length` elements; `lengthText` says why (e.g. `rows+1`). */
export function checkLength(
  format: string,
  field: string,
  arr: ArrayLike<number>,
  length: number,
  lengthText: string,
): void {
  if (arr.length !== length) {
    throw new FormatError(
      format,
      field,
      `${field} has length ${arr.length} but must be ${lengthText} = ${length}`,
    );
  }
}

/** Throw unless `arr` is an instance of `type` with `length` elements. */
export function checkArray(
  format: string,
  field: string,
  arr: unknown,
  type: TypedArrayCtor,
  length: number,
  lengthText: string,
): void {
  checkType(format, field, arr, type);
  checkLength(format, field, arr, length, lengthText);
}

/** Throw unless `arr` is the narrowest index array for indices below `bound` (`boundText` names the bound). */
export function checkIndexArray(
  format: string,
  field: string,
  arr: unknown,
  bound: number,
  boundText: string,
): asserts arr is Uint16Array | Uint32Array {
  const type = indexArrayType(bound);
  if (!(arr instanceof type)) {
    const rule = `${boundText} = ${bound} is ${bound <= U16_INDEX_LIMIT ? '≤' : '>'} ${U16_INDEX_LIMIT}`;
    throw new FormatError(
      format,
      field,
      `${field} must be a ${type.name} because ${rule}, got ${describe(arr)}`,
    );
  }
}

/**
 * Throw unless `ptr` (length n+1) starts at 0, never decreases and ends at `total`.
 * `totalText` names the total, e.g. `nnz = values.length`.
 */
export function checkRowPtr(
  format: string,
  field: string,
  ptr: Uint32Array,
  total: number,
  totalText: string,
): void {
  const n = ptr.length - 1;
  if (ptr[0] !== 0) throw new FormatError(format, field, `${field}[0]=${ptr[0]} but must be 0`);
  for (let i = 1; i <= n; i++) {
    if (ptr[i]! < ptr[i - 1]!) {
      throw new FormatError(
        format,
        field,
        `${field}[${i}]=${ptr[i]} is less than ${field}[${i - 1}]=${ptr[i - 1]} (must be non-decreasing)`,
      );
    }
  }
  if (ptr[n] !== total) {
    throw new FormatError(format, field, `${field}[${n}]=${ptr[n]} but must equal ${totalText} = ${total}`);
  }
}

/**
 * Throw unless idx[start…end) are < bound and strictly increasing (the indices of one row).
 * `what` names the row, e.g. `row 3` or `block row 2`; `boundText` names the bound, e.g. `cols`.
 */
export function checkSortedIndices(
  format: string,
  field: string,
  idx: Uint16Array | Uint32Array,
  start: number,
  end: number,
  bound: number,
  boundText: string,
  what: string,
): void {
  for (let p = start; p < end; p++) {
    if (idx[p]! >= bound) {
      throw new FormatError(
        format,
        field,
        `${field}[${p}]=${idx[p]} is out of range in ${what} (must be < ${boundText} = ${bound})`,
      );
    }
    if (p > start && idx[p]! <= idx[p - 1]!) {
      throw new FormatError(
        format,
        field,
        `${field}[${p}]=${idx[p]} is not greater than ${field}[${p - 1}]=${idx[p - 1]} in ${what} ` +
          '(indices must be strictly increasing)',
      );
    }
  }
}

/** Number of elements of `values` that are not 0 (NaN counts as non-zero). */
export function countNonZero(values: Float32Array): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) count++;
  return count;
}

/** Sum of byteLength over the typed arrays given. */
export function byteLengths(...arrays: ArrayBufferView[]): number {
  let total = 0;
  for (const a of arrays) total += a.byteLength;
  return total;
}

/**
 * Check the right operand of `fn(a, b)`: a [M,K] · b [K,N]. Returns N and whether b is a vector [K]
 * (then the result is [M]). Throws RangeError naming the argument.
 */
export function matmulRhs(fn: string, cols: number, b: Tensor): { n: number; vector: boolean } {
  if (!(b instanceof Tensor)) throw new RangeError(`${fn}: b must be a Tensor, got ${describe(b)}`);
  if (b.rank === 1) {
    if (b.shape[0] !== cols) {
      throw new RangeError(`${fn}: b has length ${b.shape[0]} but a has ${cols} columns`);
    }
    return { n: 1, vector: true };
  }
  if (b.rank !== 2) throw new RangeError(`${fn}: b must be rank 1 or 2, got shape [${b.shape.join(', ')}]`);
  if (b.shape[0] !== cols) throw new RangeError(`${fn}: b has ${b.shape[0]} rows but a has ${cols} columns`);
  return { n: b.shape[1]!, vector: false };
}

/** A zero output for matmul: [rows] if `vector`, else [rows, n]. */
export function matmulOut(rows: number, n: number, vector: boolean): Tensor {
  return Tensor.zeros(vector ? [rows] : [rows, n]);
}

/** out[i, :] += v · b[k, :] for row-major out [M,N] and b [K,N]: the one step every reference matmul takes. */
export function axpyRow(
  out: Float32Array,
  i: number,
  v: number,
  b: Float32Array,
  k: number,
  n: number,
): void {
  const o = i * n;
  const s = k * n;
  for (let j = 0; j < n; j++) out[o + j]! += v * b[s + j]!;
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === 'object') return x.constructor?.name ?? 'object';
  return typeof x;
}
