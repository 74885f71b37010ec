// Dense GEMV: y[M] = W[M,K] · x[K], W row-major f32. Rows [r0, r1) only, so a pool can split rows.
// TypeScript twin: src/backend/reference/dense.ts gemvRef.

/** y[i] = Σ_k w[i,k]·x[k] for i in [r0, r1). w, x, y are byte offsets of f32 arrays. */
export function gemv_f32(w: usize, x: usize, y: usize, M: i32, K: i32, r0: i32, r1: i32): void {
  const K4 = K & ~3;
  const rowBytes = <usize>K << 2;
  let i = r0;
  // 4 rows at a time: 4 weight loads + 1 x load + 4 accumulators stays well inside V8's 15 SIMD registers.
  for (; i + 4 <= r1; i += 4) {
    const p0 = w + <usize>i * rowBytes;
    const p1 = p0 + rowBytes;
    const p2 = p1 + rowBytes;
    const p3 = p2 + rowBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let k = 0; k < K4; k += 4) {
      const off = <usize>k << 2;
      const xv = v128.load(x + off);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(p0 + off), xv));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(p1 + off), xv));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(p2 + off), xv));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(p3 + off), xv));
    }
    let s0 = hsum(a0);
    let s1 = hsum(a1);
    let s2 = hsum(a2);
    let s3 = hsum(a3);
    for (let k = K4; k < K; k++) {
      const off = <usize>k << 2;
      const xk = load<f32>(x + off);
      s0 += load<f32>(p0 + off) * xk;
      s1 += load<f32>(p1 + off) * xk;
      s2 += load<f32>(p2 + off) * xk;
      s3 += load<f32>(p3 + off) * xk;
    }
    const yo = y + (<usize>i << 2);
    store<f32>(yo, s0);
    store<f32>(yo, s1, 4);
    store<f32>(yo, s2, 8);
    store<f32>(yo, s3, 12);
  }
  for (; i < r1; i++) {
    const p = w + <usize>i * rowBytes;
    let a = f32x4.splat(0);
    for (let k = 0; k < K4; k += 4) {
      const off = <usize>k << 2;
      a = f32x4.add(a, f32x4.mul(v128.load(p + off), v128.load(x + off)));
    }
    let s = hsum(a);
    for (let k = K4; k < K; k++) s += load<f32>(p + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2));
    store<f32>(y + (<usize>i << 2), s);
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}
