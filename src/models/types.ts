/** The public model interfaces: causal LMs (GPT-2, Llama family) and masked LMs (BERT). */

import type { BertConfig, ModelConfig } from '../io/config.js';
import type { SafeDType } from '../io/dtypes.js';
import type { JsonObject } from '../io/fields.js';
import type { GenerationConfig } from '../io/generation.js';
import type { RawTensor } from '../io/safetensors.js';
import type { Tokenizer } from '../io/tokenizer.js';
import type { CacheOptions, KVCache, KVDType } from '../nn/kvcache.js';
import type { Linear } from '../nn/linear.js';
import type { Tensor } from '../tensor/tensor.js';
import type { StateEntry, WeightStorage } from './checkpoint.js';

export type { CacheOptions, KVCache, KVDType } from '../nn/kvcache.js';

/** Options of loadModel / loadCausalLM. */
export interface LoadOptions {
  /**
   * In-memory storage of the linear layers' weights and the token embedding: 'f32', 'bf16' or 'f16'
   * (rounded to nearest even; a half-precision checkpoint in the same type is kept as is), or 'stored' (bf16/f16
   * checkpoint tensors stay half, others f32). Norms, biases and position tables are always f32. Default: 'f32'
   * for a plain checkpoint, 'stored' for a compact sparse checkpoint (whose weights are each stored in the
   * format that runs fastest: a dense bf16 weight there stays bf16, as its CSR values do).
   */
  weights?: WeightStorage;
  /**
   * Do not read transformer-block linear weights at load (streaming, e.g. pruneStreaming): `true` defers every
   * one, a function the names it accepts. Each such Linear holds a shape-only DeferredMatrix handle until
   * `deferredMatrices(model).load(name)` reads it; running or saving the model before that is an error. Norms,
   * biases, embeddings and the head load as usual. Needs an opened HfFolder (openHfFolder), kept open while
   * deferred weights are read, and a plain (not compact sparse) causal-LM checkpoint.
   */
  defer?: boolean | ((name: string) => boolean);
  /**
   * Storage of a causal LM's KV cache: 'f32', 'bf16' or 'f16' (keys and values rounded to nearest even when
   * written; attention computes in f32). Default: the dtype the transformer blocks' weights are held in (bf16
   * weights → a bf16 cache, f16 → f16, otherwise f32). `newCache({ dtype })` overrides it per cache.
   */
  kvDtype?: KVDType;
}

/** A decoder-only language model (GPT-2, Llama, Qwen2, Mistral). */
export interface CausalLM {
  readonly config: ModelConfig;
  readonly kind: 'causal';
  /** Longest sequence (cached + new tokens) the model runs. */
  readonly maxPositions: number;
  /** tokenizer.json of the folder, when it had one. */
  readonly tokenizer: Tokenizer | undefined;
  /** A new empty cache for this model (opts.dtype: its storage, default LoadOptions.kvDtype or the weights' dtype). */
  newCache(opts?: CacheOptions): KVCache;
  /**
   * Run `ids` after whatever `cache` holds (none = fresh, not kept); returns logits [ids.length, vocab], or
   * [1, vocab] for the last position only when opts.lastOnly. Appends to the cache.
   */
  forward(ids: ArrayLike<number>, cache?: KVCache, opts?: { lastOnly?: boolean }): Tensor;
  /** Every linear layer by its HF weight name (e.g. 'model.layers.0.self_attn.q_proj.weight'), the LM head last. */
  linears(): Map<string, Linear>;
}

/** Inputs besides the ids of a BERT forward. */
export interface BertInputs {
  /** Token type (segment) ids, default all 0. */
  tokenTypeIds?: ArrayLike<number>;
  /** 1 = real token, 0 = padding (padded keys are ignored by every query); default all 1. */
  attentionMask?: ArrayLike<number>;
}

/** BERT with its masked-LM head. */
export interface MaskedLM {
  readonly config: BertConfig;
  readonly kind: 'masked';
  readonly tokenizer: Tokenizer | undefined;
  /** MLM logits [T, vocab]. */
  forward(ids: ArrayLike<number>, opts?: BertInputs): Tensor;
  /** Final hidden states [T, hidden] (the encoder output before the MLM head). */
  encode(ids: ArrayLike<number>, opts?: BertInputs): Tensor;
  /** Every linear layer by its HF weight name, the MLM decoder last. */
  linears(): Map<string, Linear>;
}

export type Model = CausalLM | MaskedLM;

/** What saveModel needs from a model (every model class implements it). */
export interface SaveState {
  /** config.json to write. */
  readonly config: JsonObject;
  /** Every parameter by HF name, in checkpoint layout. */
  readonly tensors: ReadonlyArray<readonly [string, StateEntry]>;
  /** Tensors no layer uses, written back as read. */
  readonly extras: ReadonlyMap<string, RawTensor>;
  /** Stored dtype of each tensor read from the source checkpoint. */
  readonly dtypes: ReadonlyMap<string, SafeDType>;
  readonly generationConfig: GenerationConfig | undefined;
  readonly tokenizer: Tokenizer | undefined;
}

/** Models built by this module carry their save state. */
export interface Savable {
  saveState(): SaveState;
}

/** Everything a model keeps from the folder it came from. */
export interface ModelSource {
  readonly dtypes: ReadonlyMap<string, SafeDType>;
  readonly extras: ReadonlyMap<string, RawTensor>;
  readonly generationConfig: GenerationConfig | undefined;
  readonly tokenizer: Tokenizer | undefined;
}
