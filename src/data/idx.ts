/**
 * The IDX file format of (Fashion-)MNIST: a 4-byte magic (0, 0, element type, number of dimensions), one
 * big-endian u32 per dimension, then the elements row-major. Files may be gzip-compressed (`.gz`, as
 * Debian ships them). Every field is checked: a truncated, padded or mislabelled file is an IoError naming
 * the file, never read as garbage.
 */

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { IoError } from '../io/errors.js';

/** An IDX array of unsigned bytes (the only element type (Fashion-)MNIST uses). */
export interface IdxArray {
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** IDX element type codes (the third magic byte) and their sizes; only 0x08 (u8) is read. */
const TYPE_NAMES: Readonly<Record<number, string>> = {
  8: 'u8',
  9: 'i8',
  11: 'i16',
  12: 'i32',
  13: 'f32',
  14: 'f64',
};

/** Parse IDX bytes (already decompressed). `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) throw new IoError(file, `is ${bytes.length} bytes, too short for an IDX header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IoError(file, 'is not an IDX file (its first two bytes must be 0, 0)');
  }
  const type = bytes[2]!;
  const rank = bytes[3]!;
  if (type !== 0x08) {
    const name = TYPE_NAMES[type];
    throw new IoError(
      file,
      name
        ? `holds ${name} elements; only u8 IDX files (type 0x08) are supported`
        : `has an unknown IDX element type 0x${type.toString(16)}`,
    );
  }
  if (rank < 1) throw new IoError(file, 'declares 0 dimensions');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new IoError(file, `is truncated inside its header (${rank} dimensions need ${headerBytes} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerBytes;
  if (have !== count) {
    throw new IoError(
      file,
      `${have < count ? 'is truncated' : 'has trailing bytes'}: shape [${shape.join(', ')}] needs ${count} ` +
        `data bytes, the file has ${have}`,
    );
  }
  return { shape, data: bytes.subarray(headerBytes) };
}

/** Read an IDX file, gunzipping it when it starts with the gzip magic. */
export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new IoError(path, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new IoError(path, `is a damaged gzip file (${(e as Error).message})`);
    }
  }
  return parseIdx(bytes, path);
}

/** The bytes of an IDX u8 file for `shape` and `data` (used by tests and tools that write datasets). */
export function encodeIdx(shape: readonly number[], data: Uint8Array): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new RangeError(
      `encodeIdx: data has ${data.length} bytes but shape [${shape.join(', ')}] needs ${count}`,
    );
  }
  const out = new Uint8Array(4 + 4 * shape.length + count);
  out[2] = 0x08;
  out[3] = shape.length;
  const view = new DataView(out.buffer);
  for (let i = 0; i < shape.length; i++) view.setUint32(4 + 4 * i, shape[i]!, false);
  out.set(data, 4 + 4 * shape.length);
  return out;
}
