/**
 * The parameters of a trainable GPT-2 or Llama-family causal LM: every tensor by its Hugging Face name, its
 * shape in memory, how HF initialises it (`_init_weights` of GPT2PreTrainedModel / LlamaPreTrainedModel) and
 * whether the checkpoint stores it transposed (GPT-2's Conv1D weights are [in, out] in the file, [out, in] here).
 */

import type { Gpt2Config, LlamaFamilyConfig } from '../../io/config.js';

/** A causal LM config sparsekit can train. */
export type TrainableConfig = Gpt2Config | LlamaFamilyConfig;

/** How a parameter starts in `TrainableLM.init`. */
export type ParamInit = { readonly normal: number } | 'zeros' | 'ones';

/** One parameter of the model. */
export interface ParamSpec {
  /** HF tensor name, e.g. 'transformer.h.0.attn.c_attn.weight' or 'model.layers.0.mlp.up_proj.weight'. */
  readonly name: string;
  /** Shape in memory ([out, in] for every linear weight). */
  readonly shape: readonly number[];
  readonly init: ParamInit;
  /** The checkpoint holds the transpose (GPT-2 Conv1D). */
  readonly transposed: boolean;
  /** A linear layer's weight (what masks and sparse formats are for). */
  readonly linear: boolean;
}

/** `initializer_range` of config.json (transformers' default 0.02). */
export function initializerRange(c: TrainableConfig): number {
  const r = c.raw.initializer_range;
  return typeof r === 'number' && r > 0 ? r : 0.02;
}

/**
 * GPT-2 parameters (GPT2LMHeadModel). HF init: linear/Conv1D and embedding weights N(0, initializer_range),
 * biases 0, LayerNorm weight 1 and bias 0, and both `c_proj.weight`s N(0, initializer_range / √(2·n_layer))
 * (the scaled residual projections). `prefix` is 'transformer.' (save_pretrained) or '' (the hub original).
 */
export function gpt2Specs(c: Gpt2Config, prefix: string): ParamSpec[] {
  const std = initializerRange(c);
  const resid = std / Math.sqrt(2 * c.nLayer);
  const C = c.nEmbd;
  const out: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: ParamInit, linear = false) =>
    out.push({ name, shape, init, transposed: linear && name !== 'lm_head.weight', linear });
  const ln = (n: string) => {
    add(`${n}.weight`, [C], 'ones');
    add(`${n}.bias`, [C], 'zeros');
  };
  const conv = (n: string, inF: number, outF: number, s: number) => {
    add(`${n}.weight`, [outF, inF], { normal: s }, true);
    add(`${n}.bias`, [outF], 'zeros');
  };
  add(`${prefix}wte.weight`, [c.vocabSize, C], { normal: std });
  add(`${prefix}wpe.weight`, [c.nPositions, C], { normal: std });
  for (let i = 0; i < c.nLayer; i++) {
    const h = `${prefix}h.${i}`;
    ln(`${h}.ln_1`);
    conv(`${h}.attn.c_attn`, C, 3 * C, std);
    conv(`${h}.attn.c_proj`, C, C, resid);
    ln(`${h}.ln_2`);
    conv(`${h}.mlp.c_fc`, C, c.nInner, std);
    conv(`${h}.mlp.c_proj`, c.nInner, C, resid);
  }
  ln(`${prefix}ln_f`);
  if (!c.tieWordEmbeddings) add('lm_head.weight', [c.vocabSize, C], { normal: std }, true);
  return out;
}

/**
 * Llama / Qwen2 / Mistral parameters (LlamaForCausalLM). HF init: linear and embedding weights
 * N(0, initializer_range) (the padding row, if `pad_token_id` is set, 0), biases 0, RMSNorm weights 1.
 */
export function llamaSpecs(c: LlamaFamilyConfig): ParamSpec[] {
  const std = initializerRange(c);
  const C = c.hiddenSize;
  const I = c.intermediateSize;
  const qd = c.numAttentionHeads * c.headDim;
  const kvd = c.numKeyValueHeads * c.headDim;
  const out: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: ParamInit, linear = false) =>
    out.push({ name, shape, init, transposed: false, linear });
  const lin = (n: string, outF: number, inF: number, bias: boolean) => {
    add(`${n}.weight`, [outF, inF], { normal: std }, true);
    if (bias) add(`${n}.bias`, [outF], 'zeros');
  };
  add('model.embed_tokens.weight', [c.vocabSize, C], { normal: std });
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = `model.layers.${i}`;
    add(`${l}.input_layernorm.weight`, [C], 'ones');
    lin(`${l}.self_attn.q_proj`, qd, C, c.qkvBias);
    lin(`${l}.self_attn.k_proj`, kvd, C, c.qkvBias);
    lin(`${l}.self_attn.v_proj`, kvd, C, c.qkvBias);
    lin(`${l}.self_attn.o_proj`, C, qd, c.oBias);
    add(`${l}.post_attention_layernorm.weight`, [C], 'ones');
    lin(`${l}.mlp.gate_proj`, I, C, c.mlpBias);
    lin(`${l}.mlp.up_proj`, I, C, c.mlpBias);
    lin(`${l}.mlp.down_proj`, C, I, c.mlpBias);
  }
  add('model.norm.weight', [C], 'ones');
  if (!c.tieWordEmbeddings) lin('lm_head', c.vocabSize, C, false);
  return out;
}
