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
    // 4 active columns per pass over the y tile: 4 weight loads + y + 4 broadcasts of x, 1 y load/store per 4.
    for (; j + 4 <= nIdx; j += 4) {
      const p = idx + (<usize>j << 2);
      const k0 = load<u32>(p);
      const k1 = load<u32>(p, 4);
      const k2 = load<u32>(p, 8);
      const k3 = load<u32>(p, 12);
      axpy4(
        yt,
        n,
        wt0 + <usize>k0 * ldw,
        wt0 + <usize>k1 * ldw,
        wt0 + <usize>k2 * ldw,
        wt0 + <usize>k3 * ldw,
        load<f32>(x + (<usize>k0 << 2)),
        load<f32>(x + (<usize>k1 << 2)),
        load<f32>(x + (<usize>k2 << 2)),
        load<f32>(x + (<usize>k3 << 2)),
      );
    }
    for (; j < nIdx; j++) {
      const k = load<u32>(idx + (<usize>j << 2));
      axpy1(yt, n, wt0 + <usize>k * ldw, load<f32>(x + (<usize>k << 2)));
    }
  }
}

// y[0, n) += c0·x0 + c1·x1 + c2·x2 + c3·x3 for four column slices c0..c3 (byte offsets of n floats each).
// @ts-ignore: decorator
@inline function axpy4(
  y: usize,
  n: i32,
  c0: usize,
  c1: usize,
  c2: usize,
  c3: usize,
  x0: f32,
  x1: f32,
  x2: f32,
  x3: f32,
): void {
  const v0 = f32x4.splat(x0);
  const v1 = f32x4.splat(x1);
  const v2 = f32x4.splat(x2);
  const v3 = f32x4.splat(x3);
  const end = <usize>(n & ~3) << 2;
  let off: usize = 0;
  for (; off < end; off += 16) {
    let acc = v128.load(y + off);
    acc = madd(v128.load(c0 + off), v0, acc);
    acc = madd(v128.load(c1 + off), v1, acc);
    acc = madd(v128.load(c2 + off), v2, acc);
    acc = madd(v128.load(c3 + off), v3, acc);
    v128.store(y + off, acc);
  }
  const tail = <usize>n << 2;
  for (; off < tail; off += 4) {
    const s = load<f32>(c0 + off) * x0 + load<f32>(c1 + off) * x1 + load<f32>(c2 + off) * x2 + load<f32>(c3 + off) * x3;
    store<f32>(y + off, load<f32>(y + off) + s);
  }
}

// y[0, n) += c·x for one column slice c (the active inputs left over after groups of 4).
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
