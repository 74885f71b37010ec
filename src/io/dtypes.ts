/** safetensors element types: a traits table (bytes per element, typed-array view, order, f32 decode). */

import { fromBf16, fromF16 } from '../tensor/dtype.js';

/** An element type as safetensors names it in the header (`"dtype": "BF16"`). */
export type SafeDType =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64';

/**
 * The typed array a tensor's raw data comes back as. F16 and BF16 are kept as their 16-bit patterns
 * (`Uint16Array`, the layout `fromF16`/`fromBf16` in `tensor/dtype.ts` decode); BOOL is one byte per element.
 */
export type TensorArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

type ArrayCtor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => TensorArray;

/** One row of the traits table. */
export interface DTypeTraits {
  /** Bytes per element. */
  readonly bytes: number;
  /** The typed array that views the little-endian bytes. */
  readonly array: ArrayCtor;
  /**
   * Position in the reference implementation's `Dtype` enum (safetensors/src/tensor.rs, "MUST be in
   * increasing alignment order"); the writer lays tensors out by descending rank, then name, as it does.
   */
  readonly rank: number;
}

/** The traits table. F8 types exist in the format but sparsekit does not read them (it names them in the error). */
export const DTYPES: Readonly<Record<SafeDType, DTypeTraits>> = {
  BOOL: { bytes: 1, array: Uint8Array, rank: 0 },
  U8: { bytes: 1, array: Uint8Array, rank: 1 },
  I8: { bytes: 1, array: Int8Array, rank: 2 },
  I16: { bytes: 2, array: Int16Array, rank: 5 },
  U16: { bytes: 2, array: Uint16Array, rank: 6 },
  F16: { bytes: 2, array: Uint16Array, rank: 7 },
  BF16: { bytes: 2, array: Uint16Array, rank: 8 },
  I32: { bytes: 4, array: Int32Array, rank: 9 },
  U32: { bytes: 4, array: Uint32Array, rank: 10 },
  F32: { bytes: 4, array: Float32Array, rank: 11 },
  F64: { bytes: 8, array: Float64Array, rank: 12 },
  I64: { bytes: 8, array: BigInt64Array, rank: 13 },
  U64: { bytes: 8, array: BigUint64Array, rank: 14 },
};

/** Whether `s` names a dtype sparsekit reads. */
export function isSafeDType(s: unknown): s is SafeDType {
  return typeof s === 'string' && Object.hasOwn(DTYPES, s);
}

/** Whether `data` is the typed array `dtype` is stored as (e.g. BF16 ↔ Uint16Array). */
export function arrayMatchesDType(dtype: SafeDType, data: TensorArray): boolean {
  return data instanceof DTYPES[dtype].array;
}

/**
 * Decode raw elements to f32. F32 data is returned as is (not copied); every other dtype gives a new
 * array. F16/BF16 decode exactly, F64 rounds to nearest, integers convert exactly up to 2^24 and round
 * beyond (I64/U64 go through Number first).
 */
export function decodeToFloat32(dtype: SafeDType, data: TensorArray): Float32Array {
  if (!arrayMatchesDType(dtype, data)) {
    throw new TypeError(
      `toFloat32: ${dtype} data must be a ${DTYPES[dtype].array.name}, got ${data.constructor.name}`,
    );
  }
  if (dtype === 'F32') return data as Float32Array;
  if (dtype === 'F16') return fromF16(data as Uint16Array);
  if (dtype === 'BF16') return fromBf16(data as Uint16Array);
  const out = new Float32Array(data.length);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]!);
  } else {
    out.set(data);
  }
  return out;
}
