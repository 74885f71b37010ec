/**
 * Training forward passes of GPT-2 and the Llama family, composed from autograd ops only. A batch of B
 * sequences of T tokens runs as N = B·T rows through every linear (one GEMM per layer) and as B·H heads
 * through attention (batch folded into the head axis, which keeps grouped-query attention's head → kv-head
 * map exact). Inside a block, activations are feature-major [features, N] (`linearT`): each block transposes
 * its two normed inputs and its two outputs, and no linear transposes anything, so a sparse weight's backward
 * is just its two sparse kernels.
 */

import { attention } from '../../autograd/attention.js';
import { add, gelu, geluTanh, mul, relu, silu, swiglu } from '../../autograd/elementwise.js';
import { embedding, rope } from '../../autograd/embedding.js';
import { linear, linearT, type SparseWeight } from '../../autograd/linear.js';
import { layerNorm, rmsNorm } from '../../autograd/norm.js';
import { permute, reshape, slice, transpose } from '../../autograd/shape.js';
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

/** Feature-major xt [H·d, B·T] → heads [B·H, T, d]. */
function splitHeads(xt: Var, s: BatchShape, heads: number): Var {
  const d = xt.shape[0]! / heads;
  return reshape(permute(reshape(xt, [heads, d, s.batch, s.seqLen]), [2, 0, 3, 1]), [
    s.batch * heads,
    s.seqLen,
    d,
  ]);
}

/** Heads o [B·H, T, d] → feature-major [H·d, B·T]. */
function mergeHeads(o: Var, s: BatchShape, heads: number): Var {
  const d = o.shape[2]!;
  return reshape(permute(reshape(o, [s.batch, heads, s.seqLen, d]), [1, 3, 0, 2]), [
    heads * d,
    s.batch * s.seqLen,
  ]);
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
    const at = transpose(layerNorm(x, p(`${h}.ln_1.weight`), p(`${h}.ln_1.bias`), c.layerNormEpsilon)); // [C, N]
    const qkv = linearT(at, p.linear(`${h}.attn.c_attn.weight`), p(`${h}.attn.c_attn.bias`)); // [3C, N]
    const [q, k, v] = [0, 1, 2].map((j) => splitHeads(slice(qkv, j * C, (j + 1) * C, 0), s, H)) as [
      Var,
      Var,
      Var,
    ];
    let scale = c.scaleAttnWeights ? 1 / Math.sqrt(c.headDim) : 1;
    if (c.scaleAttnByInverseLayerIdx) scale /= i + 1;
    const o = mergeHeads(attention(q, k, v, { scale }), s, H); // [C, N]
    x = add(x, transpose(linearT(o, p.linear(`${h}.attn.c_proj.weight`), p(`${h}.attn.c_proj.bias`))));
    const mt = transpose(layerNorm(x, p(`${h}.ln_2.weight`), p(`${h}.ln_2.bias`), c.layerNormEpsilon));
    const f = act(linearT(mt, p.linear(`${h}.mlp.c_fc.weight`), p(`${h}.mlp.c_fc.bias`))); // [4C, N]
    x = add(x, transpose(linearT(f, p.linear(`${h}.mlp.c_proj.weight`), p(`${h}.mlp.c_proj.bias`))));
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
  const lin = (xt: Var, n: string) => linearT(xt, p.linear(`${n}.weight`), bias(`${n}.bias`)); // [out, N]
  let x = embedWithPadding(p('model.embed_tokens.weight'), s.ids, c.padTokenId);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = `model.layers.${i}`;
    const ht = transpose(rmsNorm(x, p(`${l}.input_layernorm.weight`), c.rmsNormEps)); // [C, N]
    const q = rope(splitHeads(lin(ht, `${l}.self_attn.q_proj`), s, H), inv);
    const k = rope(splitHeads(lin(ht, `${l}.self_attn.k_proj`), s, Hkv), inv);
    const v = splitHeads(lin(ht, `${l}.self_attn.v_proj`), s, Hkv);
    const o = mergeHeads(attention(q, k, v, { scale: 1 / Math.sqrt(c.headDim) }), s, H); // [H·d, N]
    x = add(x, transpose(lin(o, `${l}.self_attn.o_proj`)));
    const mt = transpose(rmsNorm(x, p(`${l}.post_attention_layernorm.weight`), c.rmsNormEps)); // [C, N]
    const gate = lin(mt, `${l}.mlp.gate_proj`); // [I, N]
    const up = lin(mt, `${l}.mlp.up_proj`);
    const gated = c.activation === 'silu' ? swiglu(gate, up) : mul(act(gate), up);
    x = add(x, transpose(lin(gated, `${l}.mlp.down_proj`)));
  }
  x = rmsNorm(x, p('model.norm.weight'), c.rmsNormEps);
  return linear(x, c.tieWordEmbeddings ? p('model.embed_tokens.weight') : p.linear('lm_head.weight'));
}
