// The blocked GEMM loop and its 4×8 micro-kernel, shared by the f32 GEMM (gemm.ts) and the half-precision
// GEMM (half.ts), which differ only in how a row panel of A is read. Layouts: see gemm.ts.

import { ELEM_BF16, ELEM_F32, ELEM_F16, halfAt, highHalves, lowHalves } from './_half';
import { madd_f32x4 } from './_math';

/** Columns per packed strip (two f32x4 per row of C). */
export const NR = 8;
/** Rows per packed panel (four broadcasts per k-step). */
export const MR = 4;
/** k-block: a KC×8 strip block (8 KiB) stays in L1 and a thread's KC-deep A panels (≤ 1 MiB) in L2. */
export const GEMM_KC: i32 = 256;

/**
 * C[i, :] = A[i, :] · B for i in [r0, r1), A stored as `elem` (ELEM_F32, ELEM_BF16 or ELEM_F16) [M,K]
 * row-major; bp: B packed by gemm_pack_b_f32; c: C [M,N]; ap: scratch for packed A panels (gemm.ts layout).
 * r0 must be a multiple of 4. Half-precision rows are widened to f32 while their panels are packed, so
 * the micro-kernel is the same for every storage.
 */
export function gemmBlocked(a: usize, elem: i32, bp: usize, c: usize, M: i32, K: i32, N: i32, ap: usize, r0: i32, r1: i32): void {
  const strips = (N + NR - 1) / NR;
  const ldc = <usize>N << 2;
  if (K == 0) memory.fill(c + <usize>r0 * ldc, 0, <usize>(r1 - r0) * ldc);
  const panel0 = ap + <usize>r0 * (<usize>GEMM_KC << 2);
  for (let k0 = 0; k0 < K; k0 += GEMM_KC) {
    const kc = min(GEMM_KC, K - k0);
    const first = k0 == 0;
    for (let i = r0; i < r1; i += MR) {
      const dst = panel0 + <usize>(i - r0) * (<usize>GEMM_KC << 2);
      if (elem == ELEM_F32) packPanel(a, K, k0, kc, i, min(MR, r1 - i), dst);
      else if (elem == ELEM_BF16) packHalfPanel(a, ELEM_BF16, K, k0, kc, i, min(MR, r1 - i), dst);
      else packHalfPanel(a, ELEM_F16, K, k0, kc, i, min(MR, r1 - i), dst);
    }
    for (let s = 0; s < strips; s++) {
      const j0 = s * NR;
      const cols = min(NR, N - j0);
      const bs = bp + ((<usize>s * <usize>K + <usize>k0) * NR << 2);
      let pa = panel0;
      for (let i = r0; i < r1; i += MR) {
        tile4x8(pa, bs, kc, c + <usize>i * ldc + (<usize>j0 << 2), ldc, min(MR, r1 - i), cols, first);
        pa += <usize>GEMM_KC << 4; // next panel: 4 rows × KC floats
      }
    }
  }
}

// Pack rows [i, i+rows) (rows ≤ 4) × columns [k0, k0+kc) of A[·,K] into one panel at dst: dst[4·kk + r].
// Full panels transpose 4×4 tiles with shuffles; a short last panel is zero-padded.
function packPanel(a: usize, K: i32, k0: i32, kc: i32, i: i32, rows: i32, dst: usize): void {
  const lda = <usize>K << 2;
  const src = a + <usize>i * lda + (<usize>k0 << 2);
  let kk = 0;
  if (rows == MR) {
    const s1 = src + lda;
    const s2 = s1 + lda;
    const s3 = s2 + lda;
    for (; kk + 4 <= kc; kk += 4) {
      const off = <usize>kk << 2;
      // rows 0..3, k..k+3
      transpose4(v128.load(src + off), v128.load(s1 + off), v128.load(s2 + off), v128.load(s3 + off), dst + (off << 2));
    }
  }
  for (; kk < kc; kk++) {
    for (let r = 0; r < MR; r++) {
      const v: f32 = r < rows ? load<f32>(src + <usize>r * lda + (<usize>kk << 2)) : 0;
      store<f32>(dst + ((<usize>(kk * MR + r)) << 2), v);
    }
  }
}

// The micro-kernel: C[rows ≤ 4, cols ≤ 8] (+)= Apanel[kc, 4]ᵀ · Bstrip[kc, 8] (panel rows past `rows` are zero).
// Per k: 2 strip loads + 4 broadcasts + 8 accumulators + 1 = 15 SIMD registers, V8's x64 budget.
// @ts-ignore: decorator
@inline function tile4x8(a: usize, b: usize, kc: i32, c: usize, ldc: usize, rows: i32, cols: i32, first: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  const end = a + (<usize>kc << 4);
  for (; a < end; a += MR << 2) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    const x0 = v128.load32_splat(a);
    c00 = madd_f32x4(x0, b0, c00);
    c01 = madd_f32x4(x0, b1, c01);
    const x1 = v128.load32_splat(a, 4);
    c10 = madd_f32x4(x1, b0, c10);
    c11 = madd_f32x4(x1, b1, c11);
    const x2 = v128.load32_splat(a, 8);
    c20 = madd_f32x4(x2, b0, c20);
    c21 = madd_f32x4(x2, b1, c21);
    const x3 = v128.load32_splat(a, 12);
    c30 = madd_f32x4(x3, b0, c30);
    c31 = madd_f32x4(x3, b1, c31);
    b += NR << 2;
  }
  if (rows == MR && cols == NR) {
    const d1 = c + ldc;
    const d2 = d1 + ldc;
    const d3 = d2 + ldc;
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
    if (rows > 1) storeCols(c + ldc, c10, c11, cols, first);
    if (rows > 2) storeCols(c + 2 * ldc, c20, c21, cols, first);
    if (rows > 3) storeCols(c + 3 * ldc, c30, c31, cols, first);
  }
}

// Write (or add to) the first `cols` (≤ 8) floats of a C row from the two halves lo | hi of a tile row.
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

// packPanel for half-precision A (2 bytes per element): 8 columns of 4 rows per step, each row widened to
// two f32x4 and the 4×8 block transposed with the same shuffles.
function packHalfPanel(a: usize, elem: i32, K: i32, k0: i32, kc: i32, i: i32, rows: i32, dst: usize): void {
  const lda = <usize>K << 1;
  const src = a + <usize>i * lda + (<usize>k0 << 1);
  let kk = 0;
  if (rows == MR) {
    const s1 = src + lda;
    const s2 = s1 + lda;
    const s3 = s2 + lda;
    for (; kk + 8 <= kc; kk += 8) {
      const off = <usize>kk << 1;
      const h0 = v128.load(src + off);
      const h1 = v128.load(s1 + off);
      const h2 = v128.load(s2 + off);
      const h3 = v128.load(s3 + off);
      const d = dst + (<usize>kk << 4);
      transpose4(lowHalves(h0, elem), lowHalves(h1, elem), lowHalves(h2, elem), lowHalves(h3, elem), d);
      transpose4(highHalves(h0, elem), highHalves(h1, elem), highHalves(h2, elem), highHalves(h3, elem), d + 64);
    }
  }
  for (; kk < kc; kk++) {
    for (let r = 0; r < MR; r++) {
      const v: f32 = r < rows ? halfAt(src + <usize>r * lda + (<usize>kk << 1), elem) : 0;
      store<f32>(dst + ((<usize>(kk * MR + r)) << 2), v);
    }
  }
}

// Store the 4×4 block with rows x0..x3 (4 consecutive k each) as 4 columns: dst[4·kk + r] = x_r[kk].
// @ts-ignore: decorator
@inline function transpose4(x0: v128, x1: v128, x2: v128, x3: v128, d: usize): void {
  const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5); // a0k a1k a0k' a1k'
  const t1 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5)); // column k: a0k a1k a2k a3k
  v128.store(d, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 16);
  v128.store(d, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 32);
  v128.store(d, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 48);
}

