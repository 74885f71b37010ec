// Half precision → f32, shared by the half-precision kernels (imported, not built on its own).
// TypeScript twins: src/tensor/dtype.ts bf16BitsToF32 / f16BitsToF32 (the kernels agree bit for bit on
// every finite value, ±0, ±Inf; NaN stays NaN).
//
// bf16 is the top half of an f32: widening is a 16-bit shift (or a mask, for a value already in the top half).
// f16 (sign, 5-bit exponent, 10-bit mantissa) from a 32-bit lane whose top 16 bits hold h:
//   y = (lane >>signed 3) & 0x8fffe000   sign stays in bit 31, exponent + mantissa move to bits 27..13,
//                                        i.e. an f32 with the same mantissa and exponent e16 (bias 127)
//   f = y · 2^112                        rebias 127 → 15; for e16 = 0 (f16 subnormal, y an f32 subnormal)
//                                        the product is the exact normal value m · 2^-24
//   Inf / NaN (e16 = 31) would come out as ±2^16·1.m, so their exponent bits are forced to 0xff, which
//   keeps the mantissa: Inf stays Inf, NaN stays NaN.

/** Storage of a weight's elements: the GEMM panel packer reads any of them. */
export const ELEM_F32: i32 = 0;
export const ELEM_BF16: i32 = 1;
export const ELEM_F16: i32 = 2;

/** 2^112 as f32: moves an exponent from f16's bias (15) to f32's (127). */
const F16_REBIAS: f32 = 5.192296858534828e33;

// f16 in the top 16 bits of each lane (low bits ignored) → 4 f32. `specials`: also map Inf / NaN
// (callers pass a constant, so the check is compiled out when the weight holds none).
// @ts-ignore: decorator
@inline export function f16Top(lane: v128, specials: bool): v128 {
  const y = v128.and(i32x4.shr_s(lane, 3), i32x4.splat(0x8fffe000));
  let f = f32x4.mul(y, f32x4.splat(F16_REBIAS));
  if (specials) {
    const exp = v128.and(lane, i32x4.splat(0x7c000000));
    const infNan = i32x4.eq(exp, i32x4.splat(0x7c000000));
    f = v128.or(f, v128.and(infNan, i32x4.splat(0x7f800000)));
  }
  return f;
}

// 8 halves h0..h7 (one v128) seen as 4 lanes of h(2j) | h(2j+1) << 16: the even elements h0 h2 h4 h6.
// @ts-ignore: decorator
@inline export function evenHalves(v: v128, elem: i32, specials: bool): v128 {
  const top = i32x4.shl(v, 16);
  return elem == ELEM_BF16 ? top : f16Top(top, specials);
}

// The odd elements h1 h3 h5 h7 of 8 halves (see evenHalves).
// @ts-ignore: decorator
@inline export function oddHalves(v: v128, elem: i32, specials: bool): v128 {
  return elem == ELEM_BF16 ? v128.and(v, i32x4.splat(0xffff0000)) : f16Top(v, specials);
}

// Elements h0..h3 of 8 halves, in order.
// @ts-ignore: decorator
@inline export function lowHalves(v: v128, elem: i32): v128 {
  const top = i32x4.shl(i32x4.extend_low_i16x8_u(v), 16);
  return elem == ELEM_BF16 ? top : f16Top(top, true);
}

// Elements h4..h7 of 8 halves, in order.
// @ts-ignore: decorator
@inline export function highHalves(v: v128, elem: i32): v128 {
  const top = i32x4.shl(i32x4.extend_high_i16x8_u(v), 16);
  return elem == ELEM_BF16 ? top : f16Top(top, true);
}

// One half at byte offset p → f32 (the scalar form of the above, Inf / NaN always handled).
// @ts-ignore: decorator
@inline export function halfAt(p: usize, elem: i32): f32 {
  const top = <i32>load<u16>(p) << 16;
  if (elem == ELEM_BF16) return reinterpret<f32>(top);
  let f = reinterpret<f32>((top >> 3) & 0x8fffe000) * F16_REBIAS;
  if ((top & 0x7c000000) == 0x7c000000) f = reinterpret<f32>(reinterpret<i32>(f) | 0x7f800000);
  return f;
}
