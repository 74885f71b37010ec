// N:M SpMV / SpMM: C = W · B for W with at most n non-zeros in every group of m columns, rows [r0, r1).
// TypeScript twin: src/formats/nm.ts nmMatmul. Layout (byte offsets; G = ceil(K/m) groups per row):
//   values f32[M·G·n] ([row][group][slot]); meta u8[M·G·mb] ([row][group][byte], mb = ceil(n·bits/8),
//   bits = ceil(log2 m)): slot s's position inside its group is the `bits`-wide field at bit s·bits,
//   LSB first. The host pads x / B with zero rows to G·m and meta with 8 zero bytes, so a kernel may
//   read whole groups (and a whole 8-byte meta record) without bounds checks. Padding slots hold value 0
//   at position 0, so every slot of every group can be processed blindly.
// 2:4 has its own SpMV: two groups per step, each group's 4 x values loaded as one v128 and its two
// selected lanes moved into place by a swizzle whose mask comes from a 16-entry table indexed by the
// meta byte (p0 | p1 << 2). The relaxed build uses i8x16.relaxed_swizzle (one pshufb on x64), the plain
// build i8x16.swizzle (same result for these masks: index 0x80 gives 0 in both).

/**
 * Swizzle masks for 2:4, 16 bytes each. Entry m (0…15) of the first half places group lanes p0 = m & 3
 * and p1 = m >> 2 into lanes 0, 1 and zeroes lanes 2, 3; entry m of the second half places them into
 * lanes 2, 3 and zeroes lanes 0, 1. OR-ing one of each gives the 4 x values two groups' values multiply.
 */
const SWIZZLE_24: usize = memory.data<u8>([
  0x00, 0x01, 0x02, 0x03, 0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x04, 0x05, 0x06, 0x07, 0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x08, 0x09, 0x0a, 0x0b, 0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x0c, 0x0d, 0x0e, 0x0f, 0x00, 0x01, 0x02, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x04, 0x05, 0x06, 0x07, 0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x08, 0x09, 0x0a, 0x0b, 0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x0c, 0x0d, 0x0e, 0x0f, 0x04, 0x05, 0x06, 0x07, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0a, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x08, 0x09, 0x0a, 0x0b, 0x08, 0x09, 0x0a, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x0c, 0x0d, 0x0e, 0x0f, 0x08, 0x09, 0x0a, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x00, 0x01, 0x02, 0x03, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x04, 0x05, 0x06, 0x07, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x0c, 0x0d, 0x0e, 0x0f, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x00, 0x01, 0x02, 0x03,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x04, 0x05, 0x06, 0x07, 0x00, 0x01, 0x02, 0x03,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x08, 0x09, 0x0a, 0x0b, 0x00, 0x01, 0x02, 0x03,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x0c, 0x0d, 0x0e, 0x0f, 0x00, 0x01, 0x02, 0x03,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x04, 0x05, 0x06, 0x07, 0x04, 0x05, 0x06, 0x07,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x08, 0x09, 0x0a, 0x0b, 0x04, 0x05, 0x06, 0x07,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x0c, 0x0d, 0x0e, 0x0f, 0x04, 0x05, 0x06, 0x07,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0a, 0x0b,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x08, 0x09, 0x0a, 0x0b, 0x08, 0x09, 0x0a, 0x0b,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x0c, 0x0d, 0x0e, 0x0f, 0x08, 0x09, 0x0a, 0x0b,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03, 0x0c, 0x0d, 0x0e, 0x0f,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x04, 0x05, 0x06, 0x07, 0x0c, 0x0d, 0x0e, 0x0f,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x0c, 0x0d, 0x0e, 0x0f, 0x0c, 0x0d, 0x0e, 0x0f,
], 16);
const SWIZZLE_24_HI: usize = SWIZZLE_24 + 256;

// @ts-ignore: decorator
@inline function swizzle(a: v128, s: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(a, s);
  return i8x16.swizzle(a, s);
}

// ---- SpMV ------------------------------------------------------------------------------------------

/**
 * y[i] = Σ_g Σ_s values[i,g,s] · x[g·m + pos(i,g,s)] for i in [r0, r1), any n:m with m ≤ 16 (2:4 has
 * nm24_spmv_f32). n = 1, 2 and 4 gather four slots into one v128 per step (four groups, two groups, one
 * group); other n decode a group's whole record as one u64 and gather four slots at a time, then one.
 */
export function nm_spmv_f32(values: usize, meta: usize, x: usize, y: usize, G: i32, n: i32, m: i32, r0: i32, r1: i32): void {
  const bits = 32 - clz(m - 1);
  // the inlined n = 2 and n = 4 bodies are instantiated per field width so their shifts are constants
  if (n == 1) nmSpmv1(values, meta, x, y, G, m, r0, r1);
  else if (n == 2 && bits == 2) nmSpmv2(values, meta, x, y, G, m, 2, r0, r1);
  else if (n == 2 && bits == 3) nmSpmv2(values, meta, x, y, G, m, 3, r0, r1);
  else if (n == 2) nmSpmv2(values, meta, x, y, G, m, 4, r0, r1);
  else if (n == 4 && bits == 3) nmSpmv4(values, meta, x, y, G, m, 3, r0, r1);
  else if (n == 4) nmSpmv4(values, meta, x, y, G, m, 4, r0, r1);
  else nmSpmvAny(values, meta, x, y, G, n, m, bits, r0, r1);
}

/** n = 1: one meta byte (the position) and one value per group; four groups per step. */
// @ts-ignore: decorator
@inline function nmSpmv1(values: usize, meta: usize, x: usize, y: usize, G: i32, m: i32, r0: i32, r1: i32): void {
  const groupBytes = <usize>m << 2;
  for (let i = r0; i < r1; i++) {
    const vRow = values + ((<usize>i * <usize>G) << 2);
    const mRow = meta + <usize>i * <usize>G;
    let a = f32x4.splat(0);
    let xg = x;
    let g = 0;
    for (; g + 4 <= G; g += 4) {
      const mp = mRow + <usize>g;
      let gx = v128.load32_zero(xg + (<usize>load<u8>(mp) << 2));
      gx = v128.load32_lane(xg + groupBytes + (<usize>load<u8>(mp, 1) << 2), gx, 1);
      gx = v128.load32_lane(xg + 2 * groupBytes + (<usize>load<u8>(mp, 2) << 2), gx, 2);
      gx = v128.load32_lane(xg + 3 * groupBytes + (<usize>load<u8>(mp, 3) << 2), gx, 3);
      a = madd(v128.load(vRow + (<usize>g << 2)), gx, a);
      xg += 4 * groupBytes;
    }
    let acc = hsum(a);
    for (; g < G; g++) {
      acc += load<f32>(vRow + (<usize>g << 2)) * load<f32>(xg + (<usize>load<u8>(mRow + <usize>g) << 2));
      xg += groupBytes;
    }
    store<f32>(y + (<usize>i << 2), acc);
  }
}

/** n = 2 (m ≠ 4): one meta byte holds both positions (bits ≤ 4 each); two groups per step. */
// @ts-ignore: decorator
@inline function nmSpmv2(values: usize, meta: usize, x: usize, y: usize, G: i32, m: i32, bits: i32, r0: i32, r1: i32): void {
  const groupBytes = <usize>m << 2;
  const mask: usize = (1 << bits) - 1;
  for (let i = r0; i < r1; i++) {
    const vRow = values + ((<usize>i * <usize>G) << 3);
    const mRow = meta + <usize>i * <usize>G;
    let a = f32x4.splat(0);
    let xg = x;
    let g = 0;
    for (; g + 2 <= G; g += 2) {
      const b0 = <usize>load<u8>(mRow + <usize>g);
      const b1 = <usize>load<u8>(mRow + <usize>g, 1);
      const xh = xg + groupBytes;
      let gx = v128.load32_zero(xg + ((b0 & mask) << 2));
      gx = v128.load32_lane(xg + ((b0 >> bits) << 2), gx, 1);
      gx = v128.load32_lane(xh + ((b1 & mask) << 2), gx, 2);
      gx = v128.load32_lane(xh + ((b1 >> bits) << 2), gx, 3);
      a = madd(v128.load(vRow + (<usize>g << 3)), gx, a);
      xg += 2 * groupBytes;
    }
    let acc = hsum(a);
    if (g < G) {
      const b0 = <usize>load<u8>(mRow + <usize>g);
      const vp = vRow + (<usize>g << 3);
      acc += load<f32>(vp) * load<f32>(xg + ((b0 & mask) << 2)) + load<f32>(vp, 4) * load<f32>(xg + ((b0 >> bits) << 2));
    }
    store<f32>(y + (<usize>i << 2), acc);
  }
}

/** n = 4 (m ≥ 5): a two-byte record holds the four positions (bits = 3 or 4); one group per step. */
// @ts-ignore: decorator
@inline function nmSpmv4(values: usize, meta: usize, x: usize, y: usize, G: i32, m: i32, bits: i32, r0: i32, r1: i32): void {
  const groupBytes = <usize>m << 2;
  const mask: usize = (1 << bits) - 1;
  const b2 = <usize>(2 * bits);
  const b3 = <usize>(3 * bits);
  for (let i = r0; i < r1; i++) {
    const vRow = values + ((<usize>i * <usize>G) << 4);
    const mRow = meta + ((<usize>i * <usize>G) << 1);
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let xg = x;
    let g = 0;
    for (; g + 2 <= G; g += 2) {
      const r = <usize>load<u16>(mRow + (<usize>g << 1));
      const t = <usize>load<u16>(mRow + (<usize>g << 1), 2);
      const xh = xg + groupBytes;
      let gx = v128.load32_zero(xg + ((r & mask) << 2));
      let hx = v128.load32_zero(xh + ((t & mask) << 2));
      gx = v128.load32_lane(xg + (((r >> <usize>bits) & mask) << 2), gx, 1);
      hx = v128.load32_lane(xh + (((t >> <usize>bits) & mask) << 2), hx, 1);
      gx = v128.load32_lane(xg + (((r >> b2) & mask) << 2), gx, 2);
      hx = v128.load32_lane(xh + (((t >> b2) & mask) << 2), hx, 2);
      gx = v128.load32_lane(xg + (((r >> b3) & mask) << 2), gx, 3);
      hx = v128.load32_lane(xh + (((t >> b3) & mask) << 2), hx, 3);
      a0 = madd(v128.load(vRow + (<usize>g << 4)), gx, a0);
      a1 = madd(v128.load(vRow + (<usize>g << 4), 16), hx, a1);
      xg += 2 * groupBytes;
    }
    if (g < G) {
      const r = <usize>load<u16>(mRow + (<usize>g << 1));
      let gx = v128.load32_zero(xg + ((r & mask) << 2));
      gx = v128.load32_lane(xg + (((r >> <usize>bits) & mask) << 2), gx, 1);
      gx = v128.load32_lane(xg + (((r >> b2) & mask) << 2), gx, 2);
      gx = v128.load32_lane(xg + (((r >> b3) & mask) << 2), gx, 3);
      a0 = madd(v128.load(vRow + (<usize>g << 4)), gx, a0);
    }
    store<f32>(y + (<usize>i << 2), hsum(f32x4.add(a0, a1)));
  }
}

/** Any n: a group's record (≤ 8 bytes) as one u64, four slots at a time, then one at a time. */
// @ts-ignore: decorator
@inline function nmSpmvAny(values: usize, meta: usize, x: usize, y: usize, G: i32, n: i32, m: i32, bits: i32, r0: i32, r1: i32): void {
  const mask: u64 = (1 << bits) - 1;
  const mb = <usize>((n * bits + 7) >> 3);
  const groupBytes = <usize>m << 2;
  const slotBytes = <usize>n << 2;
  for (let i = r0; i < r1; i++) {
    let vp = values + <usize>i * <usize>G * slotBytes;
    let mp = meta + <usize>i * <usize>G * mb;
    let xg = x;
    let a = f32x4.splat(0);
    let acc: f32 = 0;
    for (let g = 0; g < G; g++) {
      let rec = load<u64>(mp);
      let s = 0;
      for (; s + 4 <= n; s += 4) {
        let gx = v128.load32_zero(xg + (<usize>(rec & mask) << 2));
        gx = v128.load32_lane(xg + (<usize>((rec >> bits) & mask) << 2), gx, 1);
        gx = v128.load32_lane(xg + (<usize>((rec >> (2 * bits)) & mask) << 2), gx, 2);
        gx = v128.load32_lane(xg + (<usize>((rec >> (3 * bits)) & mask) << 2), gx, 3);
        a = madd(v128.load(vp + (<usize>s << 2)), gx, a);
        rec >>= 4 * bits;
      }
      for (; s < n; s++) {
        acc += load<f32>(vp + (<usize>s << 2)) * load<f32>(xg + (<usize>(rec & mask) << 2));
        rec >>= bits;
      }
      vp += slotBytes;
      mp += mb;
      xg += groupBytes;
    }
    store<f32>(y + (<usize>i << 2), acc + hsum(a));
  }
}

/**
 * nm_spmv_f32 for 2:4 (one meta byte per group). Per pair of groups: two table lookups (the meta byte scaled
 * into the table's offset), two swizzles, one OR, one multiply-add with the pair's 4 values. Measured against
 * gathering x lane by lane (load32_lane), the swizzle was 1.14× faster in the plain-SIMD build and the relaxed
 * swizzle 1.27× faster (4096×4096, cold). One row at a time (values and meta each one sequential stream), two
 * pairs of groups per step into two accumulators: same-process, cold, one thread, relaxed, this was 2.4× faster
 * than advancing two rows together and sharing the x loads (SmolLM-135M's 1536×576 225 → 91 µs, 576×1536
 * 203 → 88 µs, 576×576 85 → 36 µs; dense GEMV 117 / 111 / 46 µs).
 */
export function nm24_spmv_f32(values: usize, meta: usize, x: usize, y: usize, G: i32, r0: i32, r1: i32): void {
  const vStride = <usize>G << 3;
  for (let i = r0; i < r1; i++) {
    const vRow = values + <usize>i * vStride;
    const mRow = meta + <usize>i * <usize>G;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let g = 0;
    for (; g + 4 <= G; g += 4) {
      const xp = x + (<usize>g << 4);
      a0 = pair24(v128.load(xp), v128.load(xp, 16), mRow + <usize>g, vRow + (<usize>g << 3), a0);
      a1 = pair24(v128.load(xp, 32), v128.load(xp, 48), mRow + <usize>g + 2, vRow + (<usize>g << 3) + 16, a1);
    }
    if (g + 2 <= G) {
      const xp = x + (<usize>g << 4);
      a0 = pair24(v128.load(xp), v128.load(xp, 16), mRow + <usize>g, vRow + (<usize>g << 3), a0);
      g += 2;
    }
    let s0 = hsum(f32x4.add(a0, a1));
    if (g < G) s0 += group24(x, g, mRow, vRow);
    store<f32>(y + (<usize>i << 2), s0);
  }
}

/** a + values[vp … vp+4) · (x0[p0], x0[p1], x1[q0], x1[q1]) for the groups whose meta bytes are at mp, mp+1. */
// @ts-ignore: decorator
@inline function pair24(x0: v128, x1: v128, mp: usize, vp: usize, a: v128): v128 {
  const s0 = swizzle(x0, v128.load(<usize>load<u8>(mp) << 4, SWIZZLE_24));
  const s1 = swizzle(x1, v128.load(<usize>load<u8>(mp, 1) << 4, SWIZZLE_24_HI));
  return f32x4.add(a, f32x4.mul(v128.load(vp), v128.or(s0, s1)));
}

/** One 2:4 group g of a row (scalar), for an odd group count. */
// @ts-ignore: decorator
@inline function group24(x: usize, g: i32, mRow: usize, vRow: usize): f32 {
  const mm = <usize>load<u8>(mRow + <usize>g);
  const xp = x + (<usize>g << 4);
  const vp = vRow + (<usize>g << 3);
  return load<f32>(vp) * load<f32>(xp + ((mm & 3) << 2)) + load<f32>(vp, 4) * load<f32>(xp + (((mm >> 2) & 3) << 2));
}

// ---- SpMM ------------------------------------------------------------------------------------------

/** C[i, :] = Σ_g Σ_s values[i,g,s] · B[g·m + pos(i,g,s), :] for i in [r0, r1), any n:m; B [G·m, N]. */
export function nm_spmm_f32(values: usize, meta: usize, b: usize, out: usize, N: i32, G: i32, n: i32, m: i32, r0: i32, r1: i32): void {
  const bits = 32 - clz(m - 1);
  const mask: u64 = (1 << bits) - 1;
  const mb = <usize>((n * bits + 7) >> 3);
  const ldb = <usize>N << 2;
  const groupStride = <usize>m * ldb;
  const slotBytes = <usize>n << 2;
  for (let i = r0; i < r1; i++) {
    const vRow = values + <usize>i * <usize>G * slotBytes;
    const mRow = meta + <usize>i * <usize>G * mb;
    const cRow = out + <usize>i * ldb;
    let j = 0;
    for (; j + 16 <= N; j += 16) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let vp = vRow;
      let mp = mRow;
      let bg = b + (<usize>j << 2);
      for (let g = 0; g < G; g++) {
        let rec = load<u64>(mp);
        for (let s = 0; s < n; s++) {
          const w = v128.load32_splat(vp + (<usize>s << 2));
          const br = bg + <usize>(rec & mask) * ldb;
          a0 = madd(w, v128.load(br), a0);
          a1 = madd(w, v128.load(br, 16), a1);
          a2 = madd(w, v128.load(br, 32), a2);
          a3 = madd(w, v128.load(br, 48), a3);
          rec >>= bits;
        }
        vp += slotBytes;
        mp += mb;
        bg += groupStride;
      }
      const o = cRow + (<usize>j << 2);
      v128.store(o, a0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
    }
    for (; j + 4 <= N; j += 4) {
      let a0 = f32x4.splat(0);
      let vp = vRow;
      let mp = mRow;
      let bg = b + (<usize>j << 2);
      for (let g = 0; g < G; g++) {
        let rec = load<u64>(mp);
        for (let s = 0; s < n; s++) {
          a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(vp + (<usize>s << 2)), v128.load(bg + <usize>(rec & mask) * ldb)));
          rec >>= bits;
        }
        vp += slotBytes;
        mp += mb;
        bg += groupStride;
      }
      v128.store(cRow + (<usize>j << 2), a0);
    }
    for (; j < N; j++) {
      let acc: f32 = 0;
      let vp = vRow;
      let mp = mRow;
      let bg = b + (<usize>j << 2);
      for (let g = 0; g < G; g++) {
        let rec = load<u64>(mp);
        for (let s = 0; s < n; s++) {
          acc += load<f32>(vp + (<usize>s << 2)) * load<f32>(bg + <usize>(rec & mask) * ldb);
          rec >>= bits;
        }
        vp += slotBytes;
        mp += mb;
        bg += groupStride;
      }
      store<f32>(cRow + (<usize>j << 2), acc);
    }
  }
}

/**
 * nm_spmm_f32 for 2:4: both slots of a group per step with their products summed before the accumulator
 * add (16-column tile: 4 accumulators + 8 B loads + 2 splats = 14 SIMD registers), then 4-column tiles
 * two groups per step, then scalar columns.
 */
export function nm24_spmm_f32(values: usize, meta: usize, b: usize, out: usize, N: i32, G: i32, r0: i32, r1: i32): void {
  const ldb = <usize>N << 2;
  const groupStride = ldb << 2;
  for (let i = r0; i < r1; i++) {
    const vRow = values + ((<usize>i * <usize>G) << 3);
    const mRow = meta + <usize>i * <usize>G;
    const cRow = out + <usize>i * ldb;
    let j = 0;
    for (; j + 16 <= N; j += 16) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let bg = b + (<usize>j << 2);
      for (let g = 0; g < G; g++) {
        const mm = <usize>load<u8>(mRow + <usize>g);
        const vp = vRow + (<usize>g << 3);
        const w0 = v128.load32_splat(vp);
        const w1 = v128.load32_splat(vp, 4);
        const b0 = bg + (mm & 3) * ldb;
        const b1 = bg + ((mm >> 2) & 3) * ldb;
        a0 = madd(w1, v128.load(b1), madd(w0, v128.load(b0), a0));
        a1 = madd(w1, v128.load(b1, 16), madd(w0, v128.load(b0, 16), a1));
        a2 = madd(w1, v128.load(b1, 32), madd(w0, v128.load(b0, 32), a2));
        a3 = madd(w1, v128.load(b1, 48), madd(w0, v128.load(b0, 48), a3));
        bg += groupStride;
      }
      const o = cRow + (<usize>j << 2);
      v128.store(o, a0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
    }
    for (; j + 4 <= N; j += 4) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let bg = b + (<usize>j << 2);
      for (let g = 0; g < G; g++) {
        const mm = <usize>load<u8>(mRow + <usize>g);
        const vp = vRow + (<usize>g << 3);
        a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(vp), v128.load(bg + (mm & 3) * ldb)));
        a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(vp, 4), v128.load(bg + ((mm >> 2) & 3) * ldb)));
        bg += groupStride;
      }
      v128.store(cRow + (<usize>j << 2), f32x4.add(a0, a1));
    }
    for (; j < N; j++) {
      let acc: f32 = 0;
      let bg = b + (<usize>j << 2);
      for (let g = 0; g < G; g++) {
        const mm = <usize>load<u8>(mRow + <usize>g);
        const vp = vRow + (<usize>g << 3);
        acc += load<f32>(vp) * load<f32>(bg + (mm & 3) * ldb) + load<f32>(vp, 4) * load<f32>(bg + ((mm >> 2) & 3) * ldb);
        bg += groupStride;
      }
      store<f32>(cRow + (<usize>j << 2), acc);
    }
  }
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
