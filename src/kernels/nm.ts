// N:M SpMV / SpMM: C = W · B for W with at most n non-zeros in every group of m columns, rows [r0, r1).
// TypeScript twin: src/backend/reference/nm.ts (reads this same resident layout; packing in
// src/backend/ops/nm-panels.ts). Resident layout (G = ceil(K/m) groups per row, bits = ceil(log2 m),
// mb = ceil(n·bits/8) meta bytes per group):
//   Column panels of P groups (P = G for narrow K; the last panel has Gp = G − p·P groups), stored panel
//   after panel: panel p's values [M][Gp][n] (f32, or the bits of bf16 / f16 for the _bf16 / _f16 exports:
//   nm_bf16 / nm_f16 weights, widened to f32 as they are read, _half.ts) start at element M·p·P·n, its meta
//   u8 [M][Gp][mb] at byte M·p·P·mb. Each panel is an ordinary N:M matrix of its columns, so a thread reads
//   its rows of panel 0, then of panel 1, …: one sequential stream each for values and meta, while the slice
//   of x (or of B) the panel gathers from stays in L1. y is stored by panel 0 and accumulated by the others.
//   Meta fields as in src/formats/nm.ts (slot s's position is the field at bit s·bits, LSB first), except
//   2:4, whose meta byte is 8·c for the pair c of (p0, p1) in PAIRS_24 order (0,1) (0,2) (0,3) (1,2) (1,3)
//   (2,3); the padding pair (0, 0) of a one-column last group is coded as (0, 1) (its value is 0 and x past
//   K is 0). The host pads x / B with zero rows to G·m and meta with 8 zero bytes, so a kernel may read whole
//   groups (and a whole 8-byte meta record) without bounds checks; padding slots hold value 0 at position 0.
//
// 2:4 SpMV reads x "expanded into pairs" (nm24_expand_x, once per call): per group the six (x[p0], x[p1])
// pairs, 48 bytes, so one 8-byte load at offset 8·c fetches both x values a group's two weights multiply:
// per 4 groups 4 meta bytes, 4 pair loads (two of them lane inserts), 2 value loads and 2 multiply-adds.
//
// Measured (standalone A/B, same process, cold: weights cycled through > 256 MB of copies, relaxed build,
// one thread, AMD EPYC Zen 5, 2026-11-30; the machine was shared, so ratios, twice):
//   * The previous kernel (row-major, x gathered by a swizzle whose mask came from a 16-entry table) was
//     compute-bound: about 18–19 GB/s of its own bytes at K = 4096 and still 23–24 GB/s with W hot in L2
//     (128×4096), against 60 GB/s for the dense GEMV hot: per 4 groups 4 x loads, 4 meta loads, 4 shifts,
//     4 table loads, 4 swizzles, 2 ORs, 2 FMAs. At K = 11008 it fell to 9.5 GB/s (10.4 ms; dense row-major
//     8.6 ms): x's 44 KB footprint. Wrapping x's index into 8 KB brought it to 21.6 GB/s (2.28×), so x's
//     footprint, not the stream, was what limited it there.
//   * Column panels alone (same inner loop, 512 groups): 19–20 GB/s at 4096 and 11008. Reading meta as a
//     u64 per 8 groups, a 256-entry pair table (one meta byte per two groups), or 8 groups per step with
//     4 accumulators were each 0.8–0.95× of that (V8 keeps the simple loop tightest). Meta pre-scaled
//     to the table offset: 1.2× hot.
//   * Pairs of x (this kernel): 36 GB/s hot (1.5× the old), cold 1.42–1.46 ms at 4096×4096 (26 GB/s) and
//     3.8–4.0 ms at 4096×11008 with panels of 128–256 groups; 512 groups (24 KB of pairs) 0.8× of that, 1024
//     groups 0.4×: the pairs must stay in L1. At 576×1536, panels of 192 groups 1.1× over the old kernel
//     and over one 384-group panel.
//   * Values and meta interleaved into one stream (blocks of 16 groups) was 1.06–1.11× at 4096 in a noisy
//     run; not done.
//   * A/B of the committed kernels (old row-major swizzle kernel vs these, same process, cold, x expansion
//     included, machine shared with other jobs: load 5), 1 thread relaxed, two runs: 4096×4096 1.99 → 1.43 ms
//     and 2.30 → 1.73 ms (1.39×, 1.33×); 4096×11008 10.2 → 3.73 ms and 15.7 → 4.16 ms (2.74×, 3.79×). Plain
//     SIMD build: 1.79× / 4.56× at 4096², 2.75× / 2.88× at 11008. SmolLM-135M shapes: 1536×576 1.17× / 1.00×,
//     576×1536 0.98× / 1.04×. 4:8 (generic kernel, panels only): 4096² 3.22× / 1.16×, 11008 2.39× / 1.96×, but
//     still ≈ 11 GB/s at 11008 (its lane-by-lane gather is compute-bound). Two threads, relaxed: 1.36× / 1.33×
//     at 4096², 2.43× / 2.67× at 11008, but both kernels ran slower than on one thread (loaded machine).

import { ELEM_BF16, ELEM_F16, ELEM_F32, f16Top, halfAt, highHalves, lowHalves } from './_half';

// ---- panels ----------------------------------------------------------------------------------------

/** Byte offset of panel `g0`'s first value (`slotBytes` = n·value bytes per group) for M rows. */
// @ts-ignore: decorator
@inline function panelValues(values: usize, M: i32, g0: i32, slotBytes: usize): usize {
  return values + <usize>M * <usize>g0 * slotBytes;
}

/** y[i] = s for the first panel, y[i] += s for the others. */
// @ts-ignore: decorator
@inline function put(y: usize, i: i32, s: f32, first: bool): void {
  const yp = y + (<usize>i << 2);
  store<f32>(yp, first ? s : load<f32>(yp) + s);
}

/** v128 at o = a for the first panel, += a for the others. */
// @ts-ignore: decorator
@inline function put4(o: usize, a: v128, first: bool): void {
  v128.store(o, first ? a : f32x4.add(v128.load(o), a));
}

// Values stored as `elem` (ELEM_F32, ELEM_BF16 or ELEM_F16: a constant at every call, so each kernel is compiled
// once per storage type), read as f32. f16 always maps Inf / NaN.

/** log2 of a value's bytes: 2 for f32, 1 for half. */
// @ts-ignore: decorator
@inline function valueShift(elem: i32): usize {
  return elem == ELEM_F32 ? 2 : 1;
}

/** The value at p. */
// @ts-ignore: decorator
@inline function value1(p: usize, elem: i32): f32 {
  return elem == ELEM_F32 ? load<f32>(p) : halfAt(p, elem);
}

/** The 4 values at p, in order. */
// @ts-ignore: decorator
@inline function values4(p: usize, elem: i32): v128 {
  return elem == ELEM_F32 ? v128.load(p) : lowHalves(v128.load64_zero(p), elem);
}

/** The value at p in every lane. */
// @ts-ignore: decorator
@inline function valueSplat(p: usize, elem: i32): v128 {
  if (elem == ELEM_F32) return v128.load32_splat(p);
  const h = v128.load16_splat(p); // each 32-bit lane h | h << 16: the top 16 bits hold h
  return elem == ELEM_BF16 ? i32x4.shl(h, 16) : f16Top(h, true);
}

// ---- SpMV ------------------------------------------------------------------------------------------

/**
 * y[i] = Σ_g Σ_s values[i,g,s] · x[g·m + pos(i,g,s)] for i in [r0, r1), any n:m with m ≤ 16 (2:4 has
 * nm24_spmv_f32), W in panels of P groups (module header). n = 1, 2 and 4 gather four slots into one v128 per
 * step (four groups, two groups, one group); other n decode a group's whole record as one u64 and gather
 * four slots at a time, then one.
 */
export function nm_spmv_f32(values: usize, meta: usize, x: usize, y: usize, M: i32, G: i32, P: i32, n: i32, m: i32, r0: i32, r1: i32): void {
  nmSpmv(values, meta, x, y, M, G, P, n, m, r0, r1, ELEM_F32);
}

/** nm_spmv_f32 with bf16 values. */
export function nm_spmv_bf16(values: usize, meta: usize, x: usize, y: usize, M: i32, G: i32, P: i32, n: i32, m: i32, r0: i32, r1: i32): void {
  nmSpmv(values, meta, x, y, M, G, P, n, m, r0, r1, ELEM_BF16);
}

/** nm_spmv_f32 with f16 values. */
export function nm_spmv_f16(values: usize, meta: usize, x: usize, y: usize, M: i32, G: i32, P: i32, n: i32, m: i32, r0: i32, r1: i32): void {
  nmSpmv(values, meta, x, y, M, G, P, n, m, r0, r1, ELEM_F16);
}

// @ts-ignore: decorator
@inline function nmSpmv(values: usize, meta: usize, x: usize, y: usize, M: i32, G: i32, P: i32, n: i32, m: i32, r0: i32, r1: i32, elem: i32): void {
  const bits = 32 - clz(m - 1);
  const mb = (n * bits + 7) >> 3;
  for (let g0 = 0; g0 < G; g0 += P) {
    const Gp = min(P, G - g0);
    const v = panelValues(values, M, g0, <usize>n << valueShift(elem));
    const mm = meta + <usize>M * <usize>g0 * <usize>mb;
    const xb = x + ((<usize>g0 * <usize>m) << 2);
    const first = g0 == 0;
    // the inlined n = 2 and n = 4 bodies are instantiated per field width so their shifts are constants
    if (n == 1) nmSpmv1(v, mm, xb, y, Gp, m, r0, r1, first, elem);
    else if (n == 2 && bits == 2) nmSpmv2(v, mm, xb, y, Gp, m, 2, r0, r1, first, elem);
    else if (n == 2 && bits == 3) nmSpmv2(v, mm, xb, y, Gp, m, 3, r0, r1, first, elem);
    else if (n == 2) nmSpmv2(v, mm, xb, y, Gp, m, 4, r0, r1, first, elem);
    else if (n == 4 && bits == 3) nmSpmv4(v, mm, xb, y, Gp, m, 3, r0, r1, first, elem);
    else if (n == 4) nmSpmv4(v, mm, xb, y, Gp, m, 4, r0, r1, first, elem);
    else nmSpmvAny(v, mm, xb, y, Gp, n, m, bits, r0, r1, first, elem);
  }
}

/** n = 1: one meta byte (the position) and one value per group; four groups per step. */
// @ts-ignore: decorator
@inline function nmSpmv1(values: usize, meta: usize, x: usize, y: usize, G: i32, m: i32, r0: i32, r1: i32, first: bool, elem: i32): void {
  const groupBytes = <usize>m << 2;
  const vs = valueShift(elem);
  for (let i = r0; i < r1; i++) {
    const vRow = values + ((<usize>i * <usize>G) << vs);
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
      a = madd(values4(vRow + (<usize>g << vs), elem), gx, a);
      xg += 4 * groupBytes;
    }
    let acc = hsum(a);
    for (; g < G; g++) {
      acc += value1(vRow + (<usize>g << vs), elem) * load<f32>(xg + (<usize>load<u8>(mRow + <usize>g) << 2));
      xg += groupBytes;
    }
    put(y, i, acc, first);
  }
}

/** n = 2 (m ≠ 4): one meta byte holds both positions (bits ≤ 4 each); two groups per step. */
// @ts-ignore: decorator
@inline function nmSpmv2(values: usize, meta: usize, x: usize, y: usize, G: i32, m: i32, bits: i32, r0: i32, r1: i32, first: bool, elem: i32): void {
  const groupBytes = <usize>m << 2;
  const mask: usize = (1 << bits) - 1;
  const vs = valueShift(elem) + 1; // two values a group
  for (let i = r0; i < r1; i++) {
    const vRow = values + ((<usize>i * <usize>G) << vs);
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
      a = madd(values4(vRow + (<usize>g << vs), elem), gx, a);
      xg += 2 * groupBytes;
    }
    let acc = hsum(a);
    if (g < G) {
      const b0 = <usize>load<u8>(mRow + <usize>g);
      const vp = vRow + (<usize>g << vs);
      const vb = <usize>1 << valueShift(elem);
      acc += value1(vp, elem) * load<f32>(xg + ((b0 & mask) << 2)) + value1(vp + vb, elem) * load<f32>(xg + ((b0 >> bits) << 2));
    }
    put(y, i, acc, first);
  }
}

/** n = 4 (m ≥ 5): a two-byte record holds the four positions (bits = 3 or 4); one group per step. */
// @ts-ignore: decorator
@inline function nmSpmv4(values: usize, meta: usize, x: usize, y: usize, G: i32, m: i32, bits: i32, r0: i32, r1: i32, first: bool, elem: i32): void {
  const groupBytes = <usize>m << 2;
  const mask: usize = (1 << bits) - 1;
  const b2 = <usize>(2 * bits);
  const b3 = <usize>(3 * bits);
  const vs = valueShift(elem) + 2; // four values a group
  for (let i = r0; i < r1; i++) {
    const vRow = values + ((<usize>i * <usize>G) << vs);
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
      a0 = madd(values4(vRow + (<usize>g << vs), elem), gx, a0);
      a1 = madd(values4(vRow + (<usize>(g + 1) << vs), elem), hx, a1);
      xg += 2 * groupBytes;
    }
    if (g < G) {
      const r = <usize>load<u16>(mRow + (<usize>g << 1));
      let gx = v128.load32_zero(xg + ((r & mask) << 2));
      gx = v128.load32_lane(xg + (((r >> <usize>bits) & mask) << 2), gx, 1);
      gx = v128.load32_lane(xg + (((r >> b2) & mask) << 2), gx, 2);
      gx = v128.load32_lane(xg + (((r >> b3) & mask) << 2), gx, 3);
      a0 = madd(values4(vRow + (<usize>g << vs), elem), gx, a0);
    }
    put(y, i, hsum(f32x4.add(a0, a1)), first);
  }
}

/** Any n: a group's record (≤ 8 bytes) as one u64, four slots at a time, then one at a time. */
// @ts-ignore: decorator
@inline function nmSpmvAny(values: usize, meta: usize, x: usize, y: usize, G: i32, n: i32, m: i32, bits: i32, r0: i32, r1: i32, first: bool, elem: i32): void {
  const mask: u64 = (1 << bits) - 1;
  const mb = <usize>((n * bits + 7) >> 3);
  const groupBytes = <usize>m << 2;
  const vs = valueShift(elem);
  const slotBytes = <usize>n << vs;
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
        a = madd(values4(vp + (<usize>s << vs), elem), gx, a);
        rec >>= 4 * bits;
      }
      for (; s < n; s++) {
        acc += value1(vp + (<usize>s << vs), elem) * load<f32>(xg + (<usize>(rec & mask) << 2));
        rec >>= bits;
      }
      vp += slotBytes;
      mp += mb;
      xg += groupBytes;
    }
    put(y, i, acc + hsum(a), first);
  }
}

/** Bytes of x pairs per 2:4 group: the six (x[p0], x[p1]) pairs, 8 bytes each. */
const PAIRS_BYTES: usize = 48;

/**
 * x [G·4] (zero-padded) → xe [G·6] pairs of f32 for groups [g0, g1): group g's pairs (x0,x1) (x0,x2)
 * (x0,x3) (x1,x2) (x1,x3) (x2,x3) at xe + 48·g, pair c at byte 8·c (the 2:4 meta byte).
 */
export function nm24_expand_x(x: usize, xe: usize, g0: i32, g1: i32): void {
  for (let g = g0; g < g1; g++) {
    const v = v128.load(x + (<usize>g << 4));
    const o = xe + <usize>g * PAIRS_BYTES;
    v128.store(o, i8x16.shuffle(v, v, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 8, 9, 10, 11));
    v128.store(o, i8x16.shuffle(v, v, 0, 1, 2, 3, 12, 13, 14, 15, 4, 5, 6, 7, 8, 9, 10, 11), 16);
    v128.store(o, i8x16.shuffle(v, v, 4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15), 32);
  }
}

/**
 * nm_spmv_f32 for 2:4 on x's pairs xe (nm24_expand_x): group g's two weights multiply the pair at
 * xe + 48·g + meta byte. Per 4 groups: 4 meta bytes, two pair loads and two lane inserts (8 bytes each),
 * 2 value loads, 2 multiply-adds into two accumulators; one row at a time (values and meta each one
 * sequential stream per panel).
 */
export function nm24_spmv_f32(values: usize, meta: usize, xe: usize, y: usize, M: i32, G: i32, P: i32, r0: i32, r1: i32): void {
  nm24Spmv(values, meta, xe, y, M, G, P, r0, r1, ELEM_F32);
}

/** nm24_spmv_f32 with bf16 values: a step's 8 values in one 16-byte load, widened in two halves. */
export function nm24_spmv_bf16(values: usize, meta: usize, xe: usize, y: usize, M: i32, G: i32, P: i32, r0: i32, r1: i32): void {
  nm24Spmv(values, meta, xe, y, M, G, P, r0, r1, ELEM_BF16);
}

/** nm24_spmv_f32 with f16 values. */
export function nm24_spmv_f16(values: usize, meta: usize, xe: usize, y: usize, M: i32, G: i32, P: i32, r0: i32, r1: i32): void {
  nm24Spmv(values, meta, xe, y, M, G, P, r0, r1, ELEM_F16);
}

// @ts-ignore: decorator
@inline function nm24Spmv(values: usize, meta: usize, xe: usize, y: usize, M: i32, G: i32, P: i32, r0: i32, r1: i32, elem: i32): void {
  const vs = valueShift(elem) + 1; // two values a group
  for (let g0 = 0; g0 < G; g0 += P) {
    const Gp = min(P, G - g0);
    const vBase = panelValues(values, M, g0, <usize>1 << vs);
    const mBase = meta + <usize>M * <usize>g0;
    const xb = xe + <usize>g0 * PAIRS_BYTES;
    const body = <usize>(Gp >> 2) << (vs + 2);
    const first = g0 == 0;
    for (let i = r0; i < r1; i++) {
      let vp = vBase + ((<usize>i * <usize>Gp) << vs);
      let mp = mBase + <usize>i * <usize>Gp;
      const vEnd = vp + body;
      let xp = xb;
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      // 8 groups a step into 4 accumulators while they last: with 2, each multiply-add waited on the last (4 cycles a
      // step of 4 groups, ≈ 17 GB/s of bf16 values)
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      const vEnd8 = vp + ((<usize>(Gp >> 3)) << (vs + 3));
      while (vp < vEnd8) {
        let u = v128.load64_zero(xp + <usize>load<u8>(mp));
        u = v128.load64_lane(xp + PAIRS_BYTES + <usize>load<u8>(mp, 1), u, 1);
        let w = v128.load64_zero(xp + 2 * PAIRS_BYTES + <usize>load<u8>(mp, 2));
        w = v128.load64_lane(xp + 3 * PAIRS_BYTES + <usize>load<u8>(mp, 3), w, 1);
        let t = v128.load64_zero(xp + 4 * PAIRS_BYTES + <usize>load<u8>(mp, 4));
        t = v128.load64_lane(xp + 5 * PAIRS_BYTES + <usize>load<u8>(mp, 5), t, 1);
        let z = v128.load64_zero(xp + 6 * PAIRS_BYTES + <usize>load<u8>(mp, 6));
        z = v128.load64_lane(xp + 7 * PAIRS_BYTES + <usize>load<u8>(mp, 7), z, 1);
        if (elem == ELEM_F32) {
          a0 = madd(v128.load(vp), u, a0);
          a1 = madd(v128.load(vp, 16), w, a1);
          a2 = madd(v128.load(vp, 32), t, a2);
          a3 = madd(v128.load(vp, 48), z, a3);
        } else {
          const h = v128.load(vp);
          const k = v128.load(vp, 16);
          a0 = madd(lowHalves(h, elem), u, a0);
          a1 = madd(highHalves(h, elem), w, a1);
          a2 = madd(lowHalves(k, elem), t, a2);
          a3 = madd(highHalves(k, elem), z, a3);
        }
        xp += 8 * PAIRS_BYTES;
        mp += 8;
        vp += <usize>8 << vs;
      }
      a0 = f32x4.add(a0, a2);
      a1 = f32x4.add(a1, a3);
      while (vp < vEnd) {
        let u = v128.load64_zero(xp + <usize>load<u8>(mp));
        u = v128.load64_lane(xp + PAIRS_BYTES + <usize>load<u8>(mp, 1), u, 1);
        let w = v128.load64_zero(xp + 2 * PAIRS_BYTES + <usize>load<u8>(mp, 2));
        w = v128.load64_lane(xp + 3 * PAIRS_BYTES + <usize>load<u8>(mp, 3), w, 1);
        if (elem == ELEM_F32) {
          a0 = madd(v128.load(vp), u, a0);
          a1 = madd(v128.load(vp, 16), w, a1);
        } else {
          const h = v128.load(vp);
          a0 = madd(lowHalves(h, elem), u, a0);
          a1 = madd(highHalves(h, elem), w, a1);
        }
        xp += 4 * PAIRS_BYTES;
        mp += 4;
        vp += <usize>4 << vs;
      }
      let s = hsum(f32x4.add(a0, a1));
      for (let g = Gp & ~3; g < Gp; g++) {
        const pp = xp + <usize>load<u8>(mp);
        s += value1(vp, elem) * load<f32>(pp) + value1(vp + (<usize>1 << valueShift(elem)), elem) * load<f32>(pp, 4);
        xp += PAIRS_BYTES;
        mp += 1;
        vp += <usize>1 << vs;
      }
      put(y, i, s, first);
    }
  }
}

// ---- SpMM ------------------------------------------------------------------------------------------
//
// B comes packed by gemm_pack_b_f32 (gemm.ts): 8-column strips [⌈N/8⌉][Kp][8] f32 (Kp = G·m rows, columns past N
// zero), so the rows of B a column tile reads are 32 bytes apart instead of N·4. Read from row-major B, a tile's
// rows were N·4 bytes apart: at N = 512 (2 KB) they fell into 2 of L1's 64 sets and 288 pages, and the 2:4 SpMM
// ran at 0.75–0.8× the dense GEMM on SmolLM-135M's shapes (N = 520: 1.0×). Each block of SPMM_ROW_BLOCK rows runs
// every column tile over all its rows before the next, so a tile's strips (2 × 32 bytes × the panel's rows of B)
// stay in L1 while the block's weights stay in L2. The twin (src/backend/reference/nm.ts) reads B row-major:
// packing only moves B's elements.

/** Rows per block of the SpMM walks (see above). */
const SPMM_ROW_BLOCK: i32 = 64;

/** Bytes of one packed B row of one strip (8 f32). */
const STRIP_ROW: usize = 32;

/**
 * C[i, :] = Σ_g Σ_s values[i,g,s] · B[g·m + pos(i,g,s), :] for i in [r0, r1), any n:m; B [G·m, N] packed into
 * strips at bp (above); W in panels of P groups, C accumulated over panels.
 */
export function nm_spmm_f32(values: usize, meta: usize, bp: usize, out: usize, N: i32, M: i32, G: i32, P: i32, n: i32, m: i32, r0: i32, r1: i32): void {
  nmSpmm(values, meta, bp, out, N, M, G, P, n, m, r0, r1, ELEM_F32);
}

/** nm_spmm_f32 with bf16 values (each broadcast from its bits as it is read). */
export function nm_spmm_bf16(values: usize, meta: usize, bp: usize, out: usize, N: i32, M: i32, G: i32, P: i32, n: i32, m: i32, r0: i32, r1: i32): void {
  nmSpmm(values, meta, bp, out, N, M, G, P, n, m, r0, r1, ELEM_BF16);
}

/** nm_spmm_f32 with f16 values. */
export function nm_spmm_f16(values: usize, meta: usize, bp: usize, out: usize, N: i32, M: i32, G: i32, P: i32, n: i32, m: i32, r0: i32, r1: i32): void {
  nmSpmm(values, meta, bp, out, N, M, G, P, n, m, r0, r1, ELEM_F16);
}

// @ts-ignore: decorator
@inline function nmSpmm(values: usize, meta: usize, bp: usize, out: usize, N: i32, M: i32, G: i32, P: i32, n: i32, m: i32, r0: i32, r1: i32, elem: i32): void {
  const bits = 32 - clz(m - 1);
  const mb = <usize>((n * bits + 7) >> 3);
  const Kp = G * m;
  for (let g0 = 0; g0 < G; g0 += P) {
    const Gp = min(P, G - g0);
    const v = panelValues(values, M, g0, <usize>n << valueShift(elem));
    const mm = meta + <usize>M * <usize>g0 * mb;
    const bb = bp + <usize>(g0 * m) * STRIP_ROW; // the panel's first row in strip 0
    nmSpmmPanel(v, mm, bb, Kp, out, N, Gp, n, m, bits, r0, r1, g0 == 0, elem);
  }
}

/** One panel of nm_spmm_f32: 16-column tiles (two strips), then 8-column tiles (one strip), then single columns. */
// @ts-ignore: decorator
@inline function nmSpmmPanel(values: usize, meta: usize, b: usize, Kp: i32, out: usize, N: i32, G: i32, n: i32, m: i32, bits: i32, r0: i32, r1: i32, first: bool, elem: i32): void {
  const mask: u64 = (1 << bits) - 1;
  const mb = <usize>((n * bits + 7) >> 3);
  const ldc = <usize>N << 2;
  const groupStride = <usize>m * STRIP_ROW;
  const stripBytes = <usize>Kp * STRIP_ROW;
  const vs = valueShift(elem);
  const slotBytes = <usize>n << vs;
  for (let i0 = r0; i0 < r1; i0 += SPMM_ROW_BLOCK) {
    const i1 = min(r1, i0 + SPMM_ROW_BLOCK);
    let j = 0;
    for (; j + 16 <= N; j += 16) {
      const s0 = b + <usize>(j >> 3) * stripBytes;
      for (let i = i0; i < i1; i++) nmTile(true, values, meta, i, G, n, mask, bits, mb, m, s0, stripBytes, out + <usize>i * ldc + (<usize>j << 2), first, elem);
    }
    for (; j + 8 <= N; j += 8) {
      const s0 = b + <usize>(j >> 3) * stripBytes;
      for (let i = i0; i < i1; i++) nmTile(false, values, meta, i, G, n, mask, bits, mb, m, s0, stripBytes, out + <usize>i * ldc + (<usize>j << 2), first, elem);
    }
    for (; j < N; j++) {
      const col = b + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      for (let i = i0; i < i1; i++) {
        let acc: f32 = 0;
        let vp = values + <usize>i * <usize>G * slotBytes;
        let mp = meta + <usize>i * <usize>G * mb;
        let bg = col;
        for (let g = 0; g < G; g++) {
          let rec = load<u64>(mp);
          for (let s = 0; s < n; s++) {
            acc += value1(vp + (<usize>s << vs), elem) * load<f32>(bg + <usize>(rec & mask) * STRIP_ROW);
            rec >>= bits;
          }
          vp += slotBytes;
          mp += mb;
          bg += groupStride;
        }
        const o = out + <usize>i * ldc + (<usize>j << 2);
        store<f32>(o, first ? acc : load<f32>(o) + acc);
      }
    }
  }
}

/**
 * C row i's 16 columns (`two` strips: s0 and s0 + stripBytes) or 8 (one strip at s0) at o (+)= Σ_g Σ_s its
 * group's slot products with B's strip rows (any n:m, nm_spmm_f32).
 */
// @ts-ignore: decorator
@inline function nmTile(
  two: bool, values: usize, meta: usize, i: i32, G: i32, n: i32, mask: u64, bits: i32, mb: usize, m: i32, s0: usize,
  stripBytes: usize, o: usize, first: bool, elem: i32,
): void {
  const vs = valueShift(elem);
  const slotBytes = <usize>n << vs;
  let vp = values + <usize>i * <usize>G * slotBytes;
  let mp = meta + <usize>i * <usize>G * mb;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let bg = s0;
  for (let g = 0; g < G; g++) {
    let rec = load<u64>(mp);
    for (let s = 0; s < n; s++) {
      const w = valueSplat(vp + (<usize>s << vs), elem);
      const br = bg + <usize>(rec & mask) * STRIP_ROW;
      a0 = madd(w, v128.load(br), a0);
      a1 = madd(w, v128.load(br, 16), a1);
      if (two) {
        a2 = madd(w, v128.load(br + stripBytes), a2);
        a3 = madd(w, v128.load(br + stripBytes, 16), a3);
      }
      rec >>= bits;
    }
    vp += slotBytes;
    mp += mb;
    bg += <usize>m * STRIP_ROW;
  }
  put4(o, a0, first);
  put4(o + 16, a1, first);
  if (two) {
    put4(o + 32, a2, first);
    put4(o + 48, a3, first);
  }
}

/**
 * Byte offset in B of a 2:4 group's two rows, per pair code c (meta byte 8·c): p0 at byte 2·c, p1 at
 * byte 2·c + 1 of this table (PAIRS_24 order).
 */
const PAIR_POSITIONS: usize = memory.data<u8>([0, 1, 0, 2, 0, 3, 1, 2, 1, 3, 2, 3]);

/**
 * nm_spmm_f32 for 2:4: both slots of a group per step (its two rows of B and two values decoded once per block of
 * rows into `scratch`, nm24SpmmPanel), their two products summed before the accumulator add (one dependent add per group on each accumulator, not
 * two multiply-adds: 1.06× at N = 512), 16-column tiles over two strips (4 accumulators + 8 B loads + 2 splats
 * = 14 SIMD registers), then 8-column tiles, then single columns. B packed as for nm_spmm_f32.
 */
export function nm24_spmm_f32(values: usize, meta: usize, bp: usize, out: usize, N: i32, M: i32, G: i32, P: i32, scratch: usize, r0: i32, r1: i32): void {
  nm24Spmm(values, meta, bp, out, N, M, G, P, scratch, r0, r1, ELEM_F32);
}

/** nm24_spmm_f32 with bf16 values. */
export function nm24_spmm_bf16(values: usize, meta: usize, bp: usize, out: usize, N: i32, M: i32, G: i32, P: i32, scratch: usize, r0: i32, r1: i32): void {
  nm24Spmm(values, meta, bp, out, N, M, G, P, scratch, r0, r1, ELEM_BF16);
}

/** nm24_spmm_f32 with f16 values. */
export function nm24_spmm_f16(values: usize, meta: usize, bp: usize, out: usize, N: i32, M: i32, G: i32, P: i32, scratch: usize, r0: i32, r1: i32): void {
  nm24Spmm(values, meta, bp, out, N, M, G, P, scratch, r0, r1, ELEM_F16);
}

/**
 * Bytes of one thread's scratch for nm24_spmm_*: a block of SPMM_ROW_BLOCK rows of P groups decoded, per group
 * the byte offsets of its two rows of B (two u32) and its two values as f32.
 */
export function nm24_spmm_scratch_bytes(P: i32): i32 {
  return (SPMM_ROW_BLOCK * P * 16 + 63) & ~63;
}

// Rows arrive as slot·M + row (the host's slotted ranges), so each thread finds its scratch slot.
// @ts-ignore: decorator
@inline function nm24Spmm(values: usize, meta: usize, bp: usize, out: usize, N: i32, M: i32, G: i32, P: i32, scratch: usize, r0: i32, r1: i32, elem: i32): void {
  const slot = r0 / M;
  const dec = scratch + <usize>slot * <usize>nm24_spmm_scratch_bytes(P);
  const Kp = G * 4;
  for (let g0 = 0; g0 < G; g0 += P) {
    const Gp = min(P, G - g0);
    const v = panelValues(values, M, g0, <usize>2 << valueShift(elem));
    const mm = meta + <usize>M * <usize>g0;
    const bb = bp + <usize>(g0 * 4) * STRIP_ROW;
    nm24SpmmPanel(v, mm, bb, Kp, out, N, Gp, r0 - slot * M, r1 - slot * M, g0 == 0, elem, dec);
  }
}

/**
 * One panel of nm24_spmm_f32. Each block of SPMM_ROW_BLOCK rows is first decoded into `dec` (per group: the byte
 * offsets of its two rows of B within a strip, then its two values as f32), and every column tile of the block
 * then reads that: the meta byte, the pair table and the value widening run once per block instead of once per
 * tile. Standalone, SmolLM-135M's three 2:4 shapes at N = 512 with bf16 values, one thread: 36.0–36.7 ms →
 * 31.6–32.4 ms, bit for bit the same.
 */
// @ts-ignore: decorator
@inline function nm24SpmmPanel(values: usize, meta: usize, b: usize, Kp: i32, out: usize, N: i32, G: i32, r0: i32, r1: i32, first: bool, elem: i32, dec: usize): void {
  const ldc = <usize>N << 2;
  const vs = valueShift(elem) + 1; // two values a group
  const stripBytes = <usize>Kp * STRIP_ROW;
  const rowBytes = <usize>G << 4; // a decoded row: 16 bytes a group
  for (let i0 = r0; i0 < r1; i0 += SPMM_ROW_BLOCK) {
    const i1 = min(r1, i0 + SPMM_ROW_BLOCK);
    for (let i = i0; i < i1; i++) {
      const mRow = meta + <usize>i * <usize>G;
      const vRow = values + ((<usize>i * <usize>G) << vs);
      let d = dec + <usize>(i - i0) * rowBytes;
      for (let g = 0; g < G; g++) {
        const pp = PAIR_POSITIONS + (<usize>load<u8>(mRow + <usize>g) >> 2);
        const base = <u32>g * (4 * <u32>STRIP_ROW);
        store<u32>(d, base + <u32>load<u8>(pp) * <u32>STRIP_ROW);
        store<u32>(d, base + <u32>load<u8>(pp, 1) * <u32>STRIP_ROW, 4);
        const vp = vRow + (<usize>g << vs);
        store<f32>(d, value1(vp, elem), 8);
        store<f32>(d, value1(vp + (<usize>1 << valueShift(elem)), elem), 12);
        d += 16;
      }
    }
    let j = 0;
    for (; j + 16 <= N; j += 16) {
      const s0 = b + <usize>(j >> 3) * stripBytes;
      for (let i = i0; i < i1; i++) nm24Tile(true, dec + <usize>(i - i0) * rowBytes, G, s0, stripBytes, out + <usize>i * ldc + (<usize>j << 2), first);
    }
    for (; j + 8 <= N; j += 8) {
      const s0 = b + <usize>(j >> 3) * stripBytes;
      for (let i = i0; i < i1; i++) nm24Tile(false, dec + <usize>(i - i0) * rowBytes, G, s0, stripBytes, out + <usize>i * ldc + (<usize>j << 2), first);
    }
    for (; j < N; j++) {
      const col = b + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      for (let i = i0; i < i1; i++) {
        let d = dec + <usize>(i - i0) * rowBytes;
        let acc: f32 = 0;
        for (let g = 0; g < G; g++) {
          acc += load<f32>(d, 8) * load<f32>(col + <usize>load<u32>(d)) + load<f32>(d, 12) * load<f32>(col + <usize>load<u32>(d, 4));
          d += 16;
        }
        const o = out + <usize>i * ldc + (<usize>j << 2);
        store<f32>(o, first ? acc : load<f32>(o) + acc);
      }
    }
  }
}

/**
 * C row i's 16 columns (`two` strips: s0 and s0 + stripBytes) or 8 (one strip at s0) at o (+)= Σ_g its group's
 * two products with B's strip rows (2:4, nm24_spmm_f32), from the row's decoded groups at d.
 */
// @ts-ignore: decorator
@inline function nm24Tile(two: bool, d: usize, G: i32, s0: usize, stripBytes: usize, o: usize, first: bool): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  const end = d + (<usize>G << 4);
  for (; d < end; d += 16) {
    const w0 = v128.load32_splat(d, 8);
    const w1 = v128.load32_splat(d, 12);
    const b0 = s0 + <usize>load<u32>(d);
    const b1 = s0 + <usize>load<u32>(d, 4);
    a0 = f32x4.add(a0, madd(w1, v128.load(b1), f32x4.mul(w0, v128.load(b0))));
    a1 = f32x4.add(a1, madd(w1, v128.load(b1, 16), f32x4.mul(w0, v128.load(b0, 16))));
    if (two) {
      a2 = f32x4.add(a2, madd(w1, v128.load(b1 + stripBytes), f32x4.mul(w0, v128.load(b0 + stripBytes))));
      a3 = f32x4.add(a3, madd(w1, v128.load(b1 + stripBytes, 16), f32x4.mul(w0, v128.load(b0 + stripBytes, 16))));
    }
  }
  put4(o, a0, first);
  put4(o + 16, a1, first);
  if (two) {
    put4(o + 32, a2, first);
    put4(o + 48, a3, first);
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
