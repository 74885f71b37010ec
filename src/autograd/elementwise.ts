/** Elementwise rules: add/sub/mul with trailing broadcast, scalar ops, activations, sum and mean. */

import { activate, swigluBackward } from '../backend/ops/index.js';
import { Tensor } from '../tensor/tensor.js';
import { accumulate, accumulateFresh, record, type Var } from './tape.js';

/** Size of b's repeat in a when b's shape is a suffix of a's (or b has one element); throws otherwise. */
function broadcastInner(a: Var, b: Var, op: string): number {
  const as = a.shape;
  const bs = b.shape;
  if (b.size === 1) return 1;
  const ok = bs.length <= as.length && bs.every((d, i) => d === as[as.length - bs.length + i]);
  if (!ok) {
    throw new RangeError(
      `${op}: b of shape [${bs.join(', ')}] must match the trailing dims of a [${as.join(', ')}] (or have one element)`,
    );
  }
  return b.size;
}

/** Sum g [R·n] over its R repeats into [n]. */
function sumRepeats(g: Float32Array, n: number): Float32Array {
  const out = new Float64Array(n);
  for (let i = 0; i < g.length; i++) out[i % n]! += g[i]!;
  return Float32Array.from(out);
}

/** a + b, b broadcast over a's leading dims (b [..trailing of a] or one element). */
export function add(a: Var, b: Var): Var {
  const n = broadcastInner(a, b, 'add');
  const x = a.value.data;
  const y = b.value.data;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + y[i % n]!;
  return record(new Tensor(out, a.shape), [a, b], (g) => {
    accumulate(a, g);
    if (b.requiresGrad) accumulate(b, b.size === a.size ? g : sumRepeats(g.data, n));
  });
}

/** a − b, b broadcast as in {@link add}. */
export function sub(a: Var, b: Var): Var {
  const n = broadcastInner(a, b, 'sub');
  const x = a.value.data;
  const y = b.value.data;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! - y[i % n]!;
  return record(new Tensor(out, a.shape), [a, b], (g) => {
    accumulate(a, g);
    if (!b.requiresGrad) return;
    const s = b.size === a.size ? g.data.slice() : sumRepeats(g.data, n);
    for (let i = 0; i < s.length; i++) s[i] = -s[i]!;
    accumulate(b, s);
  });
}

/** a ⊙ b, b broadcast as in {@link add}. */
export function mul(a: Var, b: Var): Var {
  const n = broadcastInner(a, b, 'mul');
  const x = a.value.data;
  const y = b.value.data;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * y[i % n]!;
  return record(new Tensor(out, a.shape), [a, b], (g) => {
    const gd = g.data;
    if (a.requiresGrad) {
      const ga = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) ga[i] = gd[i]! * y[i % n]!;
      accumulateFresh(a, ga);
    }
    if (b.requiresGrad) {
      const gb = new Float64Array(n);
      for (let i = 0; i < x.length; i++) gb[i % n]! += gd[i]! * x[i]!;
      accumulate(b, Float32Array.from(gb));
    }
  });
}

/** c · x for a number c. */
export function scale(x: Var, c: number): Var {
  const d = x.value.data;
  const out = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = c * d[i]!;
  return record(new Tensor(out, x.shape), [x], (g) => {
    const gx = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) gx[i] = c * g.data[i]!;
    accumulateFresh(x, gx);
  });
}

/** x + c for a number c. */
export function addScalar(x: Var, c: number): Var {
  const d = x.value.data;
  const out = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = d[i]! + c;
  return record(new Tensor(out, x.shape), [x], (g) => accumulate(x, g));
}

/** Sum of every element → shape [1] (accumulated in f64). */
export function sum(x: Var): Var {
  let s = 0;
  for (const v of x.value.data) s += v;
  return record(Tensor.from([s]), [x], (g) => accumulateFresh(x, new Float32Array(x.size).fill(g.data[0]!)));
}

/** Mean of every element → shape [1]. */
export function mean(x: Var): Var {
  return scale(sum(x), 1 / x.size);
}

/** A unary elementwise function: value f(x) and derivative df(x, f(x)). */
export interface UnaryRule {
  readonly f: (x: number) => number;
  readonly df: (x: number, y: number) => number;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * erf(x), Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7, below f32 resolution near 1), for exact GELU.
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const r = 1 - poly * Math.exp(-a * a);
  return x < 0 ? -r : r;
}

const sigmoidOf = (x: number) => 1 / (1 + Math.exp(-x));

/** The table of unary rules. */
export const UNARY: Readonly<Record<string, UnaryRule>> = Object.freeze({
  relu: { f: (x) => Math.max(x, 0), df: (x) => (x > 0 ? 1 : 0) },
  relu2: { f: (x) => (x > 0 ? x * x : 0), df: (x) => (x > 0 ? 2 * x : 0) },
  gelu: {
    f: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
    df: (x) => 0.5 * (1 + erf(x / Math.SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x),
  },
  geluTanh: {
    f: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
    df: (x) => {
      const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    },
  },
  silu: {
    f: (x) => x * sigmoidOf(x),
    df: (x) => {
      const s = sigmoidOf(x);
      return s * (1 + x * (1 - s));
    },
  },
  sigmoid: { f: sigmoidOf, df: (_x, y) => y * (1 - y) },
  tanh: { f: Math.tanh, df: (_x, y) => 1 - y * y },
  exp: { f: Math.exp, df: (_x, y) => y },
});

/** Apply a unary rule elementwise. */
export function unary(x: Var, rule: UnaryRule): Var {
  const d = x.value.data;
  const out = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = rule.f(d[i]!);
  return record(new Tensor(out, x.shape), [x], (g) => {
    const gx = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) gx[i] = g.data[i]! * rule.df(d[i]!, out[i]!);
    accumulateFresh(x, gx);
  });
}

/** max(x, 0). */
export const relu = (x: Var): Var => unary(x, UNARY.relu!);
/** relu(x)² (Primer / ReLU² activation sparsity). */
export const relu2 = (x: Var): Var => unary(x, UNARY.relu2!);
/** GELU with erf (BERT, GPT-2 `gelu`). */
export const gelu = (x: Var): Var => unary(x, UNARY.gelu!);
/** GELU, tanh approximation (GPT-2 `gelu_new`). */
export const geluTanh = (x: Var): Var => unary(x, UNARY.geluTanh!);
/** x · sigmoid(x) (Llama's SwiGLU gate). */
export const silu = (x: Var): Var => unary(x, UNARY.silu!);
/** 1 / (1 + e^−x). */
export const sigmoid = (x: Var): Var => unary(x, UNARY.sigmoid!);
/** tanh(x). */
export const tanh = (x: Var): Var => unary(x, UNARY.tanh!);
/** e^x. */
export const exp = (x: Var): Var => unary(x, UNARY.exp!);

/**
 * SwiGLU's gate, fused: silu(g) ⊙ u = g·σ(g)·u (Llama's MLP before down_proj), g and u of one shape. Forward
 * and backward are one WebAssembly pass each (`activate` and `swigluBackward`, σ recomputed from g):
 * dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·g·σ(g). Same values as mul(silu(g), u) at a fraction of the cost.
 */
export function swiglu(g: Var, u: Var): Var {
  if (g.shape.length !== u.shape.length || g.shape.some((d, i) => d !== u.shape[i])) {
    throw new RangeError(
      `swiglu: g [${g.shape.join(', ')}] and u [${u.shape.join(', ')}] must have one shape`,
    );
  }
  const out = activate(g.value.data.slice(), 'silu', u.value.data);
  return record(new Tensor(out, g.shape), [g, u], (dy) => {
    // dg overwrites dy, which the rule owns (see `record`), and is handed to g
    const { dg, du } = swigluBackward(g.value.data, u.value.data, dy.data, {
      dg: dy.data,
      du: new Float32Array(dy.size),
    });
    accumulateFresh(g, dg);
    accumulateFresh(u, du);
  });
}
