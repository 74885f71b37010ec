// Half-precision weights × f32 activations, f32 accumulation: y[M] = W[M,K] · x[K] (GEMV) and
// C[M,N] = W[M,K] · B[K,N] (GEMM), W stored as bf16 or f16 bits (u16, row-major). Rows [r0, r1) only.
// TypeScript twins: src/backend/reference/half.ts (halfPackXRef, halfGemvRef, halfGemmRef).
//
// GEMV reads 8 halves (16 bytes) of a row per load. Seen as 4 u32 lanes, each lane holds an even element
// in its low half and an odd one in its high half, so the even elements widen with one shift and the odd
// ones with one mask (bf16; f16 adds its rebias, see _half.ts) and nothing is shuffled. x is permuted to
// match once per call (half_pack_x): per 8 columns, x0 x2 x4 x6 then x1 x3 x5 x7; the last K mod 8
// columns stay in order and go to a scalar tail. Rows are read one after the other (one sequential stream).
// GEMM packs B into 8-column strips (gemm_pack_b_f32, gemm.ts) and runs the f32 GEMM's blocked loop and
// micro-kernel (_gemm.ts), widening each 4-row panel of W to f32 as it is packed.

import { ELEM_BF16, ELEM_F16, evenHalves, halfAt, oddHalves } from './_half';
import { gemmBlocked } from './_gemm';
import { madd_f32x4 } from './_math';

/** xp = x [K] permuted for the GEMV kernels (see the header): 8-column chunks even-then-odd, tail in order. */
export function half_pack_x(x: usize, xp: usize, K: i32): void {
  const body = <usize>(K >> 3) << 5; // bytes of whole 8-column chunks (f32)
  for (let off: usize = 0; off < body; off += 32) {
    const a = v128.load(x + off); // x0 x1 x2 x3
    const b = v128.load(x + off, 16); // x4 x5 x6 x7
    v128.store(xp + off, v128.shuffle<f32>(a, b, 0, 2, 4, 6));
    v128.store(xp + off, v128.shuffle<f32>(a, b, 1, 3, 5, 7), 16);
  }
  for (let off = body; off < <usize>K << 2; off += 4) store<f32>(xp + off, load<f32>(x + off));
}

/** y[i] = Σ_k W[i,k]·x[k] for i in [r0, r1); w: bf16 bits [M,K]; xp: x packed by half_pack_x. */
export function gemv_bf16_f32(w: usize, xp: usize, y: usize, M: i32, K: i32, r0: i32, r1: i32): void {
  gemvHalf(w + <usize>r0 * (<usize>K << 1), xp, y, K, r0, r1, ELEM_BF16, false, false);
}

/**
 * gemv_bf16_f32 on a panel-major W (as gemv_f32_panels, gemv.ts: panels of P columns, P a multiple of 32, panel
 * after panel, each holding rows 0..M−1 of its columns); xp packed by half_pack_x over all K columns.
 */
export function gemv_bf16_f32_panels(w: usize, xp: usize, y: usize, M: i32, K: i32, P: i32, r0: i32, r1: i32): void {
  gemvHalfPanels(w, xp, y, M, K, P, r0, r1, ELEM_BF16, false);
}

/** gemv_f16_f32 on a panel-major W (see gemv_bf16_f32_panels). */
export function gemv_f16_f32_panels(
  w: usize, xp: usize, y: usize, M: i32, K: i32, P: i32, specials: i32, r0: i32, r1: i32,
): void {
  if (specials) gemvHalfPanels(w, xp, y, M, K, P, r0, r1, ELEM_F16, true);
  else gemvHalfPanels(w, xp, y, M, K, P, r0, r1, ELEM_F16, false);
}

// Panel by panel: a panel starts at a multiple of 32 columns, so x's packing (8-column chunks, the K mod 8 tail
// last) seen from the panel's first column is the packing of the panel's own columns.
// @ts-ignore: decorator
@inline function gemvHalfPanels(
  w: usize, xp: usize, y: usize, M: i32, K: i32, P: i32, r0: i32, r1: i32, elem: i32, specials: bool,
): void {
  for (let c0 = 0; c0 < K; c0 += P) {
    const width = min(P, K - c0);
    const panel = w + <usize>M * (<usize>c0 << 1);
    gemvHalf(panel + <usize>r0 * (<usize>width << 1), xp + (<usize>c0 << 2), y, width, r0, r1, elem, specials, c0 > 0);
  }
}

/**
 * y[i] = Σ_k W[i,k]·x[k] for i in [r0, r1); w: f16 bits [M,K]; xp: x packed by half_pack_x.
 * `specials` ≠ 0 maps f16 Inf / NaN exactly; 0 is faster and exact only for a weight with neither
 * (the host scans the weight once).
 */
export function gemv_f16_f32(w: usize, xp: usize, y: usize, M: i32, K: i32, specials: i32, r0: i32, r1: i32): void {
  const p = w + <usize>r0 * (<usize>K << 1);
  if (specials) gemvHalf(p, xp, y, K, r0, r1, ELEM_F16, true, false);
  else gemvHalf(p, xp, y, K, r0, r1, ELEM_F16, false, false);
}

/** C[i, :] = W[i, :] · B for i in [r0, r1), W bf16 [M,K]; bp, ap, r0 as for gemm_f32 (gemm.ts). */
export function gemm_bf16_f32(w: usize, bp: usize, c: usize, M: i32, K: i32, N: i32, ap: usize, r0: i32, r1: i32): void {
  gemmBlocked(w, ELEM_BF16, bp, c, M, K, N, ap, r0, r1);
}

/** C[i, :] = W[i, :] · B for i in [r0, r1), W f16 [M,K] (Inf / NaN exact); bp, ap, r0 as for gemm_f32. */
export function gemm_f16_f32(w: usize, bp: usize, c: usize, M: i32, K: i32, N: i32, ap: usize, r0: i32, r1: i32): void {
  gemmBlocked(w, ELEM_F16, bp, c, M, K, N, ap, r0, r1);
}

// The GEMV for one storage; elem and specials are constants at every call, so each call is its own loop.
// Rows [r0, r1) of K halves each, one after the other from p (y[i] += the dot when `accumulate`, for panels).
// One row after the other in memory order, 64 bytes (32 halves) per iteration: one sequential stream (see
// gemv.ts; 4 rows read at once reached ≈ 0.45× the probe's rate, and 2 adjacent rows sharing x's loads only
// 9.7 GB/s). The loop is bound by vector ALU work, not loads (widening doubles the operations per byte of f32):
// each 16-byte load's even and odd halves go to their own accumulator with one multiply-add each, 8
// accumulators, so no chain waits on another and nothing is added twice. Measured (1 thread, relaxed build,
// SmolLM-135M's 30 layers of bf16 block weights from DRAM, 7 passes each, alternated): 7.2–7.9 ms a pass against
// 7.4–8.2 for products summed in pairs into 2 accumulators (s = odd·x' + even·x, then acc += s), 2–7% faster.
// @ts-ignore: decorator
@inline function gemvHalf(
  p: usize, xp: usize, y: usize, K: i32, r0: i32, r1: i32, elem: i32, specials: bool, accumulate: bool,
): void {
  const rowBytes = <usize>K << 1;
  const body = <usize>(K >> 5) << 6; // bytes of a row's whole 32-column blocks
  const chunks = <usize>(K >> 3) << 4; // bytes of a row's whole 8-column chunks
  for (let i = r0; i < r1; i++) {
    let e0 = f32x4.splat(0), o0 = f32x4.splat(0), e1 = f32x4.splat(0), o1 = f32x4.splat(0);
    let e2 = f32x4.splat(0), o2 = f32x4.splat(0), e3 = f32x4.splat(0), o3 = f32x4.splat(0);
    let off: usize = 0;
    for (; off < body; off += 64) {
      const xo = xp + (off << 1);
      const q = p + off;
      const v0 = v128.load(q);
      const v1 = v128.load(q, 16);
      const v2 = v128.load(q, 32);
      const v3 = v128.load(q, 48);
      e0 = madd_f32x4(evenHalves(v0, elem, specials), v128.load(xo), e0);
      o0 = madd_f32x4(oddHalves(v0, elem, specials), v128.load(xo, 16), o0);
      e1 = madd_f32x4(evenHalves(v1, elem, specials), v128.load(xo, 32), e1);
      o1 = madd_f32x4(oddHalves(v1, elem, specials), v128.load(xo, 48), o1);
      e2 = madd_f32x4(evenHalves(v2, elem, specials), v128.load(xo, 64), e2);
      o2 = madd_f32x4(oddHalves(v2, elem, specials), v128.load(xo, 80), o2);
      e3 = madd_f32x4(evenHalves(v3, elem, specials), v128.load(xo, 96), e3);
      o3 = madd_f32x4(oddHalves(v3, elem, specials), v128.load(xo, 112), o3);
    }
    for (; off < chunks; off += 16) {
      const xo = xp + (off << 1);
      const v = v128.load(p + off);
      e0 = madd_f32x4(evenHalves(v, elem, specials), v128.load(xo), e0);
      o0 = madd_f32x4(oddHalves(v, elem, specials), v128.load(xo, 16), o0);
    }
    const a = f32x4.add(f32x4.add(e0, o0), f32x4.add(e1, o1));
    const b = f32x4.add(f32x4.add(e2, o2), f32x4.add(e3, o3));
    let s = hsum(f32x4.add(a, b));
    for (; off < rowBytes; off += 2) s += halfAt(p + off, elem) * load<f32>(xp + (off << 1));
    const yi = y + (<usize>i << 2);
    store<f32>(yi, accumulate ? load<f32>(yi) + s : s);
    p += rowBytes;
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}
