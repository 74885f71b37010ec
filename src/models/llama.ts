/**
 * The Llama family (transformers' LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM without a sliding
 * window): RMSNorm pre-norm blocks, RoPE (rotate_half) on q and k, grouped-query attention, SwiGLU MLP,
 * optional q/k/v bias (Qwen2), o/MLP bias (Llama `attention_bias`/`mlp_bias`), tied or untied LM head.
 */

import { kernelArray, kernelArraysSupported } from '../backend/resident.js';
import { runtime, type WasmRuntime } from '../backend/wasm.js';
import type { LlamaFamilyConfig } from '../io/config.js';
import type { JsonObject } from '../io/fields.js';
import { ropeInverseFrequencies } from '../io/rope.js';
import { causalSelfAttention, causalSelfAttentionOne, type HeadShape } from '../nn/attention.js';
import { Embedding } from '../nn/embedding.js';
import type { LayerKV, ModelKVCache } from '../nn/kvcache.js';
import { Linear } from '../nn/linear.js';
import { GatedMLP } from '../nn/mlp.js';
import { RMSNorm } from '../nn/norm.js';
import { addTransposed, transposed } from '../nn/ops.js';
import { Rotary } from '../nn/rope.js';
import { Tensor } from '../tensor/tensor.js';
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

  // one token in the step's arrays: s.hidden [C] ← this block's output (forward's numbers for T = 1)
  forwardOne(s: StepBuffers, kv: LayerKV, start: number): void {
    const C = s.hidden.length;
    this.inputNorm.forwardInto(s.hidden, s.normed);
    this.q.forwardInto(s.normed, s.q);
    this.k.forwardInto(s.normed, s.k);
    this.v.forwardInto(s.normed, s.v);
    const scale = 1 / Math.sqrt(this.shape.headDim);
    causalSelfAttentionOne(s.q, s.k, s.v, this.shape, kv, start, this.rotary, scale, s.attn);
    this.o.forwardInto(s.attn, s.delta);
    addTransposed(s.hidden, s.delta, 1, C);
    this.postNorm.forwardInto(s.hidden, s.normed);
    this.mlp.forwardInto(s.normed, s.gate, s.up, s.delta);
    addTransposed(s.hidden, s.delta, 1, C);
  }
}

/**
 * A one-token step's activations in kernel memory (backend kernelArray), kept by the model between steps: the
 * kernels of a decode step read and write them in place, so no JS array is made per op.
 */
class StepBuffers {
  readonly hidden: Float32Array; // [C] the residual stream
  readonly normed: Float32Array; // [C] a norm's output
  readonly q: Float32Array; // [H·d]
  readonly k: Float32Array; // [Hkv·d]
  readonly v: Float32Array; // [Hkv·d]
  readonly attn: Float32Array; // [H·d] attention output
  readonly delta: Float32Array; // [C] o's or the MLP's output, added to hidden
  readonly gate: Float32Array; // [I]
  readonly up: Float32Array; // [I]
  readonly logits: Float32Array; // [vocab]

  constructor(
    readonly rt: WasmRuntime,
    c: LlamaFamilyConfig,
  ) {
    const f32 = (n: number) => kernelArray(rt, Float32Array, n);
    const C = c.hiddenSize;
    this.hidden = f32(C);
    this.normed = f32(C);
    this.q = f32(c.numAttentionHeads * c.headDim);
    this.k = f32(c.numKeyValueHeads * c.headDim);
    this.v = f32(c.numKeyValueHeads * c.headDim);
    this.attn = f32(c.numAttentionHeads * c.headDim);
    this.delta = f32(C);
    this.gate = f32(c.intermediateSize);
    this.up = f32(c.intermediateSize);
    this.logits = f32(c.vocabSize);
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
  private step: StepBuffers | undefined;

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

  /**
   * One token through kernel arrays kept between steps: the same numbers as forward. Where the runtime has no
   * shared memory, or the LM head has an observer (which expects forward's token-major [1, C] input), the
   * general forward runs instead.
   */
  protected override decodeOne(id: number, cache: ModelKVCache, start: number): Tensor | undefined {
    const rt = runtime();
    if (!kernelArraysSupported(rt) || this.lmHead.onInput) return undefined;
    if (this.step?.rt !== rt) this.step = new StepBuffers(rt, this.config);
    const s = this.step;
    s.hidden.set(this.embed([id]).data);
    for (let i = 0; i < this.blocks.length; i++) this.blocks[i]!.forwardOne(s, cache.layers[i]!, start);
    this.norm.forwardInto(s.hidden, s.normed);
    this.lmHead.forwardInto(s.normed, s.logits);
    return new Tensor(s.logits.slice(), [1, s.logits.length]);
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
