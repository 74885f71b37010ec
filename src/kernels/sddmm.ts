// SDDMM (sampled dense-dense matmul): out[p] = Σ_t A[i,t] · B[colIdx[p],t] for every stored position p of row
// i, rows [r0, r1) only. With A = dYᵀ [M,T] and B = Xᵀ [K,T] it is the gradient of a sparse weight W [M,K]
// at its kept entries (dW = dY·Xᵀ sampled on W's pattern), costing nnz·T multiply-adds instead of M·K·T.
// TypeScript twin: src/backend/reference/sddmm.ts sddmmRef. Layout (byte offsets):
//   rowPtr u32[M+1], colIdx u32[nnz], A f32[M,T] row-major, B f32[K,T] row-major, out f32[nnz].

import { madd_f32x4 } from './_math';

/** out[p] for the positions of rows [r0, r1). */
export function sddmm_f32(rowPtr: usize, colIdx: usize, a: usize, b: usize, out: usize, T: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>T << 2;
  for (let i = r0; i < r1; i++) {
    const ar = a + <usize>i * rowBytes;
    const pe = <usize>load<u32>(rowPtr + (<usize>i << 2), 4);
    for (let p = <usize>load<u32>(rowPtr + (<usize>i << 2)); p < pe; p++) {
      const br = b + <usize>load<u32>(colIdx + (p << 2)) * rowBytes;
      store<f32>(out + (p << 2), dot(ar, br, T));
    }
  }
}

/** Σ_t x[t]·y[t] over T floats: two 4-lane accumulators, then a scalar tail. */
// @ts-ignore: decorator
@inline function dot(x: usize, y: usize, T: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let t = 0;
  for (; t + 8 <= T; t += 8) {
    const o = <usize>t << 2;
    a0 = madd_f32x4(v128.load(x + o), v128.load(y + o), a0);
    a1 = madd_f32x4(v128.load(x + o, 16), v128.load(y + o, 16), a1);
  }
  if (t + 4 <= T) {
    const o = <usize>t << 2;
    a0 = madd_f32x4(v128.load(x + o), v128.load(y + o), a0);
    t += 4;
  }
  const s = f32x4.add(a0, a1);
  let r = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  for (; t < T; t++) r += load<f32>(x + (<usize>t << 2)) * load<f32>(y + (<usize>t << 2));
  return r;
}
