// Dense GEMM: C[M,N] = A[M,K] · B[K,N], all f32 row-major; rows [r0, r1) of C only, so a pool can split rows.
// Two steps: gemm_pack_b_f32 copies B once into 8-column strips, then gemm_f32 runs a 4×8 register-blocked
// micro-kernel over the packed strips, K in blocks of KC so a strip block stays in L1.
// TypeScript twins: src/backend/reference/dense.ts gemmPackBRef (the packing) and gemmRef (pack + multiply).
//
// Packed B layout ("strips"): S = ceil(N/8) strips; strip s holds columns [8s, 8s+8) for every k as
//   bp[(s·K + k)·8 + j] = B[k, 8s + j]   (0 where 8s + j ≥ N)
// so one k-step of the micro-kernel reads 32 contiguous bytes and a whole strip is K·32 contiguous bytes;
// the packed copy takes ceil(N/8)·K·32 bytes (the host allocates it).

/** Columns per packed strip (two f32x4 per row of C). */
const NR = 8;
/** k-block: a KC×8 strip block is 8 KiB and stays in L1 while the row blocks sweep over it. */
const KC = 256;

/** Pack strips [s0, s1) of B[K,N] (row-major, byte offset b) into bp (layout above). */
export function gemm_pack_b_f32(b: usize, bp: usize, K: i32, N: i32, s0: i32, s1: i32): void {
  const ldb = <usize>N << 2;
  for (let s = s0; s < s1; s++) {
    const j0 = s * NR;
    const cols = min(NR, N - j0);
    let src = b + (<usize>j0 << 2);
    let dst = bp + ((<usize>s * <usize>K * NR) << 2);
    if (cols == NR) {
      for (let k = 0; k < K; k++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        src += ldb;
        dst += NR << 2;
      }
    } else {
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < NR; j++) store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(src + (<usize>j << 2)) : 0);
        src += ldb;
        dst += NR << 2;
      }
    }
  }
}

/**
 * C[i, :] = A[i, :] · B for i in [r0, r1). a: A [M,K] row-major; bp: B packed by gemm_pack_b_f32; c: C [M,N].
 * Row blocks of 4 (split rows in multiples of 4 so every thread but the last gets whole blocks).
 */
export function gemm_f32(a: usize, bp: usize, c: usize, M: i32, K: i32, N: i32, r0: i32, r1: i32): void {
  const strips = (N + NR - 1) / NR;
  const lda = <usize>K << 2;
  const ldc = <usize>N << 2;
  if (K == 0) memory.fill(c + <usize>r0 * ldc, 0, <usize>(r1 - r0) * ldc);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const first = k0 == 0;
    for (let s = 0; s < strips; s++) {
      const j0 = s * NR;
      const cols = min(NR, N - j0);
      const bs = bp + ((<usize>s * <usize>K + <usize>k0) * NR << 2);
      let i = r0;
      for (; i + 4 <= r1; i += 4) {
        tile4x8(a + <usize>i * lda + (<usize>k0 << 2), lda, bs, kc, c + <usize>i * ldc + (<usize>j0 << 2), ldc, cols, first);
      }
      for (; i < r1; i++) {
        tile1x8(a + <usize>i * lda + (<usize>k0 << 2), bs, kc, c + <usize>i * ldc + (<usize>j0 << 2), cols, first);
      }
    }
  }
}

// acc + x·y; with relaxed SIMD a fused multiply-add where the CPU has one.
// @ts-ignore: decorator
@inline function madd(x: v128, y: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(x, y, acc);
  } else {
    return f32x4.add(acc, f32x4.mul(x, y));
  }
}

// The micro-kernel: C[4 rows, 8 cols] (+)= A[4 rows, kc] · Bstrip[kc, 8].
// Per k: 2 strip loads + 4 broadcasts of A + 8 accumulators + 1 = 15 SIMD registers, V8's x64 budget.
// @ts-ignore: decorator
@inline function tile4x8(a: usize, lda: usize, b: usize, kc: i32, c: usize, ldc: usize, cols: i32, first: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  const a1 = a + lda;
  const a2 = a1 + lda;
  const a3 = a2 + lda;
  const end = <usize>kc << 2;
  for (let off: usize = 0; off < end; off += 4) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    const x0 = v128.load32_splat(a + off);
    c00 = madd(x0, b0, c00);
    c01 = madd(x0, b1, c01);
    const x1 = v128.load32_splat(a1 + off);
    c10 = madd(x1, b0, c10);
    c11 = madd(x1, b1, c11);
    const x2 = v128.load32_splat(a2 + off);
    c20 = madd(x2, b0, c20);
    c21 = madd(x2, b1, c21);
    const x3 = v128.load32_splat(a3 + off);
    c30 = madd(x3, b0, c30);
    c31 = madd(x3, b1, c31);
    b += NR << 2;
  }
  const d1 = c + ldc;
  const d2 = d1 + ldc;
  const d3 = d2 + ldc;
  if (cols == NR) {
    if (!first) {
      c00 = f32x4.add(c00, v128.load(c));
      c01 = f32x4.add(c01, v128.load(c, 16));
      c10 = f32x4.add(c10, v128.load(d1));
      c11 = f32x4.add(c11, v128.load(d1, 16));
      c20 = f32x4.add(c20, v128.load(d2));
      c21 = f32x4.add(c21, v128.load(d2, 16));
      c30 = f32x4.add(c30, v128.load(d3));
      c31 = f32x4.add(c31, v128.load(d3, 16));
    }
    v128.store(c, c00);
    v128.store(c, c01, 16);
    v128.store(d1, c10);
    v128.store(d1, c11, 16);
    v128.store(d2, c20);
    v128.store(d2, c21, 16);
    v128.store(d3, c30);
    v128.store(d3, c31, 16);
  } else {
    storeCols(c, c00, c01, cols, first);
    storeCols(d1, c10, c11, cols, first);
    storeCols(d2, c20, c21, cols, first);
    storeCols(d3, c30, c31, cols, first);
  }
}

// One row of C for the rows left over after the 4-row blocks: C[1, 8] (+)= A[1, kc] · Bstrip[kc, 8].
// @ts-ignore: decorator
@inline function tile1x8(a: usize, b: usize, kc: i32, c: usize, cols: i32, first: bool): void {
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0);
  const end = <usize>kc << 2;
  for (let off: usize = 0; off < end; off += 4) {
    const x = v128.load32_splat(a + off);
    c0 = madd(x, v128.load(b), c0);
    c1 = madd(x, v128.load(b, 16), c1);
    b += NR << 2;
  }
  if (cols == NR) {
    if (!first) {
      c0 = f32x4.add(c0, v128.load(c));
      c1 = f32x4.add(c1, v128.load(c, 16));
    }
    v128.store(c, c0);
    v128.store(c, c1, 16);
  } else {
    storeCols(c, c0, c1, cols, first);
  }
}

// Write (or add to) the first `cols` (< 8) floats of a C row from the two halves lo | hi of a tile row.
function storeCols(c: usize, lo: v128, hi: v128, cols: i32, first: bool): void {
  for (let j = 0; j < cols; j++) {
    const v = j < 4 ? lane(lo, j) : lane(hi, j - 4);
    const p = c + (<usize>j << 2);
    store<f32>(p, first ? v : load<f32>(p) + v);
  }
}

// Lane j (0..3) of v; lanes must be constants in WebAssembly, so a switch.
// @ts-ignore: decorator
@inline function lane(v: v128, j: i32): f32 {
  if (j == 0) return f32x4.extract_lane(v, 0);
  if (j == 1) return f32x4.extract_lane(v, 1);
  if (j == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}
