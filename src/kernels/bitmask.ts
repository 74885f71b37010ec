// Bitmask SpMV / SpMM: C = W · B for W stored as one presence bit per element plus the packed non-zeros,
// rows [r0, r1). TypeScript twin: src/formats/bitmask.ts bitmaskMatmul. Layout (byte offsets):
//   mask u8[M·bpr] (bpr = ceil(K/8); bit j of byte b of row i ↔ column 8b + j, LSB first; padding bits 0),
//   rowPtr u32[M+1], values f32[nnz] (row-major, column order), x f32[bpr·8] / B f32[K, N].
// The host pads values with 16 zero bytes, mask with 8, and x with zeros to bpr·8 entries.
// SpMV expands each mask nibble with SIMD: load 4 packed values, swizzle them into the nibble's set lanes
// (mask from a 16-entry table, index 0x80 = zero lane), multiply with 4 consecutive x: no index loads and
// no scalar gathers. Pruned lanes contribute 0·x, so like a dense GEMV (and unlike the twin, which skips
// them) an infinite or NaN x at a pruned column makes the row NaN. The plain SIMD build measured ~1.4×
// slower than the relaxed one here; one reason: V8 11 lowers i8x16.swizzle with a run-time mask to three
// instructions (a constant address load and a saturating add that clamps the indices, then pshufb),
// relaxed_swizzle to one pshufb.
// SpMM walks each row's set bits 64 at a time with ctz and adds value · B[k, tile] per non-zero.

/** Entry v (0…15): swizzle mask that places packed values 0…popcnt(v)−1 at the set lanes of v, 0 elsewhere. */
const EXPAND: usize = memory.data<u8>([
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80,
  0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x80, 0x80, 0x80, 0x80,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03,
  0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x04, 0x05, 0x06, 0x07,
  0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x04, 0x05, 0x06, 0x07,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80, 0x08, 0x09, 0x0a, 0x0b,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
  0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
  0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
], 16);

// @ts-ignore: decorator
@inline function swizzle(a: v128, s: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(a, s);
  return i8x16.swizzle(a, s);
}

/**
 * The products of one mask byte's 8 dense lanes with x0 (columns 0–3) and x1 (columns 4–7), summed lane-wise:
 * the byte's packed values start at vp; each nibble's values are swizzled into its set lanes.
 */
// @ts-ignore: decorator
@inline function byteProducts(byte: usize, vp: usize, x0: v128, x1: v128): v128 {
  const lo = swizzle(v128.load(vp), v128.load((byte << 4) & 0xf0, EXPAND));
  const hi = swizzle(v128.load(vp + (<usize>popcnt(byte & 15) << 2)), v128.load(byte & 0xf0, EXPAND));
  return f32x4.add(f32x4.mul(lo, x0), f32x4.mul(hi, x1));
}

/**
 * y[i] = Σ_k W[i,k] · x[k] for i in [r0, r1). bpr = ceil(K/8). Two rows at a time, in blocks of 64 mask
 * bytes (512 columns): where the pair's blocks hold at least SPARSE_BELOW non-zero bytes between them,
 * both rows walk all 64 bytes together and share the x loads (measured 1.3× faster than one row at a time
 * on 4096×4096 at 50%, cold); otherwise each row visits only its non-zero bytes (found 16 at a time with a
 * SIMD compare and bitmask, then ctz), so the time tracks the non-zeros at high sparsity.
 */
export function bitmask_spmv_f32(mask: usize, rowPtr: usize, values: usize, x: usize, y: usize, bpr: i32, r0: i32, r1: i32): void {
  let i = r0;
  for (; i + 2 <= r1; i += 2) {
    const mRow = mask + <usize>i * <usize>bpr;
    const nRow = mRow + <usize>bpr;
    let vp = values + (<usize>load<u32>(rowPtr + (<usize>i << 2)) << 2);
    let vq = values + (<usize>load<u32>(rowPtr + (<usize>i << 2), 4) << 2);
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let b = 0;
    for (; b + 64 <= bpr; b += 64) {
      let fm = nonzeroBytes64(mRow + <usize>b);
      let fn = nonzeroBytes64(nRow + <usize>b);
      if (<i32>(popcnt(fm) + popcnt(fn)) >= SPARSE_BELOW) {
        for (let e = b; e < b + 64; e++) {
          const xp = x + (<usize>e << 5);
          const x0 = v128.load(xp);
          const x1 = v128.load(xp, 16);
          const m = <usize>load<u8>(mRow + <usize>e);
          const n = <usize>load<u8>(nRow + <usize>e);
          a0 = f32x4.add(a0, byteProducts(m, vp, x0, x1));
          a1 = f32x4.add(a1, byteProducts(n, vq, x0, x1));
          vp += <usize>popcnt(m) << 2;
          vq += <usize>popcnt(n) << 2;
        }
        continue;
      }
      while (fm) {
        const e = <usize>b + <usize>ctz(fm);
        const m = <usize>load<u8>(mRow + e);
        const xp = x + (e << 5);
        a0 = f32x4.add(a0, byteProducts(m, vp, v128.load(xp), v128.load(xp, 16)));
        vp += <usize>popcnt(m) << 2;
        fm &= fm - 1;
      }
      while (fn) {
        const e = <usize>b + <usize>ctz(fn);
        const n = <usize>load<u8>(nRow + e);
        const xp = x + (e << 5);
        a1 = f32x4.add(a1, byteProducts(n, vq, v128.load(xp), v128.load(xp, 16)));
        vq += <usize>popcnt(n) << 2;
        fn &= fn - 1;
      }
    }
    for (; b < bpr; b++) {
      const xp = x + (<usize>b << 5);
      const x0 = v128.load(xp);
      const x1 = v128.load(xp, 16);
      const m = <usize>load<u8>(mRow + <usize>b);
      const n = <usize>load<u8>(nRow + <usize>b);
      a0 = f32x4.add(a0, byteProducts(m, vp, x0, x1));
      a1 = f32x4.add(a1, byteProducts(n, vq, x0, x1));
      vp += <usize>popcnt(m) << 2;
      vq += <usize>popcnt(n) << 2;
    }
    store<f32>(y + (<usize>i << 2), hsum(a0));
    store<f32>(y + (<usize>i << 2), hsum(a1), 4);
  }
  if (i < r1) {
    const mRow = mask + <usize>i * <usize>bpr;
    let vp = values + (<usize>load<u32>(rowPtr + (<usize>i << 2)) << 2);
    let a0 = f32x4.splat(0);
    for (let b = 0; b < bpr; b++) {
      const xp = x + (<usize>b << 5);
      const m = <usize>load<u8>(mRow + <usize>b);
      a0 = f32x4.add(a0, byteProducts(m, vp, v128.load(xp), v128.load(xp, 16)));
      vp += <usize>popcnt(m) << 2;
    }
    store<f32>(y + (<usize>i << 2), hsum(a0));
  }
}

/**
 * A row pair's 64-byte mask block goes the dense two-row way when it has at least this many non-zero
 * bytes in total (of 128). Of 64, 80, 100, 116 and 129 (never dense unless full), 100 was fastest or tied
 * at every density measured (4096×4096, densities 0.1–0.5, one thread).
 */
const SPARSE_BELOW = 100;

/** Bit e set ⇔ mask byte p[e] ≠ 0, for e in [0, 64). */
// @ts-ignore: decorator
@inline function nonzeroBytes64(p: usize): u64 {
  const z = i8x16.splat(0);
  const b0 = <u64>i8x16.bitmask(i8x16.eq(v128.load(p), z));
  const b1 = <u64>i8x16.bitmask(i8x16.eq(v128.load(p, 16), z));
  const b2 = <u64>i8x16.bitmask(i8x16.eq(v128.load(p, 32), z));
  const b3 = <u64>i8x16.bitmask(i8x16.eq(v128.load(p, 48), z));
  return ~(b0 | (b1 << 16) | (b2 << 32) | (b3 << 48));
}

/** C[i, :] = Σ_k W[i,k] · B[k, :] for i in [r0, r1); B [K, N]. */
export function bitmask_spmm_f32(mask: usize, rowPtr: usize, values: usize, b: usize, out: usize, N: i32, bpr: i32, r0: i32, r1: i32): void {
  const ldb = <usize>N << 2;
  for (let i = r0; i < r1; i++) {
    const mRow = mask + <usize>i * <usize>bpr;
    const vRow = values + (<usize>load<u32>(rowPtr + (<usize>i << 2)) << 2);
    const cRow = out + <usize>i * ldb;
    let j = 0;
    for (; j + 24 <= N; j += 24) tile24(mRow, bpr, vRow, b + (<usize>j << 2), ldb, cRow + (<usize>j << 2));
    for (; j + 8 <= N; j += 8) tile8(mRow, bpr, vRow, b + (<usize>j << 2), ldb, cRow + (<usize>j << 2));
    for (; j + 4 <= N; j += 4) tile4(mRow, bpr, vRow, b + (<usize>j << 2), ldb, cRow + (<usize>j << 2));
    for (; j < N; j++) {
      const bj = b + (<usize>j << 2);
      let acc: f32 = 0;
      let vp = vRow;
      for (let w = 0; w < bpr; w += 8) {
        let bits = maskWord(mRow, w, bpr);
        const bw = bj + (<usize>w << 3) * ldb;
        while (bits) {
          acc += load<f32>(vp) * load<f32>(bw + <usize>ctz(bits) * ldb);
          bits &= bits - 1;
          vp += 4;
        }
      }
      store<f32>(cRow + (<usize>j << 2), acc);
    }
  }
}

/** Mask bits of columns [8w, 8w + 64) of a row (bytes past the row's bpr are cleared). */
// @ts-ignore: decorator
@inline function maskWord(mRow: usize, w: i32, bpr: i32): u64 {
  const word = load<u64>(mRow + <usize>w);
  const left = bpr - w;
  return left >= 8 ? word : word & ((<u64>1 << (<u64>left << 3)) - 1);
}

/** C row tile of 24 columns: 6 accumulators, one non-zero per step. */
// @ts-ignore: decorator
@inline function tile24(mRow: usize, bpr: i32, vRow: usize, bj: usize, ldb: usize, out: usize): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0);
  let a5 = f32x4.splat(0);
  let vp = vRow;
  for (let w = 0; w < bpr; w += 8) {
    let bits = maskWord(mRow, w, bpr);
    const bw = bj + (<usize>w << 3) * ldb;
    while (bits) {
      const v = v128.load32_splat(vp);
      const br = bw + <usize>ctz(bits) * ldb;
      a0 = madd(v, v128.load(br), a0);
      a1 = madd(v, v128.load(br, 16), a1);
      a2 = madd(v, v128.load(br, 32), a2);
      a3 = madd(v, v128.load(br, 48), a3);
      a4 = madd(v, v128.load(br, 64), a4);
      a5 = madd(v, v128.load(br, 80), a5);
      bits &= bits - 1;
      vp += 4;
    }
  }
  v128.store(out, a0);
  v128.store(out, a1, 16);
  v128.store(out, a2, 32);
  v128.store(out, a3, 48);
  v128.store(out, a4, 64);
  v128.store(out, a5, 80);
}

/** C row tile of 8 columns: two accumulator pairs taking alternate non-zeros. */
// @ts-ignore: decorator
@inline function tile8(mRow: usize, bpr: i32, vRow: usize, bj: usize, ldb: usize, out: usize): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0);
  let vp = vRow;
  for (let w = 0; w < bpr; w += 8) {
    let bits = maskWord(mRow, w, bpr);
    const bw = bj + (<usize>w << 3) * ldb;
    while (bits) {
      const v = v128.load32_splat(vp);
      const br = bw + <usize>ctz(bits) * ldb;
      a0 = madd(v, v128.load(br), a0);
      a1 = madd(v, v128.load(br, 16), a1);
      bits &= bits - 1;
      if (!bits) {
        vp += 4;
        break;
      }
      const u = v128.load32_splat(vp, 4);
      const bq = bw + <usize>ctz(bits) * ldb;
      c0 = madd(u, v128.load(bq), c0);
      c1 = madd(u, v128.load(bq, 16), c1);
      bits &= bits - 1;
      vp += 8;
    }
  }
  v128.store(out, f32x4.add(a0, c0));
  v128.store(out, f32x4.add(a1, c1), 16);
}

/** C row tile of 4 columns: two accumulators taking alternate non-zeros. */
// @ts-ignore: decorator
@inline function tile4(mRow: usize, bpr: i32, vRow: usize, bj: usize, ldb: usize, out: usize): void {
  let a0 = f32x4.splat(0);
  let c0 = f32x4.splat(0);
  let vp = vRow;
  for (let w = 0; w < bpr; w += 8) {
    let bits = maskWord(mRow, w, bpr);
    const bw = bj + (<usize>w << 3) * ldb;
    while (bits) {
      a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(vp), v128.load(bw + <usize>ctz(bits) * ldb)));
      bits &= bits - 1;
      if (!bits) {
        vp += 4;
        break;
      }
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(vp, 4), v128.load(bw + <usize>ctz(bits) * ldb)));
      bits &= bits - 1;
      vp += 8;
    }
  }
  v128.store(out, f32x4.add(a0, c0));
}

/** a·b + c: fused (relaxed_madd) in the relaxed build, a multiply and an add in the plain SIMD build. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}
