/**
 * Hugging Face model folders: open one (config, generation config, lazy weights, tokenizer) and write
 * one atomically, so that a folder written here loads back with the same config and bit-identical tensors.
 *
 * A folder holds `config.json`, `model.safetensors` or `model.safetensors.index.json` + shards, and
 * optionally `generation_config.json`, `tokenizer.json`, `tokenizer_config.json`.
 */

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeAll, writeDirAtomic, writeFileAtomic } from './atomic.js';
import { loadConfig, type ModelConfig, parseConfig } from './config.js';
import { IoError } from './errors.js';
import { isJsonObject, type JsonObject } from './fields.js';
import { type GenerationConfig, loadGenerationConfig, parseGenerationConfig } from './generation.js';
import type { WeightSource } from './safetensors.js';
import { entriesFromSource, type TensorEntries, writeShardedSafetensors } from './safetensors-write.js';
import { openWeights } from './sharded.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';

/** An opened model folder. Weights stay on disk until read; call `close()` when done. */
export interface HfFolder {
  readonly dir: string;
  readonly config: ModelConfig;
  /** generation_config.json, if the folder has one (else see `generationConfigFromModel`). */
  readonly generationConfig: GenerationConfig | undefined;
  /** The safetensors weights, single file or sharded, read tensor by tensor. */
  readonly weights: WeightSource;
  /** tokenizer.json (+ tokenizer_config.json), if the folder has one. */
  readonly tokenizer: Tokenizer | undefined;
  /** Close the weight files. */
  close(): void;
}

/** Options for `openHfFolder`. */
export interface OpenOptions {
  /** Load tokenizer.json when present (default true; false skips the cost for weight-only work). */
  tokenizer?: boolean;
}

/**
 * Open a Hugging Face model folder. Validates config.json (typed per architecture), generation_config.json,
 * every safetensors header (lazily for shards) and tokenizer.json; errors name the file and the field.
 *
 * @example
 * const m = openHfFolder('models/SmolLM-135M');
 * m.config.modelType; // 'llama'
 * const w = m.weights.readTensor('model.embed_tokens.weight');
 * m.close();
 */
export function openHfFolder(dir: string, options: OpenOptions = {}): HfFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new IoError(dir, 'is not a folder');
  if (!existsSync(join(dir, 'config.json'))) {
    throw new IoError(dir, `has no config.json (it has: ${readdirSync(dir).join(', ') || 'nothing'})`);
  }
  const config = loadConfig(join(dir, 'config.json'));
  const generationPath = join(dir, 'generation_config.json');
  const generationConfig = existsSync(generationPath) ? loadGenerationConfig(generationPath) : undefined;
  const tokenizerPath = join(dir, 'tokenizer.json');
  const ids = generationConfig ?? config;
  const tokenizer =
    options.tokenizer !== false && existsSync(tokenizerPath)
      ? loadTokenizer(tokenizerPath, {
          bosTokenId: ids.bosTokenId,
          eosTokenId: ids.eosTokenIds[0] ?? null,
          padTokenId: ids.padTokenId,
        })
      : undefined;
  const weights = openWeights(dir);
  return { dir, config, generationConfig, weights, tokenizer, close: () => weights.close() };
}

/** What `writeHfFolder` writes. */
export interface HfFolderContents {
  /** A parsed config (its `raw` is written) or a config.json object (validated before anything is written). */
  config: ModelConfig | JsonObject;
  /** Tensors to write, or a WeightSource to copy tensor by tensor (e.g. another folder's `weights`). */
  weights: TensorEntries | WeightSource;
  /** generation_config.json as a parsed config (its `raw` is written) or an object. */
  generationConfig?: GenerationConfig | JsonObject;
  /** tokenizer.json as text (written byte for byte, e.g. `tokenizer.json` of a loaded Tokenizer) or an object. */
  tokenizerJson?: string | object;
  /** tokenizer_config.json as text or an object. */
  tokenizerConfig?: string | object;
  /**
   * Largest shard in bytes of tensor data; more → sharded with an index. Default: a WeightSource keeps its
   * own layout (same files, same tensors in each); tensors given directly use 5e9 (transformers' "5GB").
   */
  maxShardBytes?: number;
  /** Replace an existing folder at `dir` (default false). */
  overwrite?: boolean;
  /** The safetensors `__metadata__` of every weight file (default `{ format: 'pt' }`, as transformers writes). */
  metadata?: Readonly<Record<string, string>>;
}

function isWeightSource(w: TensorEntries | WeightSource): w is WeightSource {
  return (
    typeof (w as WeightSource).readTensor === 'function' && typeof (w as WeightSource).names === 'function'
  );
}

/** The JSON object to write: a parsed config's `raw`, or the object itself. */
function rawOf(v: ModelConfig | GenerationConfig | JsonObject): JsonObject {
  const parsed = 'modelType' in v || 'doSample' in v;
  return parsed && isJsonObject(v.raw) ? v.raw : (v as JsonObject);
}

/** JSON the way transformers' `to_json_file` writes it: keys sorted, 2-space indent, trailing newline. */
function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (isJsonObject(v))
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort(v[k])]),
      );
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

function writeText(path: string, text: string): void {
  writeFileAtomic(path, (fd) => writeAll(fd, new TextEncoder().encode(text)));
}

/**
 * Write a model folder atomically: everything goes into a temporary folder beside `dir`, which is renamed
 * to `dir` only once complete (never a half-written model). Weights are written as transformers'
 * `save_pretrained` writes them (`{ format: 'pt' }` metadata, sharded above `maxShardBytes`); copying from a
 * WeightSource keeps its sharding and holds one tensor in memory at a time. The config is validated first.
 */
export function writeHfFolder(dir: string, contents: HfFolderContents): void {
  const configRaw = rawOf(contents.config);
  parseConfig(configRaw, join(dir, 'config.json'));
  const generationRaw =
    contents.generationConfig === undefined ? undefined : rawOf(contents.generationConfig);
  if (generationRaw !== undefined) parseGenerationConfig(generationRaw, join(dir, 'generation_config.json'));
  const source = isWeightSource(contents.weights) ? contents.weights : undefined;
  const weights = source ? entriesFromSource(source) : (contents.weights as TensorEntries);
  const keepLayout = source !== undefined && contents.maxShardBytes === undefined;
  const text = (v: string | object) => (typeof v === 'string' ? v : `${JSON.stringify(v, null, 2)}\n`);
  writeDirAtomic(
    dir,
    (tmp) => {
      writeText(join(tmp, 'config.json'), sortedJson(configRaw));
      if (generationRaw !== undefined)
        writeText(join(tmp, 'generation_config.json'), sortedJson(generationRaw));
      if (contents.tokenizerJson !== undefined)
        writeText(join(tmp, 'tokenizer.json'), text(contents.tokenizerJson));
      if (contents.tokenizerConfig !== undefined) {
        writeText(join(tmp, 'tokenizer_config.json'), text(contents.tokenizerConfig));
      }
      writeShardedSafetensors(tmp, weights, {
        metadata: contents.metadata ?? { format: 'pt' },
        ...(keepLayout ? { shards: source.layout() } : {}),
        ...(contents.maxShardBytes !== undefined ? { maxShardBytes: contents.maxShardBytes } : {}),
      });
    },
    { overwrite: contents.overwrite ?? false },
  );
}
