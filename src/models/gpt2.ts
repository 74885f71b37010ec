/**
 * GPT-2 (transformers' GPT2LMHeadModel): learned positions, pre-LN blocks, fused qkv projection `c_attn`,
 * GELU MLP, final LayerNorm, LM head tied to `wte` unless the checkpoint has `lm_head.weight`. HF stores the
 * Conv1D weights [in, out]; they are transposed on load into Linear's [out, in] (and back on save).
 */

import type { Gpt2Config } from '../io/config.js';
import type { JsonObject } from '../io/fields.js';
import { causalSelfAttention, type HeadShape } from '../nn/attention.js';
import { Embedding } from '../nn/embedding.js';
import type { LayerKV } from '../nn/kvcache.js';
import { Linear } from '../nn/linear.js';
import { MLP } from '../nn/mlp.js';
import { LayerNorm } from '../nn/norm.js';
import { addTransposed, checkIds, transposed } from '../nn/ops.js';
import { Tensor } from '../tensor/tensor.js';
import { type CausalBlock, CausalModel, headState, linearEntries, tensorEntry } from './causal.js';
import type { Checkpoint, StateEntry } from './checkpoint.js';
import type { ModelSource } from './types.js';

class Gpt2Block implements CausalBlock {
  constructor(
    readonly ln1: LayerNorm,
    readonly cAttn: Linear,
    readonly cProj: Linear,
    readonly ln2: LayerNorm,
    readonly mlp: MLP,
    readonly shape: HeadShape,
    readonly scale: number,
  ) {}

  // x [T, C] → [T, C]; inside, activations are feature-major [features, T] so linears need no transposes
  forward(x: Tensor, kv: LayerKV, start: number): Tensor {
    const T = x.rows;
    const C = x.cols;
    const qkv = this.cAttn.forwardT(transposed(this.ln1.forward(x))); // [3C, T]
    const a = causalSelfAttention(
      { x: qkv, offset: 0 },
      { x: qkv, offset: C },
      { x: qkv, offset: 2 * C },
      this.shape,
      kv,
      start,
      null,
      this.scale,
    );
    const h = x.clone();
    addTransposed(h.data, this.cProj.forwardT(a).data, T, C);
    addTransposed(h.data, this.mlp.forwardT(transposed(this.ln2.forward(h))).data, T, C);
    return h;
  }
}

/** GPT-2 as a CausalLM. Build with loadModel / loadCausalLM. */
export class Gpt2Model extends CausalModel {
  readonly maxPositions: number;
  readonly lmHead: Linear;
  protected readonly blocks: Gpt2Block[];
  protected readonly cacheShape;
  private readonly wte: Embedding;
  private readonly wpe: Tensor;
  private readonly lnF: LayerNorm;
  private readonly tied: boolean;

  /** @param prefix '' or 'transformer.' (both layouts exist on the hub). */
  constructor(
    readonly config: Gpt2Config,
    ckpt: Checkpoint,
    private readonly prefix: string,
    protected readonly source: ModelSource,
  ) {
    super();
    const c = config;
    const C = c.nEmbd;
    const p = prefix;
    const ln = (name: string) =>
      new LayerNorm(ckpt.tensor(`${name}.weight`, [C]), ckpt.tensor(`${name}.bias`, [C]), c.layerNormEpsilon);
    // Conv1D: weight [in, out] in the file
    const conv = (name: string, inF: number, outF: number) =>
      new Linear(ckpt.linearMatrix(`${name}.weight`, outF, inF, true), ckpt.tensor(`${name}.bias`, [outF]));
    this.wte = new Embedding(ckpt.matrix(`${p}wte.weight`, c.vocabSize, C));
    this.wpe = ckpt.tensor(`${p}wpe.weight`, [c.nPositions, C]);
    this.maxPositions = c.nPositions;
    const shape: HeadShape = { heads: c.nHead, kvHeads: c.nHead, headDim: c.headDim };
    this.cacheShape = { layers: c.nLayer, kvHeads: c.nHead, headDim: c.headDim };
    this.blocks = [];
    for (let i = 0; i < c.nLayer; i++) {
      const h = `${p}h.${i}`;
      let scale = c.scaleAttnWeights ? 1 / Math.sqrt(c.headDim) : 1;
      if (c.scaleAttnByInverseLayerIdx) scale /= i + 1;
      this.blocks.push(
        new Gpt2Block(
          ln(`${h}.ln_1`),
          conv(`${h}.attn.c_attn`, C, 3 * C),
          conv(`${h}.attn.c_proj`, C, C),
          ln(`${h}.ln_2`),
          new MLP(conv(`${h}.mlp.c_fc`, C, c.nInner), conv(`${h}.mlp.c_proj`, c.nInner, C), c.activation),
          shape,
          scale,
        ),
      );
    }
    this.lnF = ln(`${p}ln_f`);
    // GPT2LMHeadModel ties lm_head to wte unless the config unties it (then lm_head.weight is in the file).
    this.tied = c.tieWordEmbeddings;
    this.lmHead = new Linear(
      this.tied ? this.wte.table : ckpt.matrix('lm_head.weight', c.vocabSize, C),
      null,
    );
  }

  protected embed(ids: ArrayLike<number>, start: number): Tensor {
    checkIds(ids, this.wte.num, 'ids', `the vocabulary has ${this.wte.num} tokens`);
    const T = ids.length;
    const C = this.wte.dim;
    const x = new Float32Array(T * C);
    x.set(this.wpe.data.subarray(start * C, (start + T) * C));
    this.wte.addRows(ids, x);
    return new Tensor(x, [T, C]);
  }

  protected finalNorm(x: Tensor): Tensor {
    return this.lnF.forward(x);
  }

  linears(): Map<string, Linear> {
    const m = new Map<string, Linear>();
    this.blocks.forEach((b, i) => {
      const h = `${this.prefix}h.${i}`;
      m.set(`${h}.attn.c_attn.weight`, b.cAttn);
      m.set(`${h}.attn.c_proj.weight`, b.cProj);
      m.set(`${h}.mlp.c_fc.weight`, b.mlp.up);
      m.set(`${h}.mlp.c_proj.weight`, b.mlp.down);
    });
    m.set('lm_head.weight', this.lmHead);
    return m;
  }

  protected hfState(): { config: JsonObject; tensors: Array<[string, StateEntry]> } {
    const p = this.prefix;
    const t: Array<[string, StateEntry]> = [];
    const ln = (name: string, n: LayerNorm) => {
      t.push([`${name}.weight`, tensorEntry(n.weight)], [`${name}.bias`, tensorEntry(n.bias)]);
    };
    t.push([`${p}wte.weight`, { shape: [this.wte.num, this.wte.dim], value: this.wte.table }]);
    t.push([`${p}wpe.weight`, tensorEntry(this.wpe)]);
    this.blocks.forEach((b, i) => {
      const h = `${p}h.${i}`;
      ln(`${h}.ln_1`, b.ln1);
      t.push(...linearEntries(`${h}.attn.c_attn`, b.cAttn, true));
      t.push(...linearEntries(`${h}.attn.c_proj`, b.cProj, true));
      ln(`${h}.ln_2`, b.ln2);
      t.push(...linearEntries(`${h}.mlp.c_fc`, b.mlp.up, true));
      t.push(...linearEntries(`${h}.mlp.c_proj`, b.mlp.down, true));
    });
    ln(`${p}ln_f`, this.lnF);
    const head = headState(this.config.raw, this.tied, this.lmHead, this.wte.table, 'lm_head.weight');
    return { config: head.config, tensors: [...t, ...head.tensors] };
  }
}
