/**
 * The Llama family (transformers' LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM without a sliding
 * window): RMSNorm pre-norm blocks, RoPE (rotate_half) on q and k, grouped-query attention, SwiGLU MLP,
 * optional q/k/v bias (Qwen2), o/MLP bias (Llama `attention_bias`/`mlp_bias`), tied or untied LM head.
 */

import type { LlamaFamilyConfig } from '../io/config.js';
import type { JsonObject } from '../io/fields.js';
import { ropeInverseFrequencies } from '../io/rope.js';
import { causalSelfAttention, type HeadShape } from '../nn/attention.js';
import { Embedding } from '../nn/embedding.js';
import type { LayerKV } from '../nn/kvcache.js';
import { Linear } from '../nn/linear.js';
import { GatedMLP } from '../nn/mlp.js';
import { RMSNorm } from '../nn/norm.js';
import { addTransposed, transposed } from '../nn/ops.js';
import { Rotary } from '../nn/rope.js';
import type { Tensor } from '../tensor/tensor.js';
import { type CausalBlock, CausalModel, headState, linearEntries, tensorEntry } from './causal.js';
import type { Checkpoint, StateEntry } from './checkpoint.js';
import type { ModelSource } from './types.js';

class LlamaBlock implements CausalBlock {
  constructor(
    readonly inputNorm: RMSNorm,
    readonly q: Linear,
    readonly k: Linear,
    readonly v: Linear,
    readonly o: Linear,
    readonly postNorm: RMSNorm,
    readonly mlp: GatedMLP,
    readonly shape: HeadShape,
    readonly rotary: Rotary,
  ) {}

  // x [T, C] → [T, C]; inside, activations are feature-major [features, T] so linears need no transposes
  forward(x: Tensor, kv: LayerKV, start: number): Tensor {
    const T = x.rows;
    const C = x.cols;
    const ht = transposed(this.inputNorm.forward(x)); // [C, T]
    const [q, k, v] = Linear.forwardShared([this.q, this.k, this.v], ht); // [H·d, T], [Hkv·d, T] × 2
    const a = causalSelfAttention(
      { x: q!, offset: 0 },
      { x: k!, offset: 0 },
      { x: v!, offset: 0 },
      this.shape,
      kv,
      start,
      this.rotary,
      1 / Math.sqrt(this.shape.headDim),
    );
    // y = x + o(a): for one token the sum goes into o's fresh [C, 1] output (no copy of x; f32 + commutes)
    const oa = this.o.forwardT(a);
    const y = T === 1 ? oa.reshape([1, C]) : x.clone();
    addTransposed(y.data, T === 1 ? x.data : oa.data, T, C);
    addTransposed(y.data, this.mlp.forwardT(transposed(this.postNorm.forward(y))).data, T, C);
    return y;
  }
}

/** A Llama-family model as a CausalLM. Build with loadModel / loadCausalLM. */
export class LlamaModel extends CausalModel {
  readonly maxPositions: number;
  readonly lmHead: Linear;
  protected readonly blocks: LlamaBlock[];
  protected readonly cacheShape;
  private readonly embedTokens: Embedding;
  private readonly norm: RMSNorm;
  private readonly tied: boolean;

  constructor(
    readonly config: LlamaFamilyConfig,
    ckpt: Checkpoint,
    protected readonly source: ModelSource,
  ) {
    super();
    const c = config;
    const C = c.hiddenSize;
    const d = c.headDim;
    const H = c.numAttentionHeads;
    const Hkv = c.numKeyValueHeads;
    const linear = (name: string, outF: number, inF: number, bias: boolean) =>
      new Linear(
        ckpt.linearMatrix(`${name}.weight`, outF, inF),
        bias ? ckpt.tensor(`${name}.bias`, [outF]) : null,
      );
    const rms = (name: string) => new RMSNorm(ckpt.tensor(`${name}.weight`, [C]), c.rmsNormEps);
    this.embedTokens = new Embedding(ckpt.matrix('model.embed_tokens.weight', c.vocabSize, C));
    this.maxPositions = c.maxPositionEmbeddings;
    const shape: HeadShape = { heads: H, kvHeads: Hkv, headDim: d };
    this.cacheShape = { layers: c.numHiddenLayers, kvHeads: Hkv, headDim: d };
    const rotary = new Rotary(ropeInverseFrequencies(c.rope, d));
    this.blocks = [];
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const l = `model.layers.${i}`;
      const I = c.intermediateSize;
      this.blocks.push(
        new LlamaBlock(
          rms(`${l}.input_layernorm`),
          linear(`${l}.self_attn.q_proj`, H * d, C, c.qkvBias),
          linear(`${l}.self_attn.k_proj`, Hkv * d, C, c.qkvBias),
          linear(`${l}.self_attn.v_proj`, Hkv * d, C, c.qkvBias),
          linear(`${l}.self_attn.o_proj`, C, H * d, c.oBias),
          rms(`${l}.post_attention_layernorm`),
          new GatedMLP(
            linear(`${l}.mlp.gate_proj`, I, C, c.mlpBias),
            linear(`${l}.mlp.up_proj`, I, C, c.mlpBias),
            linear(`${l}.mlp.down_proj`, C, I, c.mlpBias),
            c.activation,
          ),
          shape,
          rotary,
        ),
      );
    }
    this.norm = rms('model.norm');
    this.tied = c.tieWordEmbeddings;
    this.lmHead = new Linear(
      this.tied ? this.embedTokens.table : ckpt.matrix('lm_head.weight', c.vocabSize, C),
      null,
    );
  }

  protected embed(ids: ArrayLike<number>): Tensor {
    return this.embedTokens.forward(ids);
  }

  protected finalNorm(x: Tensor): Tensor {
    return this.norm.forward(x);
  }

  linears(): Map<string, Linear> {
    const m = new Map<string, Linear>();
    this.blocks.forEach((b, i) => {
      const l = `model.layers.${i}`;
      m.set(`${l}.self_attn.q_proj.weight`, b.q);
      m.set(`${l}.self_attn.k_proj.weight`, b.k);
      m.set(`${l}.self_attn.v_proj.weight`, b.v);
      m.set(`${l}.self_attn.o_proj.weight`, b.o);
      m.set(`${l}.mlp.gate_proj.weight`, b.mlp.gate);
      m.set(`${l}.mlp.up_proj.weight`, b.mlp.up);
      m.set(`${l}.mlp.down_proj.weight`, b.mlp.down);
    });
    m.set('lm_head.weight', this.lmHead);
    return m;
  }

  protected hfState(): { config: JsonObject; tensors: Array<[string, StateEntry]> } {
    const t: Array<[string, StateEntry]> = [];
    const e = this.embedTokens;
    t.push(['model.embed_tokens.weight', { shape: [e.num, e.dim], value: e.table }]);
    this.blocks.forEach((b, i) => {
      const l = `model.layers.${i}`;
      t.push([`${l}.input_layernorm.weight`, tensorEntry(b.inputNorm.weight)]);
      t.push(...linearEntries(`${l}.self_attn.q_proj`, b.q));
      t.push(...linearEntries(`${l}.self_attn.k_proj`, b.k));
      t.push(...linearEntries(`${l}.self_attn.v_proj`, b.v));
      t.push(...linearEntries(`${l}.self_attn.o_proj`, b.o));
      t.push([`${l}.post_attention_layernorm.weight`, tensorEntry(b.postNorm.weight)]);
      t.push(...linearEntries(`${l}.mlp.gate_proj`, b.mlp.gate));
      t.push(...linearEntries(`${l}.mlp.up_proj`, b.mlp.up));
      t.push(...linearEntries(`${l}.mlp.down_proj`, b.mlp.down));
    });
    t.push(['model.norm.weight', tensorEntry(this.norm.weight)]);
    const head = headState(this.config.raw, this.tied, this.lmHead, e.table, 'lm_head.weight');
    return { config: head.config, tensors: [...t, ...head.tensors] };
  }
}
