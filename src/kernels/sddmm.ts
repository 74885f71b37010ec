// SDDMM (sampled dense-dense matmul): out[p] = Σ_t A[i,t] · B[colIdx[p],t] for every stored position p of row
// i, rows [r0, r1) only. With A = dYᵀ [M,T] and B = Xᵀ [K,T] it is the gradient of a sparse weight W [M,K]
// at its kept entries (dW = dY·Xᵀ sampled on W's pattern), costing nnz·T multiply-adds instead of M·K·T.
// TypeScript twin: src/backend/reference/sddmm.ts sddmmRef. Layout (byte offsets):
//   rowPtr u32[M+1], colIdx u32[nnz], A f32[M,T] row-major, B f32[K,T] row-major, out f32[nnz].
//
// T is walked in blocks of T_BLOCK floats, the rows inside each block: a block's slice of B (K × 512 bytes,
// 384 KB at K = 768) stays in the core's L2 while every row's positions read it, where whole rows (K × 8 KB
// at T = 2048) streamed B from L3 once per position. Each block adds its partial dot to out[p]. Four
// positions of a row go together, sharing each load of A (5 loads per 4 multiply-adds instead of 8):
// 4 accumulators + 1 A + 4 B vectors, within V8's 15 SIMD registers.

import { madd_f32x4 } from './_math';

/** Floats of T per block (see the header). */
const T_BLOCK: i32 = 128;

/** out[p] for the positions of rows [r0, r1). */
export function sddmm_f32(rowPtr: usize, colIdx: usize, a: usize, b: usize, out: usize, T: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>T << 2;
  for (let t0 = 0; t0 < T; t0 += T_BLOCK) {
    const len = min(T_BLOCK, T - t0);
    const first = t0 == 0;
    const off = <usize>t0 << 2;
    for (let i = r0; i < r1; i++) {
      const ar = a + <usize>i * rowBytes + off;
      const pe = <usize>load<u32>(rowPtr + (<usize>i << 2), 4);
      let p = <usize>load<u32>(rowPtr + (<usize>i << 2));
      for (; p + 4 <= pe; p += 4) {
        const ip = colIdx + (p << 2);
        const d = dot4(
          ar,
          b + <usize>load<u32>(ip) * rowBytes + off,
          b + <usize>load<u32>(ip, 4) * rowBytes + off,
          b + <usize>load<u32>(ip, 8) * rowBytes + off,
          b + <usize>load<u32>(ip, 12) * rowBytes + off,
          len,
        );
        const o = out + (p << 2);
        v128.store(o, first ? d : f32x4.add(v128.load(o), d));
      }
      for (; p < pe; p++) {
        const d = dot(ar, b + <usize>load<u32>(colIdx + (p << 2)) * rowBytes + off, len);
        const o = out + (p << 2);
        store<f32>(o, first ? d : load<f32>(o) + d);
      }
    }
  }
}

/** (x·y0, x·y1, x·y2, x·y3) over n floats: one accumulator per y, then a scalar tail. */
// @ts-ignore: decorator
@inline function dot4(x: usize, y0: usize, y1: usize, y2: usize, y3: usize, n: i32): v128 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const o = <usize>t << 2;
    const xv = v128.load(x + o);
    a0 = madd_f32x4(xv, v128.load(y0 + o), a0);
    a1 = madd_f32x4(xv, v128.load(y1 + o), a1);
    a2 = madd_f32x4(xv, v128.load(y2 + o), a2);
    a3 = madd_f32x4(xv, v128.load(y3 + o), a3);
  }
  // lane k of the result is hsum(a_k): two rounds of pairwise adds across the four accumulators
  const s01 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 2, 4, 6), v128.shuffle<f32>(a0, a1, 1, 3, 5, 7));
  const s23 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 2, 4, 6), v128.shuffle<f32>(a2, a3, 1, 3, 5, 7));
  let s = f32x4.add(v128.shuffle<f32>(s01, s23, 0, 2, 4, 6), v128.shuffle<f32>(s01, s23, 1, 3, 5, 7));
  for (; t < n; t++) {
    const xv = f32x4.splat(load<f32>(x + (<usize>t << 2)));
    let yv = v128.load32_zero(y0 + (<usize>t << 2));
    yv = v128.load32_lane(y1 + (<usize>t << 2), yv, 1);
    yv = v128.load32_lane(y2 + (<usize>t << 2), yv, 2);
    yv = v128.load32_lane(y3 + (<usize>t << 2), yv, 3);
    s = f32x4.add(s, f32x4.mul(xv, yv));
  }
  return s;
}

/** Σ_t x[t]·y[t] over n floats: two 4-lane accumulators, then a scalar tail. */
// @ts-ignore: decorator
@inline function dot(x: usize, y: usize, n: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let t = 0;
  for (; t + 8 <= n; t += 8) {
    const o = <usize>t << 2;
    a0 = madd_f32x4(v128.load(x + o), v128.load(y + o), a0);
    a1 = madd_f32x4(v128.load(x + o, 16), v128.load(y + o, 16), a1);
  }
  if (t + 4 <= n) {
    const o = <usize>t << 2;
    a0 = madd_f32x4(v128.load(x + o), v128.load(y + o), a0);
    t += 4;
  }
  const s = f32x4.add(a0, a1);
  let r = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  for (; t < n; t++) r += load<f32>(x + (<usize>t << 2)) * load<f32>(y + (<usize>t << 2));
  return r;
}
