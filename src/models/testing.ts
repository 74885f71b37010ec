/**
 * Tiny random Hugging Face checkpoints with the exact key names of each architecture, for tests (not
 * re-exported). Weights are seeded normals; norms are 1 + noise so every parameter matters.
 */

import type { SafeDType } from '../io/dtypes.js';
import { writeHfFolder } from '../io/hf.js';
import type { TensorEntry } from '../io/safetensors-write.js';
import { toBf16, toF16 } from '../tensor/dtype.js';
import { randn } from '../tensor/random.js';

/** Which tiny model to write. */
export type TinyKind = 'gpt2' | 'gpt2-bare' | 'llama' | 'llama-bias' | 'qwen2' | 'mistral' | 'bert';

/** Options of writeTinyModel. */
export interface TinyOptions {
  /** Dtype of every float tensor (default F32). */
  dtype?: 'F32' | 'BF16' | 'F16';
  /** config.json fields to override. */
  config?: Record<string, unknown>;
  seed?: number;
}

class Builder {
  readonly tensors = new Map<string, TensorEntry>();
  private seed: number;

  constructor(
    seed: number,
    private readonly dtype: 'F32' | 'BF16' | 'F16',
  ) {
    this.seed = seed;
  }

  add(name: string, shape: number[], scale = 0.2, offset = 0): void {
    const t = randn(shape, this.seed++);
    for (let i = 0; i < t.data.length; i++) t.data[i] = offset + scale * t.data[i]!;
    const data = this.dtype === 'F32' ? t.data : this.dtype === 'BF16' ? toBf16(t.data) : toF16(t.data);
    this.tensors.set(name, { dtype: this.dtype as SafeDType, shape, data });
  }

  norm(name: string, C: number, bias: boolean, [w, b] = ['weight', 'bias']): void {
    this.add(`${name}.${w}`, [C], 0.1, 1);
    if (bias) this.add(`${name}.${b}`, [C], 0.1);
  }

  linear(name: string, out: number, inF: number, bias: boolean): void {
    this.add(`${name}.weight`, [out, inF]);
    if (bias) this.add(`${name}.bias`, [out], 0.1);
  }
}

const DTYPE_NAMES = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' } as const;

/** The config.json of a tiny model of `kind`. */
export function tinyConfig(kind: TinyKind): Record<string, unknown> {
  switch (kind) {
    case 'gpt2':
    case 'gpt2-bare':
      return { model_type: 'gpt2', vocab_size: 50, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 96 };
    case 'llama':
    case 'llama-bias':
    case 'qwen2':
    case 'mistral':
      return {
        model_type: kind === 'llama-bias' ? 'llama' : kind,
        vocab_size: 48,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        max_position_embeddings: 96,
        rope_theta: 10000,
        tie_word_embeddings: kind === 'qwen2',
        ...(kind === 'llama-bias' ? { attention_bias: true, mlp_bias: true } : {}),
        ...(kind === 'mistral' ? { sliding_window: null } : {}),
      };
    case 'bert':
      return {
        model_type: 'bert',
        vocab_size: 40,
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 32,
        type_vocab_size: 2,
      };
  }
}

/** Write a tiny random checkpoint of `kind` into `dir` (which must not exist); returns its config.json object. */
export function writeTinyModel(dir: string, kind: TinyKind, opts: TinyOptions = {}): Record<string, unknown> {
  const dtype = opts.dtype ?? 'F32';
  const config: Record<string, unknown> = {
    ...tinyConfig(kind),
    torch_dtype: DTYPE_NAMES[dtype],
    ...opts.config,
  };
  const b = new Builder(opts.seed ?? 1, dtype);
  const num = (k: string) => config[k] as number;
  if (kind === 'gpt2' || kind === 'gpt2-bare') {
    const p = kind === 'gpt2' ? 'transformer.' : '';
    const C = num('n_embd');
    b.add(`${p}wte.weight`, [num('vocab_size'), C]);
    b.add(`${p}wpe.weight`, [num('n_positions'), C], 0.1);
    for (let i = 0; i < num('n_layer'); i++) {
      const h = `${p}h.${i}`;
      b.norm(`${h}.ln_1`, C, true);
      b.add(`${h}.attn.c_attn.weight`, [C, 3 * C]); // Conv1D: [in, out]
      b.add(`${h}.attn.c_attn.bias`, [3 * C], 0.1);
      b.add(`${h}.attn.c_proj.weight`, [C, C]);
      b.add(`${h}.attn.c_proj.bias`, [C], 0.1);
      b.norm(`${h}.ln_2`, C, true);
      b.add(`${h}.mlp.c_fc.weight`, [C, 4 * C]);
      b.add(`${h}.mlp.c_fc.bias`, [4 * C], 0.1);
      b.add(`${h}.mlp.c_proj.weight`, [4 * C, C]);
      b.add(`${h}.mlp.c_proj.bias`, [C], 0.1);
      if (kind === 'gpt2-bare') {
        // the causal-mask buffer older GPT-2 checkpoints (openai-community/gpt2) carry
        const P = num('n_positions');
        const mask = new Float32Array(P * P);
        for (let r = 0; r < P; r++) mask.fill(1, r * P, r * P + r + 1);
        b.tensors.set(`${h}.attn.bias`, { dtype: 'F32', shape: [1, 1, P, P], data: mask });
      }
    }
    b.norm(`${p}ln_f`, C, true);
    if (config.tie_word_embeddings === false) b.add('lm_head.weight', [num('vocab_size'), C]);
  } else if (kind === 'bert') {
    const C = num('hidden_size');
    const I = num('intermediate_size');
    b.add('bert.embeddings.word_embeddings.weight', [num('vocab_size'), C]);
    b.add('bert.embeddings.position_embeddings.weight', [num('max_position_embeddings'), C], 0.1);
    b.add('bert.embeddings.token_type_embeddings.weight', [num('type_vocab_size'), C], 0.1);
    b.norm('bert.embeddings.LayerNorm', C, true, ['gamma', 'beta']);
    for (let i = 0; i < num('num_hidden_layers'); i++) {
      const l = `bert.encoder.layer.${i}`;
      for (const n of ['query', 'key', 'value']) b.linear(`${l}.attention.self.${n}`, C, C, true);
      b.linear(`${l}.attention.output.dense`, C, C, true);
      b.norm(`${l}.attention.output.LayerNorm`, C, true);
      b.linear(`${l}.intermediate.dense`, I, C, true);
      b.linear(`${l}.output.dense`, C, I, true);
      b.norm(`${l}.output.LayerNorm`, C, true);
    }
    b.linear('bert.pooler.dense', C, C, true);
    b.linear('cls.predictions.transform.dense', C, C, true);
    b.norm('cls.predictions.transform.LayerNorm', C, true);
    b.add('cls.predictions.bias', [num('vocab_size')], 0.1);
  } else {
    const C = num('hidden_size');
    const H = num('num_attention_heads');
    const Hkv = num('num_key_value_heads');
    const d = C / H;
    const I = num('intermediate_size');
    const qkvBias = kind === 'qwen2' || kind === 'llama-bias';
    const bias = kind === 'llama-bias';
    b.add('model.embed_tokens.weight', [num('vocab_size'), C]);
    for (let i = 0; i < num('num_hidden_layers'); i++) {
      const l = `model.layers.${i}`;
      b.norm(`${l}.input_layernorm`, C, false);
      b.linear(`${l}.self_attn.q_proj`, H * d, C, qkvBias);
      b.linear(`${l}.self_attn.k_proj`, Hkv * d, C, qkvBias);
      b.linear(`${l}.self_attn.v_proj`, Hkv * d, C, qkvBias);
      b.linear(`${l}.self_attn.o_proj`, C, H * d, bias);
      b.norm(`${l}.post_attention_layernorm`, C, false);
      b.linear(`${l}.mlp.gate_proj`, I, C, bias);
      b.linear(`${l}.mlp.up_proj`, I, C, bias);
      b.linear(`${l}.mlp.down_proj`, C, I, bias);
    }
    b.norm('model.norm', C, false);
    if (config.tie_word_embeddings !== true) b.add('lm_head.weight', [num('vocab_size'), C]);
  }
  writeHfFolder(dir, {
    config,
    weights: b.tensors,
    generationConfig: { do_sample: false, max_new_tokens: 4 },
  });
  return config;
}
