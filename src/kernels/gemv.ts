// Dense GEMV: y[M] = W[M,K] · x[K], W row-major f32. Rows [r0, r1) only, so a pool can split rows.
// TypeScript twin: src/backend/reference/dense.ts gemvRef.
//
// GEMV streams W from DRAM once, so its speed is how many bytes one core keeps in flight. The kernel reads
// 4 rows at a time, each row in two halves at once (k and k + K/2): 8 concurrent sequential streams for the
// hardware prefetchers (measured on a Xeon core: one stream reads at about half the rate of eight, four rows
// one at a time about 10% below eight streams), while the loop holds 8 weight loads + 2 x loads +
// 4 accumulators + 1 ≤ 15 SIMD registers, V8's x64 budget (8 rows at a time spill).

/** y[i] = Σ_k w[i,k]·x[k] for i in [r0, r1). w, x, y are byte offsets of f32 arrays. */
export function gemv_f32(w: usize, x: usize, y: usize, M: i32, K: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>K << 2;
  // bytes in each half: floor(K/8)·4 floats, a multiple of 16; the last K mod 8 columns go to the scalar tail
  const half = <usize>(K >> 3) << 4;
  const tail = half << 1;
  let i = r0;
  for (; i + 4 <= r1; i += 4) {
    const p0 = w + <usize>i * rowBytes;
    const p1 = p0 + rowBytes;
    const p2 = p1 + rowBytes;
    const p3 = p2 + rowBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let lo: usize = 0; lo < half; lo += 16) {
      const hi = lo + half;
      const xl = v128.load(x + lo);
      const xh = v128.load(x + hi);
      a0 = f32x4.add(a0, f32x4.add(f32x4.mul(v128.load(p0 + lo), xl), f32x4.mul(v128.load(p0 + hi), xh)));
      a1 = f32x4.add(a1, f32x4.add(f32x4.mul(v128.load(p1 + lo), xl), f32x4.mul(v128.load(p1 + hi), xh)));
      a2 = f32x4.add(a2, f32x4.add(f32x4.mul(v128.load(p2 + lo), xl), f32x4.mul(v128.load(p2 + hi), xh)));
      a3 = f32x4.add(a3, f32x4.add(f32x4.mul(v128.load(p3 + lo), xl), f32x4.mul(v128.load(p3 + hi), xh)));
    }
    let s0 = hsum(a0);
    let s1 = hsum(a1);
    let s2 = hsum(a2);
    let s3 = hsum(a3);
    for (let off = tail; off < rowBytes; off += 4) {
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
  // the last rows (fewer than 4): one row, same two-halves order
  for (; i < r1; i++) {
    const p = w + <usize>i * rowBytes;
    let a = f32x4.splat(0);
    for (let lo: usize = 0; lo < half; lo += 16) {
      const hi = lo + half;
      a = f32x4.add(a, f32x4.add(f32x4.mul(v128.load(p + lo), v128.load(x + lo)), f32x4.mul(v128.load(p + hi), v128.load(x + hi))));
    }
    let s = hsum(a);
    for (let off = tail; off < rowBytes; off += 4) s += load<f32>(p + off) * load<f32>(x + off);
    store<f32>(y + (<usize>i << 2), s);
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}
