// The rules compose into a transformer training forward: a GPT-2-style block (LayerNorm, fused qkv, causal
// attention, GELU MLP, tied head, cross-entropy) and a Llama-style block (RMSNorm, RoPE, GQA, SwiGLU) pass
// gradcheck with respect to every parameter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../tensor/random.js';
import type { Shape } from '../tensor/tensor.js';
import { attention } from './attention.js';
import { add, geluTanh, mul, silu } from './elementwise.js';
import { embedding, rope } from './embedding.js';
import { gradcheck } from './gradcheck.js';
import { linear } from './linear.js';
import { crossEntropy } from './loss.js';
import { layerNorm, rmsNorm } from './norm.js';
import { permute, reshape, slice } from './shape.js';
import { param, type Var } from './tape.js';

let seed = 500;
const p = (shape: Shape, s = 0.5) => {
  const t = randn(shape, seed++);
  for (let i = 0; i < t.size; i++) t.data[i]! *= s;
  return param(t);
};
const ids = [3, 1, 4, 1, 5];
const targets = [1, 4, 1, 5, 2];
const T = ids.length;

/** [T, H·d] → [H, T, d] and back. */
const heads = (x: Var, H: number) => permute(reshape(x, [T, H, -1]), [1, 0, 2]);
const merge = (x: Var) => reshape(permute(x, [1, 0, 2]), [T, -1]);

test('a GPT-2-style block with a tied head passes gradcheck for every parameter', () => {
  const D = 8;
  const H = 2;
  const ps = [
    p([7, D]),
    p([5, D]),
    p([D], 1),
    p([D], 0.1),
    p([3 * D, D]),
    p([3 * D], 0.1),
    p([D, D]),
    p([D], 0.1),
  ];
  ps.push(
    p([D], 1),
    p([D], 0.1),
    p([2 * D, D]),
    p([2 * D], 0.1),
    p([D, 2 * D]),
    p([D], 0.1),
    p([D], 1),
    p([D], 0.1),
  );
  const block = (
    wte: Var,
    wpe: Var,
    g1: Var,
    b1: Var,
    wqkv: Var,
    bqkv: Var,
    wo: Var,
    bo: Var,
    ...mlp: Var[]
  ) => {
    const [g2, b2, wfc, bfc, wproj, bproj, gf, bf] = mlp as [Var, Var, Var, Var, Var, Var, Var, Var];
    let x = add(embedding(wte, ids), embedding(wpe, [0, 1, 2, 3, 4]));
    const qkv = linear(layerNorm(x, g1, b1), wqkv, bqkv);
    const [q, k, v] = [0, 1, 2].map((i) => heads(slice(qkv, i * D, (i + 1) * D), H)) as [Var, Var, Var];
    x = add(x, linear(merge(attention(q, k, v)), wo, bo));
    x = add(x, linear(geluTanh(linear(layerNorm(x, g2, b2), wfc, bfc)), wproj, bproj));
    return crossEntropy(linear(layerNorm(x, gf, bf), wte), targets);
  };
  const r = gradcheck(block as (...v: Var[]) => Var, ps, { atol: 3e-3 });
  assert.ok(r.ok, JSON.stringify(r.worst));
  assert.ok(r.checked > 600);
});

test('a Llama-style block (RMSNorm, RoPE, grouped-query attention, SwiGLU) passes gradcheck', () => {
  const D = 8;
  const H = 2;
  const Hkv = 1;
  const d = D / H;
  const inv = Float32Array.from({ length: d / 2 }, (_, i) => 10000 ** ((-2 * i) / d));
  const ps = [p([7, D]), p([D], 1), p([D, D]), p([d * Hkv, D]), p([d * Hkv, D]), p([D, D])];
  ps.push(p([D], 1), p([12, D]), p([12, D]), p([D, 12]), p([D], 1), p([7, D]));
  const block = (emb: Var, n1: Var, wq: Var, wk: Var, wv: Var, wo: Var, ...rest: Var[]) => {
    const [n2, wg, wu, wd, nf, head] = rest as [Var, Var, Var, Var, Var, Var];
    let x = embedding(emb, ids);
    const h = rmsNorm(x, n1);
    const q = rope(heads(linear(h, wq), H), inv);
    const k = rope(heads(linear(h, wk), Hkv), inv);
    x = add(x, linear(merge(attention(q, k, heads(linear(h, wv), Hkv))), wo));
    const m = rmsNorm(x, n2);
    x = add(x, linear(mul(silu(linear(m, wg)), linear(m, wu)), wd));
    return crossEntropy(linear(rmsNorm(x, nf), head), targets);
  };
  const r = gradcheck(block as (...v: Var[]) => Var, ps, { atol: 3e-3 });
  assert.ok(r.ok, JSON.stringify(r.worst));
});
