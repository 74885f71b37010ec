/**
 * safetensors reader: validates the whole header once, then reads tensors one at a time from disk.
 *
 * Layout (https://github.com/huggingface/safetensors): 8 bytes little-endian u64 N, N bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { str: str } }` (may end in
 * spaces), then the data buffer; offsets are relative to the buffer's start. The reference implementation
 * (safetensors/src/tensor.rs, `Metadata::validate`) sorts entries by offsets and requires each to start
 * where the previous one ended, the first at 0 and the last to end at the end of the file: no holes, no
 * overlaps, no trailing bytes. This reader enforces the same, with a message that names the tensor.
 */

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { Tensor } from '../tensor/tensor.js';
import { DTYPES, decodeToFloat32, isSafeDType, type SafeDType, type TensorArray } from './dtypes.js';
import { IoError, tensorError } from './errors.js';

/** Headers above this are rejected, as the reference implementation does (`MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Where one tensor lives in a file (offsets relative to the data buffer, as in the header). */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  /** Byte offsets [begin, end) in the data buffer. */
  readonly begin: number;
  readonly end: number;
}

/** One tensor read from disk: raw elements in their stored dtype (row-major, `shape`). */
export interface RawTensor {
  readonly name: string;
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  readonly data: TensorArray;
}

/** Anything tensors can be read from by name: one safetensors file or a sharded checkpoint. */
export interface WeightSource {
  /** The `__metadata__` string map (for a sharded checkpoint: the index's `metadata`, stringified). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names (a file: in data order; sharded: in index order). */
  names(): string[];
  has(name: string): boolean;
  /** dtype, shape and offsets of a tensor, without reading its data. */
  info(name: string): TensorInfo;
  /** Read one tensor's data from disk. */
  readTensor(name: string): RawTensor;
  /** Tensor names grouped by file, files in order (one group for a single file); lets a copy keep the sharding. */
  layout(): string[][];
  /** Close open file handles; reading after close reopens nothing and throws. */
  close(): void;
}

/** A parsed, validated header. */
export interface SafetensorsHeader {
  /** Byte length N of the JSON header (the data buffer starts at 8 + N). */
  readonly headerBytes: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Entries sorted by offset (the order of the data buffer). */
  readonly tensors: readonly TensorInfo[];
}

function describe(dtype: SafeDType, shape: readonly number[]): string {
  return `${dtype} [${shape.join(', ')}]`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new IoError(file, `"__metadata__" must be an object of strings, got ${JSON.stringify(value)}`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new IoError(file, `"__metadata__"."${k}" must be a string, got ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  return out;
}

function parseEntry(file: string, name: string, value: unknown): TensorInfo {
  if (!isPlainObject(value))
    throw tensorError(file, name, `entry must be an object, got ${JSON.stringify(value)}`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isSafeDType(dtype)) {
    throw tensorError(
      file,
      name,
      `has dtype ${JSON.stringify(dtype)}, which sparsekit does not read (known: ${Object.keys(DTYPES).join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw tensorError(
      file,
      name,
      `has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`,
    );
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw tensorError(
      file,
      name,
      `has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with 0 ≤ begin ≤ end`,
    );
  }
  let elements = 1;
  for (const d of shape) elements *= d;
  const need = elements * DTYPES[dtype].bytes;
  const [begin, end] = offsets as [number, number];
  if (!Number.isSafeInteger(need) || end - begin !== need) {
    throw tensorError(
      file,
      name,
      `claims bytes ${begin}..${end} but ${describe(dtype, shape)} needs ${need}`,
    );
  }
  return { name, dtype, shape: Object.freeze([...shape]), begin, end };
}

/**
 * Parse and validate a header. `json` is the N header bytes; `dataBytes` the size of the data buffer
 * (file size − 8 − N). Throws IoError naming the tensor for: bad JSON, non-object header, unknown dtype,
 * bad shape, size mismatch, overlap, hole, data past the end, trailing bytes.
 */
export function parseHeader(file: string, json: Uint8Array, dataBytes: number): SafetensorsHeader {
  let parsed: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(json);
    parsed = JSON.parse(text);
  } catch (e) {
    throw new IoError(
      file,
      `header is not valid UTF-8 JSON (${(e as Error).message}); not a safetensors file?`,
    );
  }
  if (!isPlainObject(parsed)) throw new IoError(file, 'header must be a JSON object');
  let metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (name === '__metadata__') metadata = parseMetadata(file, value);
    else tensors.push(parseEntry(file, name, value));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: TensorInfo | undefined;
  for (const t of tensors) {
    if (t.end > dataBytes) {
      throw tensorError(
        file,
        t.name,
        `claims bytes ${t.begin}..${t.end} but the data buffer has only ${dataBytes} bytes (file truncated?)`,
      );
    }
    if (t.begin < cursor) {
      throw tensorError(
        file,
        t.name,
        `(bytes ${t.begin}..${t.end}) overlaps "${previous!.name}" (bytes ${previous!.begin}..${previous!.end})`,
      );
    }
    if (t.begin > cursor) {
      const after = previous ? `after "${previous.name}"` : 'at the start of the data buffer';
      throw tensorError(
        file,
        t.name,
        `starts at byte ${t.begin}, leaving a hole of ${t.begin - cursor} bytes ${after}; safetensors requires tensors to be contiguous`,
      );
    }
    cursor = t.end;
    previous = t;
  }
  if (cursor !== dataBytes) {
    const last = previous
      ? `the last tensor "${previous.name}" ends at byte ${cursor}`
      : 'there are no tensors';
    throw new IoError(
      file,
      `data buffer has ${dataBytes} bytes but ${last}; ${dataBytes - cursor} bytes are not covered by any tensor`,
    );
  }
  return { headerBytes: json.length, metadata: Object.freeze(metadata), tensors };
}

/** Read exactly `length` bytes at `position` into `target` (readSync may return short counts). */
function readFully(fd: number, target: Uint8Array, position: number, file: string, what: string): void {
  let done = 0;
  while (done < target.length) {
    const chunk = Math.min(target.length - done, 1 << 30);
    const n = readSync(fd, target, done, chunk, position + done);
    if (n === 0) throw new IoError(file, `unexpected end of file while reading ${what}`);
    done += n;
  }
}

/**
 * One safetensors file, opened lazily: `open` reads and validates the header only; `readTensor` reads one
 * tensor's bytes with a positioned read. Memory held between reads is the header alone.
 *
 * @example
 * const f = SafetensorsFile.open('model.safetensors');
 * const w = f.readTensor('h.0.attn.c_attn.weight'); // { dtype: 'F32', shape: [768, 2304], data: Float32Array }
 * f.close();
 */
export class SafetensorsFile implements WeightSource {
  readonly path: string;
  readonly header: SafetensorsHeader;
  private fd: number | null;
  private readonly byName: Map<string, TensorInfo>;

  private constructor(path: string, fd: number, header: SafetensorsHeader) {
    this.path = path;
    this.fd = fd;
    this.header = header;
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Open `path` and validate its header (see `parseHeader`); throws IoError naming what is wrong. */
  static open(path: string): SafetensorsFile {
    if (endianness() !== 'LE') {
      throw new IoError(
        path,
        'safetensors data is little-endian and this machine is big-endian; sparsekit cannot view it in place',
      );
    }
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < 8)
        throw new IoError(
          path,
          `file has ${size} bytes; a safetensors file starts with an 8-byte header length`,
        );
      const prefix = new Uint8Array(8);
      readFully(fd, prefix, 0, path, 'the header length');
      const n = new DataView(prefix.buffer).getBigUint64(0, true);
      if (n > BigInt(MAX_HEADER_BYTES)) {
        throw new IoError(
          path,
          `header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit; not a safetensors file?`,
        );
      }
      if (Number(n) > size - 8) {
        throw new IoError(
          path,
          `header length ${n} runs past the end of the ${size}-byte file (file truncated?)`,
        );
      }
      const json = new Uint8Array(Number(n));
      readFully(fd, json, 8, path, 'the header');
      const header = parseHeader(path, json, size - 8 - json.length);
      return new SafetensorsFile(path, fd, header);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
  }

  names(): string[] {
    return this.header.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  layout(): string[][] {
    return [this.names()];
  }

  info(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new IoError(this.path, `has no tensor "${name}"`, name);
    return t;
  }

  /** Read one tensor: a fresh, aligned typed array of its stored dtype (F16/BF16 as Uint16Array bits). */
  readTensor(name: string): RawTensor {
    const t = this.info(name);
    if (this.fd === null) throw new IoError(this.path, `is closed; cannot read tensor "${name}"`, name);
    const traits = DTYPES[t.dtype];
    const buffer = new ArrayBuffer(t.end - t.begin);
    readFully(
      this.fd,
      new Uint8Array(buffer),
      8 + this.header.headerBytes + t.begin,
      this.path,
      `tensor "${name}"`,
    );
    const data = new traits.array(buffer, 0, buffer.byteLength / traits.bytes);
    return { name, dtype: t.dtype, shape: t.shape, data };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** A raw tensor's elements as f32 (F16/BF16 decoded exactly; integers converted). */
export function toFloat32(t: Pick<RawTensor, 'dtype' | 'data'>): Float32Array {
  return decodeToFloat32(t.dtype, t.data);
}

/** A raw tensor as a dense f32 `Tensor` with the same shape. */
export function toTensor(t: RawTensor): Tensor {
  return new Tensor(toFloat32(t), t.shape);
}
