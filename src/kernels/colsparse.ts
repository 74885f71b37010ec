// Column-sparse GEMV (activation sparsity): y[M] = W[:, S] · x[S] for a sorted set S of active inputs.
// The weight is stored transposed, Wt[K,M] row-major (column k of W is row k of Wt, M contiguous floats),
// so each active input streams one contiguous column and skipped inputs cost nothing.
// Outputs [r0, r1) only, so a pool splits outputs: every thread walks all of S for its slice of y.
// TypeScript twin: src/backend/reference/colsparse.ts colsparseGemvRef.

/** Outputs per tile: a 16 KiB slice of y stays in L1 while the active columns stream through it. */
const TILE = 4096;

/**
 * y[m] = Σ_{j < nIdx} wt[idx[j], m] · x[idx[j]] for m in [r0, r1).
 * wt: Wt [K,M] f32; x: [K] f32; idx: nIdx u32 input indices; y: [M] f32 (all byte offsets).
 */
export function colsparse_gemv_f32(
  wt: usize,
  x: usize,
  idx: usize,
  nIdx: i32,
  y: usize,
  M: i32,
  r0: i32,
  r1: i32,
): void {
  const ldw = <usize>M << 2;
  for (let m0 = r0; m0 < r1; m0 += TILE) {
    const n = min(TILE, r1 - m0);
    const yt = y + (<usize>m0 << 2);
    const wt0 = wt + (<usize>m0 << 2);
    memory.fill(yt, 0, <usize>n << 2);
    let j = 0;
    // 8 active columns per pass over the y tile: 8 concurrent column streams for the prefetchers and one
    // y load/store per 8 multiply-adds (the 8 broadcasts of x may spill; they are loop-invariant L1 loads)
    for (; j + 8 <= nIdx; j += 8) axpy8(yt, n, wt0, ldw, x, idx + (<usize>j << 2));
    for (; j < nIdx; j++) {
      const k = load<u32>(idx + (<usize>j << 2));
      axpy1(yt, n, wt0 + <usize>k * ldw, load<f32>(x + (<usize>k << 2)));
    }
  }
}

// y[0, n) += Σ_{c<8} Wt[k_c, ·]·x[k_c] for the 8 indices k_c at idx; wt0 is the tile's first output in row 0
// of Wt, so column k's slice starts at wt0 + k·ldw.
// @ts-ignore: decorator
@inline function axpy8(y: usize, n: i32, wt0: usize, ldw: usize, x: usize, idx: usize): void {
  const k0 = load<u32>(idx);
  const k1 = load<u32>(idx, 4);
  const k2 = load<u32>(idx, 8);
  const k3 = load<u32>(idx, 12);
  const k4 = load<u32>(idx, 16);
  const k5 = load<u32>(idx, 20);
  const k6 = load<u32>(idx, 24);
  const k7 = load<u32>(idx, 28);
  const c0 = wt0 + <usize>k0 * ldw;
  const c1 = wt0 + <usize>k1 * ldw;
  const c2 = wt0 + <usize>k2 * ldw;
  const c3 = wt0 + <usize>k3 * ldw;
  const c4 = wt0 + <usize>k4 * ldw;
  const c5 = wt0 + <usize>k5 * ldw;
  const c6 = wt0 + <usize>k6 * ldw;
  const c7 = wt0 + <usize>k7 * ldw;
  const x0 = load<f32>(x + (<usize>k0 << 2));
  const x1 = load<f32>(x + (<usize>k1 << 2));
  const x2 = load<f32>(x + (<usize>k2 << 2));
  const x3 = load<f32>(x + (<usize>k3 << 2));
  const x4 = load<f32>(x + (<usize>k4 << 2));
  const x5 = load<f32>(x + (<usize>k5 << 2));
  const x6 = load<f32>(x + (<usize>k6 << 2));
  const x7 = load<f32>(x + (<usize>k7 << 2));
  const v0 = f32x4.splat(x0);
  const v1 = f32x4.splat(x1);
  const v2 = f32x4.splat(x2);
  const v3 = f32x4.splat(x3);
  const v4 = f32x4.splat(x4);
  const v5 = f32x4.splat(x5);
  const v6 = f32x4.splat(x6);
  const v7 = f32x4.splat(x7);
  const end = <usize>(n & ~3) << 2;
  let off: usize = 0;
  for (; off < end; off += 16) {
    let acc = v128.load(y + off);
    acc = madd(v128.load(c0 + off), v0, acc);
    acc = madd(v128.load(c1 + off), v1, acc);
    acc = madd(v128.load(c2 + off), v2, acc);
    acc = madd(v128.load(c3 + off), v3, acc);
    acc = madd(v128.load(c4 + off), v4, acc);
    acc = madd(v128.load(c5 + off), v5, acc);
    acc = madd(v128.load(c6 + off), v6, acc);
    acc = madd(v128.load(c7 + off), v7, acc);
    v128.store(y + off, acc);
  }
  const tail = <usize>n << 2;
  for (; off < tail; off += 4) {
    let s = load<f32>(y + off);
    s += load<f32>(c0 + off) * x0;
    s += load<f32>(c1 + off) * x1;
    s += load<f32>(c2 + off) * x2;
    s += load<f32>(c3 + off) * x3;
    s += load<f32>(c4 + off) * x4;
    s += load<f32>(c5 + off) * x5;
    s += load<f32>(c6 + off) * x6;
    s += load<f32>(c7 + off) * x7;
    store<f32>(y + off, s);
  }
}

// y[0, n) += c·x for one column slice c (the active inputs left over after groups of 8).
// @ts-ignore: decorator
@inline function axpy1(y: usize, n: i32, c: usize, x: f32): void {
  const v = f32x4.splat(x);
  const end = <usize>(n & ~3) << 2;
  let off: usize = 0;
  for (; off < end; off += 16) v128.store(y + off, madd(v128.load(c + off), v, v128.load(y + off)));
  const tail = <usize>n << 2;
  for (; off < tail; off += 4) store<f32>(y + off, load<f32>(y + off) + load<f32>(c + off) * x);
}

// acc + a·b; with relaxed SIMD a fused multiply-add where the CPU has one.
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, acc);
  } else {
    return f32x4.add(acc, f32x4.mul(a, b));
  }
}

/**
 * The read side of colsparse_gemv_f32 alone: out[r0] = the sum of floats [r0, r1) of every active column idx[j] of
 * Wt (ldw floats a column), read in the kernel's order (8 active columns at once over each tile of TILE floats, the
 * rest one by one) with nothing else to do. Timing it gives the rate at which the kernel's read pattern can stream,
 * beside the rate of all columns in order. TypeScript twin: src/backend/reference/colsparse.ts columnStreamRef.
 */
export function column_stream_f32(wt: usize, ldw: i32, idx: usize, nIdx: i32, out: usize, r0: i32, r1: i32): void {
  const colBytes = <usize>ldw << 2;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let s: f32 = 0;
  for (let m0 = r0; m0 < r1; m0 += TILE) {
    const n = min(TILE, r1 - m0);
    const wt0 = wt + (<usize>m0 << 2);
    const end = <usize>(n & ~3) << 2;
    const tail = <usize>n << 2;
    let j = 0;
    for (; j + 8 <= nIdx; j += 8) {
      const ip = idx + (<usize>j << 2);
      const c0 = wt0 + <usize>load<u32>(ip) * colBytes;
      const c1 = wt0 + <usize>load<u32>(ip, 4) * colBytes;
      const c2 = wt0 + <usize>load<u32>(ip, 8) * colBytes;
      const c3 = wt0 + <usize>load<u32>(ip, 12) * colBytes;
      const c4 = wt0 + <usize>load<u32>(ip, 16) * colBytes;
      const c5 = wt0 + <usize>load<u32>(ip, 20) * colBytes;
      const c6 = wt0 + <usize>load<u32>(ip, 24) * colBytes;
      const c7 = wt0 + <usize>load<u32>(ip, 28) * colBytes;
      let off: usize = 0;
      for (; off < end; off += 16) {
        a0 = f32x4.add(a0, f32x4.add(f32x4.add(v128.load(c0 + off), v128.load(c1 + off)), f32x4.add(v128.load(c2 + off), v128.load(c3 + off))));
        a1 = f32x4.add(a1, f32x4.add(f32x4.add(v128.load(c4 + off), v128.load(c5 + off)), f32x4.add(v128.load(c6 + off), v128.load(c7 + off))));
      }
      for (; off < tail; off += 4) {
        s += load<f32>(c0 + off) + load<f32>(c1 + off) + load<f32>(c2 + off) + load<f32>(c3 + off);
        s += load<f32>(c4 + off) + load<f32>(c5 + off) + load<f32>(c6 + off) + load<f32>(c7 + off);
      }
    }
    for (; j < nIdx; j++) {
      const c = wt0 + <usize>load<u32>(idx + (<usize>j << 2)) * colBytes;
      let off: usize = 0;
      for (; off < end; off += 16) a0 = f32x4.add(a0, v128.load(c + off));
      for (; off < tail; off += 4) s += load<f32>(c + off);
    }
  }
  const a = f32x4.add(a0, a1);
  store<f32>(out + (<usize>r0 << 2), s + f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
}
