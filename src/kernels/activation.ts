// Elementwise activations, optionally gated (SwiGLU / GeGLU): out[i] = act(x[i]) · u[i] (u = 0: no gate) for
// i in [i0, i1), 4 lanes at a time with a scalar tail. TypeScript twins: src/backend/reference/activation.ts.
//
// act: 0 SiLU x/(1 + e^−x); 1 GELU tanh ½x(1 + tanh(√(2/π)(x + 0.044715x³))) with tanh y = 1 − 2/(e^{2y} + 1);
// 2 GELU erf ½x(1 + erf(x/√2)), with 1 + erf(z) = erfc(−z) from Abramowitz–Stegun 7.1.26
// (erfc(a) ≈ (a1·t + … + a5·t⁵)·e^{−a²}, t = 1/(1 + p·a), a ≥ 0, absolute error ≤ 1.5e-7), so large
// negative x keeps its tiny relative accuracy instead of cancelling 1 − 1. exp is exp_f32x4 (_math.ts).

import { exp_f32x4 } from './_math';

const ACT_SILU: i32 = 0;
const ACT_GELU_TANH: i32 = 1;
const ACT_GELU_ERF: i32 = 2;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const INV_SQRT2: f32 = 0.7071067811865476;
const AS_P: f32 = 0.3275911;
const AS_A1: f32 = 0.254829592;
const AS_A2: f32 = -0.284496736;
const AS_A3: f32 = 1.421413741;
const AS_A4: f32 = -1.453152027;
const AS_A5: f32 = 1.061405429;

// @ts-ignore: decorator
@inline function actVec(x: v128, act: i32): v128 {
  const one = f32x4.splat(1);
  if (act == ACT_SILU) return f32x4.div(x, f32x4.add(one, exp_f32x4(f32x4.neg(x))));
  if (act == ACT_GELU_TANH) {
    const y = f32x4.mul(f32x4.splat(SQRT_2_OVER_PI), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(x, f32x4.mul(x, x)))));
    // 1 + tanh y = 2 − 2/(e^{2y} + 1) = 2·e^{2y}/(e^{2y} + 1), written as 2/(1 + e^{−2y}) (no cancellation)
    const onePlusTanh = f32x4.div(f32x4.splat(2), f32x4.add(one, exp_f32x4(f32x4.mul(f32x4.splat(-2), y))));
    return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), onePlusTanh);
  }
  // GELU erf: 1 + erf(z) = erfc(−z); for z < 0 that is erfc(|z|), for z ≥ 0 it is 2 − erfc(z)
  const z = f32x4.mul(x, f32x4.splat(INV_SQRT2));
  const a = f32x4.abs(z);
  const t = f32x4.div(one, f32x4.add(one, f32x4.mul(f32x4.splat(AS_P), a)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(AS_A5), t), f32x4.splat(AS_A4));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(AS_A3));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(AS_A2));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(AS_A1));
  const erfc = f32x4.mul(f32x4.mul(p, t), exp_f32x4(f32x4.neg(f32x4.mul(a, a))));
  const neg = f32x4.lt(z, f32x4.splat(0));
  const onePlusErf = v128.bitselect(erfc, f32x4.sub(f32x4.splat(2), erfc), neg);
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), onePlusErf);
}

// @ts-ignore: decorator
@inline function actRun(x: usize, u: usize, out: usize, act: i32, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i << 2;
    let y = actVec(v128.load(x + o), act);
    if (u != 0) y = f32x4.mul(y, v128.load(u + o));
    v128.store(out + o, y);
  }
  for (; i < i1; i++) {
    // the scalar tail through lane 0 of the same vector code, so every element rounds alike
    const o = <usize>i << 2;
    let y = f32x4.extract_lane(actVec(f32x4.splat(load<f32>(x + o)), act), 0);
    if (u != 0) y *= load<f32>(u + o);
    store<f32>(out + o, y);
  }
}

/** out[i] = act(x[i]) · (u ≠ 0 ? u[i] : 1) for i in [i0, i1); act 0 SiLU, 1 GELU tanh, 2 GELU erf. out may be x. */
export function activate_f32(x: usize, u: usize, out: usize, act: i32, i0: i32, i1: i32): void {
  if (act == ACT_SILU) actRun(x, u, out, ACT_SILU, i0, i1);
  else if (act == ACT_GELU_TANH) actRun(x, u, out, ACT_GELU_TANH, i0, i1);
  else actRun(x, u, out, ACT_GELU_ERF, i0, i1);
}

// SwiGLU backward: for y = silu(g)·u = g·σ(g)·u and its gradient dy, dg = dy·u·σ(g)·(1 + g·(1 − σ(g))) and
// du = dy·g·σ(g), with σ(g) = 1/(1 + e^−g) recomputed from g (the forward keeps nothing). TypeScript twin:
// src/backend/reference/activation.ts swigluBackwardRef.

/** σ(g) = 1/(1 + e^−g) lane by lane. */
// @ts-ignore: decorator
@inline function sigmoidVec(g: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, exp_f32x4(f32x4.neg(g))));
}

/** dg = (dy·σ)·u·(1 + g·(1 − σ)) given dys = dy·σ(g) and s = σ(g). */
// @ts-ignore: decorator
@inline function swigluDg(g: v128, u: v128, dys: v128, s: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.mul(f32x4.mul(dys, u), f32x4.add(one, f32x4.mul(g, f32x4.sub(one, s))));
}

/** dg[i], du[i] of SwiGLU for i in [i0, i1) (see above). dg and du may each be one of the inputs (every element is read before it is written). */
export function swiglu_backward_f32(g: usize, u: usize, dy: usize, dg: usize, du: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i << 2;
    const gv = v128.load(g + o);
    const uv = v128.load(u + o);
    const s = sigmoidVec(gv);
    const dys = f32x4.mul(v128.load(dy + o), s);
    v128.store(du + o, f32x4.mul(dys, gv));
    v128.store(dg + o, swigluDg(gv, uv, dys, s));
  }
  for (; i < i1; i++) {
    // the scalar tail through lane 0 of the same vector code, so every element rounds alike
    const o = <usize>i << 2;
    const gv = v128.load32_zero(g + o);
    const uv = v128.load32_zero(u + o);
    const s = sigmoidVec(gv);
    const dys = f32x4.mul(v128.load32_zero(dy + o), s);
    store<f32>(du + o, f32x4.extract_lane(f32x4.mul(dys, gv), 0));
    store<f32>(dg + o, f32x4.extract_lane(swigluDg(gv, uv, dys, s), 0));
  }
}

/**
 * RMSNorm of rows [r0, r1) of x [R, C]: out = w · (x · 1/√(mean(x²) + eps)), in f32 as transformers computes
 * it (sum of squares in 4 f32 lanes). out may be x.
 */
export function rmsnorm_f32(x: usize, w: usize, out: usize, C: i32, eps: f32, r0: i32, r1: i32): void {
  const rowBytes = <usize>C << 2;
  const vec = <usize>(C >> 2) << 4;
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * rowBytes;
    const orow = out + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    let o: usize = 0;
    for (; o < vec; o += 16) {
      const v = v128.load(xr + o);
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let sq = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; o < rowBytes; o += 4) sq += load<f32>(xr + o) * load<f32>(xr + o);
    const inv: f32 = 1 / Mathf.sqrt(sq / <f32>C + eps);
    const iv = f32x4.splat(inv);
    o = 0;
    for (; o < vec; o += 16) v128.store(orow + o, f32x4.mul(v128.load(w + o), f32x4.mul(v128.load(xr + o), iv)));
    for (; o < rowBytes; o += 4) store<f32>(orow + o, load<f32>(w + o) * (load<f32>(xr + o) * inv));
  }
}
