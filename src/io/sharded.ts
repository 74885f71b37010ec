/**
 * Sharded checkpoints: `model.safetensors.index.json` (`{ metadata, weight_map: { tensor: shard file } }`)
 * read as one WeightSource that opens each shard the first time one of its tensors is asked for.
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { IoError } from './errors.js';
import { type RawTensor, SafetensorsFile, type TensorInfo, type WeightSource } from './safetensors.js';

/** File names transformers uses for a single-file and a sharded safetensors checkpoint. */
export const SAFE_WEIGHTS_NAME = 'model.safetensors';
export const SAFE_WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';

function parseIndex(path: string): { metadata: Record<string, string>; weightMap: Map<string, string> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new IoError(path, `is not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new IoError(path, 'must be a JSON object with a "weight_map"');
  }
  const { weight_map: map, metadata: meta } = parsed as Record<string, unknown>;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    throw new IoError(
      path,
      `"weight_map" must be an object { tensor: shard file }, got ${JSON.stringify(map)}`,
    );
  }
  const weightMap = new Map<string, string>();
  for (const [tensor, file] of Object.entries(map)) {
    if (
      typeof file !== 'string' ||
      file === '' ||
      isAbsolute(file) ||
      normalize(file).split(/[\\/]/).includes('..')
    ) {
      throw new IoError(
        path,
        `weight_map["${tensor}"] must be a shard file name inside the folder, got ${JSON.stringify(file)}`,
        tensor,
      );
    }
    weightMap.set(tensor, file);
  }
  const metadata: Record<string, string> = {};
  if (meta !== undefined && meta !== null) {
    if (typeof meta !== 'object' || Array.isArray(meta))
      throw new IoError(path, '"metadata" must be an object');
    for (const [k, v] of Object.entries(meta)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return { metadata, weightMap };
}

/**
 * A sharded checkpoint. `open` validates the index and that every shard file it names exists; a shard's
 * header is read (and checked against the index: every tensor the index puts there must be there, and
 * nothing else) the first time one of its tensors is asked for.
 */
export class ShardedSafetensors implements WeightSource {
  readonly indexPath: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** tensor name → shard file name (relative to the index's folder). */
  readonly weightMap: ReadonlyMap<string, string>;
  private readonly dir: string;
  private readonly open_ = new Map<string, SafetensorsFile>();
  private closed = false;

  private constructor(indexPath: string, metadata: Record<string, string>, weightMap: Map<string, string>) {
    this.indexPath = indexPath;
    this.dir = dirname(indexPath);
    this.metadata = Object.freeze(metadata);
    this.weightMap = weightMap;
  }

  /** Open an index file and check that every shard it names exists (headers are read lazily). */
  static open(indexPath: string): ShardedSafetensors {
    const { metadata, weightMap } = parseIndex(indexPath);
    const s = new ShardedSafetensors(indexPath, metadata, weightMap);
    for (const file of s.shardFiles()) {
      const p = join(s.dir, file);
      if (!existsSync(p) || !statSync(p).isFile()) {
        const held = [...weightMap].filter(([, f]) => f === file).map(([t]) => t);
        throw new IoError(
          indexPath,
          `shard "${file}" is missing (the index puts ${held.length} tensors there, e.g. "${held[0]}")`,
          held[0],
        );
      }
    }
    return s;
  }

  /** Distinct shard file names, in order of first appearance in the index. */
  shardFiles(): string[] {
    return [...new Set(this.weightMap.values())];
  }

  names(): string[] {
    return [...this.weightMap.keys()];
  }

  /** Names grouped by shard, shards sorted by file name (`model-00001-of-…` first), names in index order. */
  layout(): string[][] {
    return this.shardFiles()
      .sort()
      .map((file) => [...this.weightMap].filter(([, f]) => f === file).map(([t]) => t));
  }

  has(name: string): boolean {
    return this.weightMap.has(name);
  }

  info(name: string): TensorInfo {
    return this.shardOf(name).info(name);
  }

  readTensor(name: string): RawTensor {
    return this.shardOf(name).readTensor(name);
  }

  close(): void {
    for (const f of this.open_.values()) f.close();
    this.open_.clear();
    this.closed = true;
  }

  private shardOf(name: string): SafetensorsFile {
    const file = this.weightMap.get(name);
    if (file === undefined) throw new IoError(this.indexPath, `lists no tensor "${name}"`, name);
    if (this.closed) throw new IoError(this.indexPath, `is closed; cannot read tensor "${name}"`, name);
    let shard = this.open_.get(file);
    if (!shard) {
      shard = SafetensorsFile.open(join(this.dir, file));
      try {
        this.checkShard(file, shard);
      } catch (e) {
        shard.close();
        throw e;
      }
      this.open_.set(file, shard);
    }
    return shard;
  }

  private checkShard(file: string, shard: SafetensorsFile): void {
    for (const [tensor, f] of this.weightMap) {
      if (f === file && !shard.has(tensor)) {
        throw new IoError(
          this.indexPath,
          `lists tensor "${tensor}" in shard "${file}", but that shard has no such tensor`,
          tensor,
        );
      }
    }
    for (const tensor of shard.names()) {
      const listed = this.weightMap.get(tensor);
      if (listed !== file) {
        const where = listed === undefined ? 'does not list it' : `puts it in "${listed}"`;
        throw new IoError(
          this.indexPath,
          `shard "${file}" holds tensor "${tensor}" but the index ${where}`,
          tensor,
        );
      }
    }
  }
}

/**
 * Open the safetensors weights of a Hugging Face folder the way transformers looks for them:
 * `model.safetensors` if present, else `model.safetensors.index.json`. Throws IoError listing what the
 * folder has instead (e.g. only `pytorch_model.bin`, which sparsekit does not read).
 */
export function openWeights(dir: string): WeightSource {
  const single = join(dir, SAFE_WEIGHTS_NAME);
  if (existsSync(single)) return SafetensorsFile.open(single);
  const index = join(dir, SAFE_WEIGHTS_INDEX_NAME);
  if (existsSync(index)) return ShardedSafetensors.open(index);
  const other = [
    'pytorch_model.bin',
    'pytorch_model.bin.index.json',
    'tf_model.h5',
    'flax_model.msgpack',
  ].filter((f) => existsSync(join(dir, f)));
  const hint = other.length
    ? `; it has ${other.join(', ')}, which sparsekit does not read: convert the checkpoint to safetensors first`
    : '';
  throw new IoError(dir, `has neither ${SAFE_WEIGHTS_NAME} nor ${SAFE_WEIGHTS_INDEX_NAME}${hint}`);
}
