// Vector math shared by the kernels (imported, not built on its own: files starting with _ are skipped).
//
// exp_f32x4: Cephes-style expf. x = n·ln2 + r with n = round(x·log2 e) and |r| ≤ ln2/2 (ln2 split in two
// constants so r is exact to f32), exp(r) ≈ 1 + r + r²·P(r) with a degree-5 minimax P, then ·2ⁿ built in
// the exponent bits. Measured max relative error 1.2e-7 (≈ 2 ulp) over [-87.3, 88] against f64 Math.exp
// (test: src/backend/ops/softmax.test.ts, TOL.exp). Domain: x < -87.33 returns 0 (results below 2⁻¹²⁶
// flush to zero, so exp(-∞) = 0); x > 88 saturates at exp(88). Softmax and attention only pass x ≤ 0.
// NaN in gives NaN out.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_MIN: f32 = -87.33654;
const EXP_MAX: f32 = 88.0;
/** 1.5·2²³: x + ROUND rounds x (|x| < 2²²) to an integer held in the low mantissa bits. */
const ROUND: f32 = 12582912.0;
const ROUND_BITS: i32 = 0x4b400000;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

/** a·b + c: fused where relaxed SIMD offers it, else a multiply and an add. */
// @ts-ignore: decorator
@inline export function madd_f32x4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** exp of each lane (see the header for accuracy and domain). */
// @ts-ignore: decorator
@inline export function exp_f32x4(x: v128): v128 {
  const under = f32x4.lt(x, f32x4.splat(EXP_MIN));
  // pmin/pmax are single instructions; with x first they keep a NaN in x.
  x = f32x4.pmax(f32x4.pmin(x, f32x4.splat(EXP_MAX)), f32x4.splat(EXP_MIN));
  // n = round(x·log2 e) by the 1.5·2²³ trick: adding it leaves n in the low mantissa bits of t.
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND));
  const n = f32x4.sub(t, f32x4.splat(ROUND));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = madd_f32x4(f32x4.splat(P0), r, f32x4.splat(P1));
  p = madd_f32x4(p, r, f32x4.splat(P2));
  p = madd_f32x4(p, r, f32x4.splat(P3));
  p = madd_f32x4(p, r, f32x4.splat(P4));
  p = madd_f32x4(p, r, f32x4.splat(P5));
  p = madd_f32x4(p, f32x4.mul(r, r), f32x4.add(r, f32x4.splat(1)));
  // 2ⁿ: bits(t) − bits(ROUND) = n, so (n + 127) << 23 is bits(t) + (127 − bits(ROUND)) shifted.
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127 - ROUND_BITS)), 23);
  return v128.andnot(f32x4.mul(p, scale), under);
}
