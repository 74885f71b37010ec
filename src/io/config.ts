/**
 * config.json → a typed config per architecture, with the defaults of transformers' config classes.
 *
 * Defaults are those of the transformers classes a checkpoint's `model_type` names (GPT2Config,
 * LlamaConfig, Qwen2Config, MistralConfig, BertConfig in src/transformers/models/<type>/configuration_<type>.py,
 * plus PretrainedConfig's `tie_word_embeddings=True`), so a config.json that leaves a field out means here
 * what it means to transformers. Unknown `model_type`, an unsupported RoPE scaling, an active sliding window
 * or inconsistent sizes are errors naming the file and the field, never silent fallbacks.
 */

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IoError } from './errors.js';
import { Fields, isJsonObject, type JsonObject } from './fields.js';

/** The architectures sparsekit reads. */
export const MODEL_TYPES = ['gpt2', 'llama', 'qwen2', 'mistral', 'bert'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/**
 * Activation functions, by the math they compute. From transformers' ACT2FN names: `gelu` → 'gelu'
 * (exact, erf); `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast` → 'gelu_tanh' (0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))));
 * `silu`, `swish` → 'silu'; `relu` → 'relu'.
 */
export type Activation = 'gelu' | 'gelu_tanh' | 'silu' | 'relu';

const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  gelu: 'gelu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu_fast: 'gelu_tanh',
  silu: 'silu',
  swish: 'silu',
  relu: 'relu',
};

/**
 * Rotary position embedding parameters (see `ropeInverseFrequencies` in rope.ts for the formulas).
 * `default`: inv_freq[i] = 1 / theta^(2i/d). `linear`: default / factor. `llama3`: Llama 3.1's smooth
 * interpolation between the two by wavelength.
 */
export type RopeConfig =
  | { readonly type: 'default'; readonly theta: number }
  | { readonly type: 'linear'; readonly theta: number; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly theta: number;
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositionEmbeddings: number;
    };

/** Fields every architecture has. */
export interface ConfigCommon {
  readonly modelType: ModelType;
  /** `vocab_size`: rows of the token embedding. */
  readonly vocabSize: number;
  /** `tie_word_embeddings`: the output head reuses the token embedding (no separate `lm_head.weight`). */
  readonly tieWordEmbeddings: boolean;
  /** `bos_token_id`, or null. */
  readonly bosTokenId: number | null;
  /** `eos_token_id` as a list (config files write one id or a list). */
  readonly eosTokenIds: readonly number[];
  /** `pad_token_id`, or null. */
  readonly padTokenId: number | null;
  /** `torch_dtype` (or transformers 5's `dtype`): the dtype the weights were saved in, e.g. 'bfloat16'; null if absent. */
  readonly dtype: string | null;
  /** The parsed config.json exactly as read (what `writeHfFolder` writes back). */
  readonly raw: JsonObject;
}

/** GPT-2 (`model_type: "gpt2"`): learned positions, pre-LN, Conv1D weights stored [in, out]. */
export interface Gpt2Config extends ConfigCommon {
  readonly modelType: 'gpt2';
  /** `n_embd` (alias `hidden_size`). */
  readonly nEmbd: number;
  /** `n_layer` (alias `num_hidden_layers`). */
  readonly nLayer: number;
  /** `n_head` (alias `num_attention_heads`). */
  readonly nHead: number;
  /** `n_positions` (alias `max_position_embeddings`): rows of the position embedding. */
  readonly nPositions: number;
  /** `n_inner`: MLP width (null in the file means 4 · n_embd). */
  readonly nInner: number;
  readonly headDim: number;
  /** `layer_norm_epsilon`. */
  readonly layerNormEpsilon: number;
  /** `activation_function` (default gelu_new → 'gelu_tanh'). */
  readonly activation: Activation;
  /** `scale_attn_weights`: divide scores by √head_dim (default true). */
  readonly scaleAttnWeights: boolean;
  /** `scale_attn_by_inverse_layer_idx`: further divide layer i's scores by i + 1 (default false). */
  readonly scaleAttnByInverseLayerIdx: boolean;
}

/** Llama, Qwen2 and Mistral: RMSNorm, RoPE, grouped-query attention, SwiGLU MLP. */
export interface LlamaFamilyConfig extends ConfigCommon {
  readonly modelType: 'llama' | 'qwen2' | 'mistral';
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  /** `num_key_value_heads` (llama: defaults to num_attention_heads; mistral: 8; qwen2: 32). */
  readonly numKeyValueHeads: number;
  /** `head_dim`, or hidden_size / num_attention_heads when absent. */
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly rope: RopeConfig;
  readonly maxPositionEmbeddings: number;
  /** q/k/v projections have a bias: llama `attention_bias`; always true for qwen2; false for mistral. */
  readonly qkvBias: boolean;
  /** o_proj has a bias: llama `attention_bias`; false for qwen2 and mistral. */
  readonly oBias: boolean;
  /** gate/up/down projections have a bias: llama `mlp_bias`; false otherwise. */
  readonly mlpBias: boolean;
  /** `hidden_act` of the gated MLP (default silu). */
  readonly activation: Activation;
}

/** BERT (`model_type: "bert"`): post-LN encoder with token types and an MLM head. */
export interface BertConfig extends ConfigCommon {
  readonly modelType: 'bert';
  readonly hiddenSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  /** `type_vocab_size`: rows of the token-type embedding. */
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
  readonly maxPositionEmbeddings: number;
  /** `hidden_act` (default gelu, the exact erf form). */
  readonly activation: Activation;
}

/** A parsed config.json; switch on `modelType`. */
export type ModelConfig = Gpt2Config | LlamaFamilyConfig | BertConfig;

function activation(f: Fields, key: string, fallback: string): Activation {
  const name = f.str(key, fallback);
  const act = ACTIVATIONS[name];
  if (!act) f.fail(key, `one of ${Object.keys(ACTIVATIONS).join(', ')}`);
  return act;
}

function common(
  f: Fields,
  modelType: ModelType,
  d: { vocab: number; tie: boolean; bos: number | null; eos: number[]; pad: number | null },
): ConfigCommon {
  const dtype = f.has('torch_dtype') ? f.str('torch_dtype', '') : f.has('dtype') ? f.str('dtype', '') : null;
  return {
    modelType,
    vocabSize: f.int('vocab_size', d.vocab),
    tieWordEmbeddings: f.bool('tie_word_embeddings', d.tie),
    bosTokenId: f.tokenId('bos_token_id', d.bos),
    eosTokenIds: f.tokenIds('eos_token_id', d.eos),
    padTokenId: f.tokenId('pad_token_id', d.pad),
    dtype,
    raw: f.raw,
  };
}

/** Per-head width: `head_dim` where the architecture reads it (`explicit`), else hidden / heads (must divide). */
function headDimOf(
  f: Fields,
  hidden: number,
  heads: number,
  keys: [string, string],
  explicit: boolean,
): number {
  if (explicit && f.has('head_dim')) return f.int('head_dim', 0);
  const [hiddenKey, headsKey] = keys;
  if (hidden % heads !== 0) {
    throw new IoError(
      f.file,
      `"${hiddenKey}" ${hidden} is not a multiple of "${headsKey}" ${heads}`,
      hiddenKey,
    );
  }
  return hidden / heads;
}

// GPT2Config defaults (configuration_gpt2.py): vocab_size=50257, n_positions=1024, n_embd=768,
// n_layer=12, n_head=12, n_inner=None, activation_function="gelu_new", layer_norm_epsilon=1e-5,
// scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False, bos/eos=50256; attribute_map lets
// hidden_size, max_position_embeddings, num_attention_heads, num_hidden_layers stand for the n_* names.
function gpt2(f: Fields): Gpt2Config {
  const alias = (name: string, hf: string, fallback: number) => f.int(name, f.int(hf, fallback));
  const nEmbd = alias('n_embd', 'hidden_size', 768);
  const nHead = alias('n_head', 'num_attention_heads', 12);
  return {
    ...common(f, 'gpt2', { vocab: 50257, tie: true, bos: 50256, eos: [50256], pad: null }),
    modelType: 'gpt2',
    nEmbd,
    nLayer: alias('n_layer', 'num_hidden_layers', 12),
    nHead,
    nPositions: alias('n_positions', 'max_position_embeddings', 1024),
    nInner: f.int('n_inner', 4 * nEmbd),
    headDim: headDimOf(f, nEmbd, nHead, ['n_embd', 'n_head'], false),
    layerNormEpsilon: f.positive('layer_norm_epsilon', 1e-5),
    activation: activation(f, 'activation_function', 'gelu_new'),
    scaleAttnWeights: f.bool('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: f.bool('scale_attn_by_inverse_layer_idx', false),
  };
}

/**
 * RoPE parameters from transformers 4's `rope_theta` + `rope_scaling` or transformers 5's
 * `rope_parameters` (which holds `rope_theta` itself). `rope_scaling.type` is the old name of
 * `rope_type` (modeling_rope_utils.py reads `rope_type`, then `type`). Formulas: modeling_rope_utils.py
 * `_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`, `_compute_llama3_parameters`.
 */
function rope(f: Fields): RopeConfig {
  let theta = f.positive('rope_theta', 10000);
  let scaling: unknown = f.raw.rope_scaling ?? null;
  let key = 'rope_scaling';
  if (f.has('rope_parameters')) {
    const p = f.raw.rope_parameters;
    if (!isJsonObject(p))
      f.fail('rope_parameters', 'an object like { "rope_type": "default", "rope_theta": 10000 }');
    theta = new Fields(f.file, p).positive('rope_theta', theta);
    scaling = p;
    key = 'rope_parameters';
  }
  if (scaling === null) return { type: 'default', theta };
  if (!isJsonObject(scaling)) f.fail(key, 'null or an object with "rope_type"');
  const s = new Fields(f.file, scaling);
  const type = s.has('rope_type') ? s.str('rope_type', '') : s.str('type', 'default');
  const need = (k: string): number => {
    if (!s.has(k)) throw new IoError(f.file, `"${key}" of type "${type}" is missing "${k}"`, key);
    return s.positive(k, 0);
  };
  switch (type) {
    case 'default':
      return { type: 'default', theta };
    case 'linear':
      return { type: 'linear', theta, factor: need('factor') };
    case 'llama3': {
      const r = {
        type: 'llama3' as const,
        theta,
        factor: need('factor'),
        lowFreqFactor: need('low_freq_factor'),
        highFreqFactor: need('high_freq_factor'),
        originalMaxPositionEmbeddings: need('original_max_position_embeddings'),
      };
      if (r.highFreqFactor <= r.lowFreqFactor) {
        throw new IoError(
          f.file,
          `"${key}": high_freq_factor ${r.highFreqFactor} must be greater than low_freq_factor ${r.lowFreqFactor}`,
          key,
        );
      }
      return r;
    }
    default:
      throw new IoError(
        f.file,
        `"${key}" has rope type "${type}", which sparsekit does not implement (it implements default, linear and llama3)`,
        key,
      );
  }
}

// LlamaConfig (configuration_llama.py): vocab_size=32000, hidden_size=4096, intermediate_size=11008,
// num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=None (→ num_attention_heads),
// hidden_act="silu", max_position_embeddings=2048, rms_norm_eps=1e-6, bos=1, eos=2,
// tie_word_embeddings=False, rope_theta=10000.0, rope_scaling=None, attention_bias=False, mlp_bias=False,
// head_dim=None (→ hidden_size // num_attention_heads).
// Qwen2Config (configuration_qwen2.py): vocab_size=151936, hidden_size=4096, intermediate_size=22016,
// num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=32768,
// rms_norm_eps=1e-6, tie_word_embeddings=False, rope_theta=10000.0, use_sliding_window=False,
// sliding_window=4096, max_window_layers=28, bos/eos None; q/k/v always carry a bias (modeling_qwen2.py).
// MistralConfig (configuration_mistral.py): vocab_size=32000, hidden_size=4096, intermediate_size=14336,
// num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=4096*32,
// rms_norm_eps=1e-6, bos=1, eos=2, tie_word_embeddings=False, rope_theta=10000.0, sliding_window=4096.
const LLAMA_FAMILY_DEFAULTS = {
  llama: { vocab: 32000, inter: 11008, kv: null, maxPos: 2048, bos: 1, eos: [2] },
  qwen2: { vocab: 151936, inter: 22016, kv: 32, maxPos: 32768, bos: null, eos: [] },
  mistral: { vocab: 32000, inter: 14336, kv: 8, maxPos: 4096 * 32, bos: 1, eos: [2] },
} as const;

function slidingWindowCheck(
  f: Fields,
  type: 'llama' | 'qwen2' | 'mistral',
  layers: number,
  maxPos: number,
): void {
  const fix =
    'sparsekit runs full attention only; set "sliding_window": null to run with full attention, which is identical for sequences no longer than the window';
  if (type === 'mistral') {
    const w = f.raw.sliding_window === null ? null : f.int('sliding_window', 4096);
    if (w !== null && w < maxPos) {
      throw new IoError(
        f.file,
        `"sliding_window" ${w} is shorter than "max_position_embeddings" ${maxPos}; ${fix}`,
        'sliding_window',
      );
    }
  }
  if (type === 'qwen2' && f.bool('use_sliding_window', false)) {
    const w = f.optInt('sliding_window', 1);
    const firstSliding = f.int('max_window_layers', 28, 0);
    if (w !== null && w < maxPos && firstSliding < layers) {
      throw new IoError(
        f.file,
        `"use_sliding_window" is true with "sliding_window" ${w} < "max_position_embeddings" ${maxPos} from layer ${firstSliding}; ${fix}`,
        'use_sliding_window',
      );
    }
  }
  const layerTypes = f.raw.layer_types;
  if (Array.isArray(layerTypes) && layerTypes.some((t) => t !== 'full_attention')) {
    throw new IoError(
      f.file,
      `"layer_types" has non-full-attention layers (${[...new Set(layerTypes)].join(', ')}); sparsekit runs full attention only`,
      'layer_types',
    );
  }
}

function llamaFamily(f: Fields, type: 'llama' | 'qwen2' | 'mistral'): LlamaFamilyConfig {
  const d = LLAMA_FAMILY_DEFAULTS[type];
  const hiddenSize = f.int('hidden_size', 4096);
  const numAttentionHeads = f.int('num_attention_heads', 32);
  const numKeyValueHeads = f.int('num_key_value_heads', d.kv ?? numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new IoError(
      f.file,
      `"num_attention_heads" ${numAttentionHeads} is not a multiple of "num_key_value_heads" ${numKeyValueHeads}`,
      'num_key_value_heads',
    );
  }
  const numHiddenLayers = f.int('num_hidden_layers', 32);
  const maxPositionEmbeddings = f.int('max_position_embeddings', d.maxPos);
  slidingWindowCheck(f, type, numHiddenLayers, maxPositionEmbeddings);
  const attentionBias = type === 'llama' && f.bool('attention_bias', false);
  return {
    ...common(f, type, { vocab: d.vocab, tie: false, bos: d.bos, eos: [...d.eos], pad: null }),
    modelType: type,
    hiddenSize,
    intermediateSize: f.int('intermediate_size', d.inter),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim: headDimOf(f, hiddenSize, numAttentionHeads, ['hidden_size', 'num_attention_heads'], true),
    rmsNormEps: f.positive('rms_norm_eps', 1e-6),
    rope: rope(f),
    maxPositionEmbeddings,
    qkvBias: type === 'qwen2' || attentionBias,
    oBias: attentionBias,
    mlpBias: type === 'llama' && f.bool('mlp_bias', false),
    activation: activation(f, 'hidden_act', 'silu'),
  };
}

// BertConfig (configuration_bert.py): vocab_size=30522, hidden_size=768, num_hidden_layers=12,
// num_attention_heads=12, intermediate_size=3072, hidden_act="gelu", max_position_embeddings=512,
// type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0, position_embedding_type="absolute";
// tie_word_embeddings=True (PretrainedConfig).
function bert(f: Fields): BertConfig {
  const hiddenSize = f.int('hidden_size', 768);
  const numAttentionHeads = f.int('num_attention_heads', 12);
  const position = f.str('position_embedding_type', 'absolute');
  if (position !== 'absolute') {
    throw new IoError(
      f.file,
      `"position_embedding_type" is "${position}"; sparsekit implements "absolute" only`,
      'position_embedding_type',
    );
  }
  return {
    ...common(f, 'bert', { vocab: 30522, tie: true, bos: null, eos: [], pad: 0 }),
    modelType: 'bert',
    hiddenSize,
    numHiddenLayers: f.int('num_hidden_layers', 12),
    numAttentionHeads,
    headDim: headDimOf(f, hiddenSize, numAttentionHeads, ['hidden_size', 'num_attention_heads'], false),
    intermediateSize: f.int('intermediate_size', 3072),
    typeVocabSize: f.int('type_vocab_size', 2),
    layerNormEps: f.positive('layer_norm_eps', 1e-12),
    maxPositionEmbeddings: f.int('max_position_embeddings', 512),
    activation: activation(f, 'hidden_act', 'gelu'),
  };
}

/**
 * Parse a config.json object. `file` names it in errors.
 *
 * @example
 * const c = parseConfig({ model_type: 'llama', hidden_size: 576, num_attention_heads: 9, num_key_value_heads: 3 });
 * c.modelType === 'llama' && c.headDim; // 64
 */
export function parseConfig(raw: unknown, file = 'config.json'): ModelConfig {
  if (!isJsonObject(raw)) throw new IoError(file, 'must be a JSON object');
  const f = new Fields(file, raw);
  const type = f.required('model_type');
  switch (type) {
    case 'gpt2':
      return gpt2(f);
    case 'llama':
    case 'qwen2':
    case 'mistral':
      return llamaFamily(f, type);
    case 'bert':
      return bert(f);
    default:
      throw new IoError(
        file,
        `model_type ${JSON.stringify(type)} is not supported (sparsekit reads ${MODEL_TYPES.join(', ')})`,
        'model_type',
      );
  }
}

/** Read a JSON file; errors name the file. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new IoError(path, `cannot be read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new IoError(path, `is not valid JSON (${(e as Error).message})`);
  }
}

/** Load config.json from a model folder (or the path of a config file). */
export function loadConfig(pathOrDir: string): ModelConfig {
  const path = statSync(pathOrDir).isDirectory() ? join(pathOrDir, 'config.json') : pathOrDir;
  return parseConfig(readJsonFile(path), path);
}
