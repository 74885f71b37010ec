/** The decoder-only forward shared by GPT-2 and the Llama family: embed, blocks over a KV cache, final norm, LM head. */

import type { ModelConfig } from '../io/config.js';
import type { JsonObject } from '../io/fields.js';
import type { Tokenizer } from '../io/tokenizer.js';
import {
  type CacheOptions,
  checkKVDType,
  type KVCache,
  type KVDType,
  LayerKV,
  ModelKVCache,
} from '../nn/kvcache.js';
import type { Linear } from '../nn/linear.js';
import { lastRow } from '../nn/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import type { StateEntry } from './checkpoint.js';
import { deferredMatrices } from './deferred.js';
import type { CausalLM, ModelSource, Savable, SaveState } from './types.js';

/** One transformer block: x [T, C] of tokens at positions [start, start + T) → [T, C], writing its cache. */
export interface CausalBlock {
  forward(x: Tensor, kv: LayerKV, start: number): Tensor;
}

/** Block-by-block access to a causal LM (layer-wise calibration, e.g. pruning); see CausalModel.blockwise. */
export interface BlockwiseRunner {
  /** Number of transformer blocks. */
  readonly count: number;
  /** The input of block 0 [T, C] for tokens `ids` at positions 0..T−1. */
  embed(ids: ArrayLike<number>): Tensor;
  /** Block i on x [T, C] at positions 0..T−1 with a fresh cache → [T, C]. */
  run(i: number, x: Tensor): Tensor;
}

/** Sizes the cache needs. */
export interface CacheShape {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** Check ids is a non-empty array-like of numbers; `what` names the call. */
export function checkIdsArg(ids: ArrayLike<number>, what: string): number {
  if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
    throw new TypeError(`${what}: ids must be an array of token ids`);
  }
  if (ids.length === 0) throw new RangeError(`${what}: ids is empty; pass at least one token id`);
  return ids.length;
}

/** A causal LM; subclasses supply the embedding, blocks, final norm and the HF tensor names. */
export abstract class CausalModel implements CausalLM, Savable {
  readonly kind = 'causal' as const;
  abstract readonly config: ModelConfig;
  abstract readonly maxPositions: number;
  protected abstract readonly blocks: readonly CausalBlock[];
  protected abstract readonly cacheShape: CacheShape;
  protected abstract readonly source: ModelSource;
  /** The LM head (for a tied model its weight is the token-embedding table object itself). */
  abstract readonly lmHead: Linear;

  get tokenizer(): Tokenizer | undefined {
    return this.source.tokenizer;
  }

  /** x [T, C] for tokens ids at positions [start, start + T) (ids are checked here). */
  protected abstract embed(ids: ArrayLike<number>, start: number): Tensor;
  protected abstract finalNorm(x: Tensor): Tensor;
  abstract linears(): Map<string, Linear>;
  /** Every parameter by HF name in checkpoint layout, and the config to write. */
  protected abstract hfState(): { config: JsonObject; tensors: Array<[string, StateEntry]> };

  /**
   * A decode step's logits [1, vocab] for one token `id` at position `start`, computed by a model's own one-token
   * path (the same numbers as the general forward), or undefined to run the general forward. Writes the cache;
   * forward counts the token.
   */
  protected decodeOne(_id: number, _cache: ModelKVCache, _start: number): Tensor | undefined {
    return undefined;
  }

  /** KV cache storage set at load (LoadOptions.kvDtype); undefined follows the weights (see cacheDtype). */
  kvDtype: KVDType | undefined = undefined;

  /**
   * The KV cache storage newCache() and an uncached forward use: `kvDtype` when set, else the dtype the
   * transformer blocks' weights are held in (all bf16 → 'bf16', all f16 → 'f16', dense or CSR alike; anything
   * else → 'f32'), as transformers keeps a bf16 model's cache in bf16. Read at each newCache().
   */
  get cacheDtype(): KVDType {
    return this.kvDtype ?? blockWeightsDtype(this.linears());
  }

  newCache(opts: CacheOptions = {}): ModelKVCache {
    const dtype = opts.dtype === undefined ? this.cacheDtype : checkKVDType(opts.dtype, 'newCache: dtype');
    const { layers, kvHeads, headDim } = this.cacheShape;
    return new ModelKVCache(this, layers, kvHeads, headDim, this.maxPositions, 64, dtype);
  }

  forward(ids: ArrayLike<number>, cache?: KVCache, opts: { lastOnly?: boolean } = {}): Tensor {
    const T = checkIdsArg(ids, `${this.config.modelType} forward`);
    let c: ModelKVCache;
    if (cache === undefined) {
      const { layers, kvHeads, headDim } = this.cacheShape;
      c = new ModelKVCache(this, layers, kvHeads, headDim, this.maxPositions, T, this.cacheDtype);
    } else {
      if (!(cache instanceof ModelKVCache) || cache.owner !== this) {
        throw new TypeError(
          `${this.config.modelType} forward: cache was not made by this model's newCache()`,
        );
      }
      c = cache;
    }
    deferredMatrices(this)?.checkLoaded(`${this.config.modelType} forward`);
    c.prepare(T, `${this.config.modelType} forward`);
    const start = c.length;
    const step = T === 1 ? this.decodeOne(ids[0]!, c, start) : undefined;
    if (step) {
      c.commit(1);
      return step;
    }
    let x = this.embed(ids, start);
    for (let i = 0; i < this.blocks.length; i++) x = this.blocks[i]!.forward(x, c.layers[i]!, start);
    c.commit(T);
    x = this.finalNorm(opts.lastOnly ? lastRow(x) : x);
    return this.lmHead.forward(x);
  }

  /** Run the model one block at a time (embeddings, then each block on the previous block's output). */
  blockwise(): BlockwiseRunner {
    const { kvHeads, headDim } = this.cacheShape;
    return {
      count: this.blocks.length,
      embed: (ids) => this.embed(ids, 0),
      run: (i, x) => {
        deferredMatrices(this)?.checkLoaded(`${this.config.modelType} block ${i}`, i);
        return this.blocks[i]!.forward(x, new LayerKV(kvHeads, headDim, x.rows), 0);
      },
    };
  }

  saveState(): SaveState {
    const { config, tensors } = this.hfState();
    return { config, tensors, ...this.source };
  }
}

/**
 * The dtype the block linears' weights are held in ('bf16' / 'f16' when every one is a bf16 / f16 matrix, or
 * a half-value CSR or N:M, else 'f32'); the LM head (named `lm_head.weight` by linears()) does not count.
 */
export function blockWeightsDtype(linears: ReadonlyMap<string, Linear>): KVDType {
  const seen = new Set<KVDType>();
  for (const [name, l] of linears) {
    if (name === 'lm_head.weight') continue;
    const format = (l.weight as { format?: unknown }).format;
    if (format === 'deferred') continue; // not read yet (streaming): says nothing
    seen.add(
      format === 'bf16' || format === 'csr_bf16' || format === 'nm_bf16'
        ? 'bf16'
        : format === 'f16' || format === 'csr_f16' || format === 'nm_f16'
          ? 'f16'
          : 'f32',
    );
  }
  return seen.size === 1 ? [...seen][0]! : 'f32';
}

/**
 * The LM-head state: a tied head whose weight is still the embedding table is not written; a tied head that was
 * replaced (e.g. pruned) is written under `headName` and the saved config unties it so the file computes what
 * the model computes.
 */
export function headState(
  raw: JsonObject,
  tied: boolean,
  head: Linear,
  table: unknown,
  headName: string,
  tieKey = 'tie_word_embeddings',
): { config: JsonObject; tensors: Array<[string, StateEntry]> } {
  const entry: StateEntry = { shape: [head.outFeatures, head.inFeatures], value: head.weight };
  if (!tied) return { config: raw, tensors: [[headName, entry]] };
  if (head.weight === table) return { config: raw, tensors: [] };
  return { config: { ...raw, [tieKey]: false }, tensors: [[headName, entry]] };
}

/** A Tensor as a state entry. */
export function tensorEntry(t: Tensor): StateEntry {
  return { shape: t.shape, value: t };
}

/** A linear layer's weight (and bias) as state entries under `<prefix>.weight` / `<prefix>.bias`. */
export function linearEntries(prefix: string, l: Linear, transposed = false): Array<[string, StateEntry]> {
  const shape = transposed ? [l.inFeatures, l.outFeatures] : [l.outFeatures, l.inFeatures];
  const out: Array<[string, StateEntry]> = [[`${prefix}.weight`, { shape, value: l.weight, transposed }]];
  if (l.bias) out.push([`${prefix}.bias`, tensorEntry(l.bias)]);
  return out;
}
