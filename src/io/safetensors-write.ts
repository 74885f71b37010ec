/**
 * safetensors writer: single files and sharded checkpoints, written atomically, laid out as the
 * reference implementation lays them out (so a file written here is byte-identical to one written by
 * `safetensors.serialize` for the same tensors and metadata).
 *
 * Reference layout (safetensors/src/tensor.rs, `prepare`): tensors sorted by descending dtype rank, then
 * by name; offsets assigned in that order (so every tensor is aligned to its element size); compact JSON
 * with `__metadata__` first; header padded with spaces to a multiple of 8.
 */

import { join } from 'node:path';
import { writeAll, writeFileAtomic } from './atomic.js';
import { arrayMatchesDType, DTYPES, isSafeDType, type SafeDType, type TensorArray } from './dtypes.js';
import type { WeightSource } from './safetensors.js';

/** A tensor to write. `data` may be a function, called once when the writer reaches the tensor. */
export interface TensorEntry {
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  readonly data: TensorArray | (() => TensorArray);
}

/** Tensors to write, by name (a plain object, a Map or any iterable of [name, entry]). */
export type TensorEntries =
  | Readonly<Record<string, TensorEntry>>
  | ReadonlyMap<string, TensorEntry>
  | Iterable<readonly [string, TensorEntry]>;

/** Options for `writeSafetensors`. */
export interface WriteOptions {
  /** The `__metadata__` string map (transformers writes `{ format: 'pt' }`). */
  metadata?: Readonly<Record<string, string>>;
}

interface Planned {
  readonly name: string;
  readonly entry: TensorEntry;
  readonly bytes: number;
}

function entryList(tensors: TensorEntries): [string, TensorEntry][] {
  if (tensors instanceof Map) return [...tensors.entries()];
  if (Symbol.iterator in tensors)
    return [...(tensors as Iterable<readonly [string, TensorEntry]>)].map(([k, v]) => [k, v]);
  return Object.entries(tensors as Record<string, TensorEntry>);
}

function byteCount(file: string, name: string, e: TensorEntry): number {
  if (name === '__metadata__') throw new Error(`${file}: "__metadata__" cannot be a tensor name`);
  if (!isSafeDType(e.dtype))
    throw new Error(`${file}: tensor "${name}" has unknown dtype ${JSON.stringify(e.dtype)}`);
  if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(
      `${file}: tensor "${name}" has shape ${JSON.stringify(e.shape)}; expected non-negative integers`,
    );
  }
  let n = 1;
  for (const d of e.shape) n *= d;
  return n * DTYPES[e.dtype].bytes;
}

function plan(file: string, tensors: TensorEntries): Planned[] {
  const seen = new Set<string>();
  const out = entryList(tensors).map(([name, entry]) => {
    if (seen.has(name)) throw new Error(`${file}: tensor "${name}" is given twice`);
    seen.add(name);
    return { name, entry, bytes: byteCount(file, name, entry) };
  });
  return out.sort(
    (a, b) =>
      DTYPES[b.entry.dtype].rank - DTYPES[a.entry.dtype].rank ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

/** The header bytes (JSON padded with spaces to a multiple of 8) for tensors already in layout order. */
function headerFor(
  ordered: readonly Planned[],
  metadata: Readonly<Record<string, string>> | undefined,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of ordered) {
    header[t.name] = { dtype: t.entry.dtype, shape: t.entry.shape, data_offsets: [offset, offset + t.bytes] };
    offset += t.bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  return padded;
}

function tensorBytes(file: string, t: Planned): Uint8Array {
  const data = typeof t.entry.data === 'function' ? t.entry.data() : t.entry.data;
  if (!arrayMatchesDType(t.entry.dtype, data)) {
    const want = DTYPES[t.entry.dtype].array.name;
    throw new Error(
      `${file}: tensor "${t.name}" is ${t.entry.dtype}, so its data must be a ${want}, got ${data.constructor.name}`,
    );
  }
  if (data.byteLength !== t.bytes) {
    throw new Error(
      `${file}: tensor "${t.name}" has ${data.length} elements but ${t.entry.dtype} [${t.entry.shape.join(', ')}] needs ${t.bytes / DTYPES[t.entry.dtype].bytes}`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Write tensors to one safetensors file at `path` (temporary file + rename: never a half-written file).
 * Lazy `data` functions are called one at a time, so a model larger than memory can be copied tensor by
 * tensor. Returns the file's size in bytes.
 *
 * @example
 * writeSafetensors('w.safetensors', { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) } });
 */
export function writeSafetensors(path: string, tensors: TensorEntries, options: WriteOptions = {}): number {
  return writePlanned(path, plan(path, tensors), options.metadata);
}

function writePlanned(
  path: string,
  ordered: Planned[],
  metadata: Readonly<Record<string, string>> | undefined,
): number {
  const header = headerFor(ordered, metadata);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
  let total = 8 + header.length;
  writeFileAtomic(path, (fd) => {
    writeAll(fd, prefix);
    writeAll(fd, header);
    for (const t of ordered) {
      writeAll(fd, tensorBytes(path, t));
      total += t.bytes;
    }
  });
  return total;
}

/** Options for `writeShardedSafetensors`. */
export interface ShardOptions extends WriteOptions {
  /** Largest sum of tensor bytes per shard (default 5e9, transformers' "5GB"); a bigger tensor gets a shard alone. */
  maxShardBytes?: number;
  /** File name stem (default `model` → `model-00001-of-00003.safetensors`, `model.safetensors.index.json`). */
  stem?: string;
  /** An explicit partition: tensor names per shard, in shard order (e.g. a source's `layout()`); overrides maxShardBytes. */
  shards?: readonly (readonly string[])[];
}

/** What `writeShardedSafetensors` wrote. */
export interface ShardedWrite {
  /** Shard file names (relative to the folder), in order. */
  readonly files: string[];
  /** The index file name, or undefined when everything fit in one `model.safetensors`. */
  readonly indexFile: string | undefined;
}

/**
 * Write tensors into `dir` as transformers' `save_pretrained` shards them: tensors in the given order fill
 * a shard until the next one would exceed `maxShardBytes`; a tensor bigger than that gets its own shard.
 * One shard → `model.safetensors` and no index; several → `model-0000i-of-0000n.safetensors` plus
 * `model.safetensors.index.json` (`{ metadata: { total_size }, weight_map }`, keys sorted, 2-space indent).
 * Each file is written atomically; write into a temporary folder (see `writeHfFolder`) for an atomic set.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: TensorEntries,
  options: ShardOptions = {},
): ShardedWrite {
  const stem = options.stem ?? 'model';
  const list: Planned[] = [];
  const seen = new Set<string>();
  for (const [name, entry] of entryList(tensors)) {
    if (seen.has(name)) throw new Error(`${dir}: tensor "${name}" is given twice`);
    seen.add(name);
    list.push({ name, entry, bytes: byteCount(dir, name, entry) });
  }
  const shards = options.shards
    ? partitionAs(dir, list, options.shards)
    : partitionBySize(list, options.maxShardBytes ?? 5e9);
  if (shards.length === 1) {
    const file = `${stem}.safetensors`;
    writeSafetensors(
      join(dir, file),
      shards[0]!.map((t) => [t.name, t.entry] as const),
      { metadata: options.metadata },
    );
    return { files: [file], indexFile: undefined };
  }
  const pad = (i: number) => String(i).padStart(5, '0');
  const files = shards.map((_, i) => `${stem}-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  shards.forEach((shard, i) => {
    writeSafetensors(
      join(dir, files[i]!),
      shard.map((t) => [t.name, t.entry] as const),
      { metadata: options.metadata },
    );
    for (const t of shard) {
      weightMap[t.name] = files[i]!;
      totalSize += t.bytes;
    }
  });
  const sorted = Object.fromEntries(
    Object.keys(weightMap)
      .sort()
      .map((k) => [k, weightMap[k]!]),
  );
  const indexFile = `${stem}.safetensors.index.json`;
  const text = `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`;
  writeFileAtomic(join(dir, indexFile), (fd) => writeAll(fd, new TextEncoder().encode(text)));
  return { files, indexFile };
}

/** Greedy split as huggingface_hub's `split_state_dict_into_shards_factory`: fill, tip over, oversized alone. */
function partitionBySize(list: readonly Planned[], max: number): Planned[][] {
  if (!(max > 0)) throw new RangeError(`writeShardedSafetensors: maxShardBytes must be > 0, got ${max}`);
  const shards: Planned[][] = [];
  let current: Planned[] = [];
  let size = 0;
  for (const t of list) {
    if (t.bytes > max) {
      shards.push([t]);
      continue;
    }
    if (size + t.bytes > max && current.length > 0) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(t);
    size += t.bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

/** The given partition, checked to name every tensor exactly once. */
function partitionAs(
  dir: string,
  list: readonly Planned[],
  groups: readonly (readonly string[])[],
): Planned[][] {
  const byName = new Map(list.map((t) => [t.name, t]));
  const shards = groups.map((g) =>
    g.map((name) => {
      const t = byName.get(name);
      if (!t)
        throw new Error(
          `${dir}: shard layout names tensor "${name}", which is not being written (or is named twice)`,
        );
      byName.delete(name);
      return t;
    }),
  );
  if (byName.size > 0) throw new Error(`${dir}: shard layout leaves out tensor "${[...byName.keys()][0]}"`);
  return shards.length > 0 ? shards : [[]];
}

/**
 * Lazy entries for every tensor of a source (or the named ones): each is read from disk only when the
 * writer reaches it. Use to copy or re-shard a checkpoint without holding it in memory.
 */
export function entriesFromSource(
  source: WeightSource,
  names: readonly string[] = source.names(),
): Map<string, TensorEntry> {
  const out = new Map<string, TensorEntry>();
  for (const name of names) {
    const { dtype, shape } = source.info(name);
    out.set(name, { dtype, shape, data: () => source.readTensor(name).data });
  }
  return out;
}
