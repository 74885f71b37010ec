/**
 * Training forward passes of GPT-2 and the Llama family, composed from autograd ops only. A batch of B
 * sequences of T tokens runs as N = B·T rows through every linear (one GEMM per layer) and as B·H heads
 * through attention (batch folded into the head axis, which keeps grouped-query attention's head → kv-head
 * map exact).
 */

import { attention } from '../../autograd/attention.js';
import { add, gelu, geluTanh, mul, relu, silu } from '../../autograd/elementwise.js';
import { embedding, rope } from '../../autograd/embedding.js';
import { linear, type SparseWeight } from '../../autograd/linear.js';
import { layerNorm, rmsNorm } from '../../autograd/norm.js';
import { permute, reshape, slice } from '../../autograd/shape.js';
import { constant, type Var } from '../../autograd/tape.js';
import type { Activation, Gpt2Config, LlamaFamilyConfig } from '../../io/config.js';
import { ropeInverseFrequencies } from '../../io/rope.js';
import { Tensor } from '../../tensor/tensor.js';

/** A parameter by HF name: a Var, or for a linear weight possibly a sparse weight. */
export type ParamLookup = {
  (name: string): Var;
  linear(name: string): Var | SparseWeight;
  has(name: string): boolean;
};

/** The batch geometry: flat ids [B·T] of B sequences of T tokens. */
export interface BatchShape {
  readonly ids: ArrayLike<number>;
  readonly batch: number;
  readonly seqLen: number;
}

const ACTIVATIONS: Record<Activation, (x: Var) => Var> = {
  gelu,
  gelu_tanh: geluTanh,
  silu,
  relu,
};

/** x [B·T, H·d] → [B·H, T, d]. */
function splitHeads(x: Var, s: BatchShape, heads: number): Var {
  return reshape(permute(reshape(x, [s.batch, s.seqLen, heads, -1]), [0, 2, 1, 3]), [
    s.batch * heads,
    s.seqLen,
    -1,
  ]);
}

/** o [B·H, T, d] → [B·T, H·d]. */
function mergeHeads(o: Var, s: BatchShape, heads: number): Var {
  return reshape(permute(reshape(o, [s.batch, heads, s.seqLen, -1]), [0, 2, 1, 3]), [s.batch * s.seqLen, -1]);
}

/** GPT2LMHeadModel's forward (eval mode: no dropout) → logits [B·T, vocab]. */
export function gpt2Forward(c: Gpt2Config, p: ParamLookup, prefix: string, s: BatchShape): Var {
  const C = c.nEmbd;
  const H = c.nHead;
  const act = ACTIVATIONS[c.activation];
  const positions = Array.from({ length: s.ids.length }, (_, i) => i % s.seqLen);
  let x = add(embedding(p(`${prefix}wte.weight`), s.ids), embedding(p(`${prefix}wpe.weight`), positions));
  for (let i = 0; i < c.nLayer; i++) {
    const h = `${prefix}h.${i}`;
    const a = layerNorm(x, p(`${h}.ln_1.weight`), p(`${h}.ln_1.bias`), c.layerNormEpsilon);
    const qkv = linear(a, p.linear(`${h}.attn.c_attn.weight`), p(`${h}.attn.c_attn.bias`)); // [N, 3C]
    const [q, k, v] = [0, 1, 2].map((j) => splitHeads(slice(qkv, j * C, (j + 1) * C), s, H)) as [
      Var,
      Var,
      Var,
    ];
    let scale = c.scaleAttnWeights ? 1 / Math.sqrt(c.headDim) : 1;
    if (c.scaleAttnByInverseLayerIdx) scale /= i + 1;
    const o = mergeHeads(attention(q, k, v, { scale }), s, H);
    x = add(x, linear(o, p.linear(`${h}.attn.c_proj.weight`), p(`${h}.attn.c_proj.bias`)));
    const m = layerNorm(x, p(`${h}.ln_2.weight`), p(`${h}.ln_2.bias`), c.layerNormEpsilon);
    const f = act(linear(m, p.linear(`${h}.mlp.c_fc.weight`), p(`${h}.mlp.c_fc.bias`)));
    x = add(x, linear(f, p.linear(`${h}.mlp.c_proj.weight`), p(`${h}.mlp.c_proj.bias`)));
  }
  x = layerNorm(x, p(`${prefix}ln_f.weight`), p(`${prefix}ln_f.bias`), c.layerNormEpsilon);
  return linear(x, c.tieWordEmbeddings ? p(`${prefix}wte.weight`) : p.linear('lm_head.weight'));
}

/**
 * Token embeddings with nn.Embedding's padding_idx: positions holding `pad` take the table row's value but
 * send it no gradient (torch skips padding_idx in the embedding's backward). Other positions are a plain lookup.
 */
function embedWithPadding(table: Var, ids: ArrayLike<number>, pad: number | null): Var {
  const e = embedding(table, ids);
  if (pad === null || !Array.prototype.some.call(ids, (id: number) => id === pad)) return e;
  const D = table.shape[1]!;
  const keep = new Float32Array(ids.length * D).fill(1);
  const fixed = new Float32Array(ids.length * D);
  const row = table.value.data.subarray(pad * D, (pad + 1) * D);
  for (let t = 0; t < ids.length; t++) {
    if (ids[t] !== pad) continue;
    keep.fill(0, t * D, (t + 1) * D);
    fixed.set(row, t * D);
  }
  return add(mul(e, constant(new Tensor(keep, e.shape))), constant(new Tensor(fixed, e.shape)));
}

/** LlamaForCausalLM's forward (also Qwen2, Mistral without a sliding window) → logits [B·T, vocab]. */
export function llamaForward(c: LlamaFamilyConfig, p: ParamLookup, s: BatchShape): Var {
  const H = c.numAttentionHeads;
  const Hkv = c.numKeyValueHeads;
  const act = ACTIVATIONS[c.activation];
  const inv = ropeInverseFrequencies(c.rope, c.headDim);
  const bias = (name: string) => (p.has(name) ? p(name) : null);
  const lin = (x: Var, n: string) => linear(x, p.linear(`${n}.weight`), bias(`${n}.bias`));
  let x = embedWithPadding(p('model.embed_tokens.weight'), s.ids, c.padTokenId);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = `model.layers.${i}`;
    const h = rmsNorm(x, p(`${l}.input_layernorm.weight`), c.rmsNormEps);
    const q = rope(splitHeads(lin(h, `${l}.self_attn.q_proj`), s, H), inv);
    const k = rope(splitHeads(lin(h, `${l}.self_attn.k_proj`), s, Hkv), inv);
    const v = splitHeads(lin(h, `${l}.self_attn.v_proj`), s, Hkv);
    const o = mergeHeads(attention(q, k, v, { scale: 1 / Math.sqrt(c.headDim) }), s, H);
    x = add(x, lin(o, `${l}.self_attn.o_proj`));
    const m = rmsNorm(x, p(`${l}.post_attention_layernorm.weight`), c.rmsNormEps);
    x = add(x, lin(mul(act(lin(m, `${l}.mlp.gate_proj`)), lin(m, `${l}.mlp.up_proj`)), `${l}.mlp.down_proj`));
  }
  x = rmsNorm(x, p('model.norm.weight'), c.rmsNormEps);
  return linear(x, c.tieWordEmbeddings ? p('model.embed_tokens.weight') : p.linear('lm_head.weight'));
}
