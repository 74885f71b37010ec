// Selection kernels: top-k by radix select, threshold compaction, and the non-finite scan that guards them.
// TypeScript twin: src/backend/reference/select.ts (a sort-based definition with the same results).
//
// Order-preserving keys. A float's bit pattern u becomes a u32 key whose unsigned order is the float order:
//   u &= absMask          (0x7FFFFFFF in abs mode: compare |x|; else 0xFFFFFFFF)
//   u  = u == 0x80000000 ? 0 : u                      (-0 becomes +0, so the two zeros tie)
//   key = u ^ (u's sign bit set ? 0xFFFFFFFF : 0x80000000) ^ flip   (flip = 0xFFFFFFFF selects the smallest)
// `mode` packs the options: bit 0 = abs, bit 1 = smallest. Inputs are finite (the host scans first).
//
// Radix select for a row of n keys: three histogram passes over 11, 11 and 10 key bits (most significant
// first) find the k-th largest key T and how many of its ties to take (`quota`); one compaction pass then
// writes, in ascending index order, every element with key > T and the first `quota` with key == T.
// So the result is exactly k entries, indices ascending, ties broken toward the lower index. O(n) per row.

const SIGN: u32 = 0x80000000;
/** Histogram scratch: 2048 u32 buckets (the widest digit is 11 bits). */
const HIST_BYTES: usize = 2048 << 2;
/** Rows up to this long use the rank path (no histogram passes: their fixed cost dominates short rows). */
const SMALL_ROW: i32 = 64;
/** Digit layout of the three passes: shift and bucket mask of each, and the key bits known after it. */
const SHIFT1 = 21;
const SHIFT2 = 10;
const DIGIT11: u32 = 0x7ff;
const DIGIT10: u32 = 0x3ff;
const PREFIX1: u32 = 0xffe00000;
const PREFIX2: u32 = 0xfffffc00;

/** Per-instance (so per-thread) second return value of findBucket. */
let remaining: u32 = 0;

// @ts-ignore: decorator
@inline function absMaskOf(mode: i32): u32 {
  return mode & 1 ? 0x7fffffff : 0xffffffff;
}

// @ts-ignore: decorator
@inline function flipOf(mode: i32): u32 {
  return mode & 2 ? 0xffffffff : 0;
}

// @ts-ignore: decorator
@inline function keyOf(u: u32, absMask: u32, flip: u32): u32 {
  u &= absMask;
  if (u == SIGN) u = 0;
  return u ^ (<u32>(<i32>u >> 31) | SIGN) ^ flip;
}

// @ts-ignore: decorator
@inline function keysOf(v: v128, absMask: v128, flip: v128): v128 {
  const sign = i32x4.splat(<i32>SIGN);
  let u = v128.and(v, absMask);
  u = v128.andnot(u, i32x4.eq(u, sign));
  return v128.xor(v128.xor(u, v128.or(i32x4.shr_s(u, 31), sign)), flip);
}

// @ts-ignore: decorator
@inline function bump(hist: usize, key: u32, shift: i32, bmask: u32): void {
  const a = hist + (<usize>((key >>> shift) & bmask) << 2);
  store<u32>(a, load<u32>(a) + 1);
}

/**
 * Histogram of digit (key >>> shift) & bmask over elements [start, end) whose key matches the known prefix
 * ((key & pmask) == pbits); hist holds bmask + 1 u32 counters and is zeroed first.
 */
function histRange(
  x: usize, start: i32, end: i32, absMask: u32, flip: u32,
  pmask: u32, pbits: u32, shift: i32, bmask: u32, hist: usize,
): void {
  memory.fill(hist, 0, <usize>(bmask + 1) << 2);
  const am = i32x4.splat(<i32>absMask);
  const fl = i32x4.splat(<i32>flip);
  const pm = i32x4.splat(<i32>pmask);
  const pb = i32x4.splat(<i32>pbits);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const keys = keysOf(v128.load(x + (<usize>i << 2)), am, fl);
    const hit = i32x4.eq(v128.and(keys, pm), pb);
    if (!v128.any_true(hit)) continue;
    if (i32x4.all_true(hit)) {
      bump(hist, i32x4.extract_lane(keys, 0), shift, bmask);
      bump(hist, i32x4.extract_lane(keys, 1), shift, bmask);
      bump(hist, i32x4.extract_lane(keys, 2), shift, bmask);
      bump(hist, i32x4.extract_lane(keys, 3), shift, bmask);
    } else {
      const m = i32x4.bitmask(hit);
      if (m & 1) bump(hist, i32x4.extract_lane(keys, 0), shift, bmask);
      if (m & 2) bump(hist, i32x4.extract_lane(keys, 1), shift, bmask);
      if (m & 4) bump(hist, i32x4.extract_lane(keys, 2), shift, bmask);
      if (m & 8) bump(hist, i32x4.extract_lane(keys, 3), shift, bmask);
    }
  }
  for (; i < end; i++) {
    const key = keyOf(load<u32>(x + (<usize>i << 2)), absMask, flip);
    if ((key & pmask) == pbits) bump(hist, key, shift, bmask);
  }
}

/**
 * The bucket holding the kk-th largest counted key (kk ≥ 1, counting from the top bucket down);
 * sets `remaining` to how many keys must still come from that bucket.
 */
function findBucket(hist: usize, bmask: u32, kk: u32): u32 {
  for (let b = <i32>bmask; b > 0; b--) {
    const c = load<u32>(hist + (<usize>b << 2));
    if (c >= kk) {
      remaining = kk;
      return <u32>b;
    }
    kk -= c;
  }
  remaining = kk;
  return 0;
}

// @ts-ignore: decorator
@inline function emit(x: usize, i: i32, base: i32, outVal: usize, outIdx: usize, pos: u32): void {
  store<f32>(outVal + (<usize>pos << 2), load<f32>(x + (<usize>i << 2)));
  store<u32>(outIdx + (<usize>pos << 2), <u32>(i - base));
}

/**
 * Writes, in index order, elements of [start, end) with key > t and the first `quota` with key == t to
 * outVal/outIdx (index written is i - base). Returns how many were written.
 */
function compactRange(
  x: usize, start: i32, end: i32, base: i32, absMask: u32, flip: u32,
  t: u32, quota: u32, outVal: usize, outIdx: usize,
): u32 {
  const am = i32x4.splat(<i32>absMask);
  const fl = i32x4.splat(<i32>flip);
  const tv = i32x4.splat(<i32>t);
  let pos: u32 = 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const keys = keysOf(v128.load(x + (<usize>i << 2)), am, fl);
    let gt = i32x4.bitmask(i32x4.gt_u(keys, tv));
    const eq = quota > 0 ? i32x4.bitmask(i32x4.eq(keys, tv)) : 0;
    if ((gt | eq) == 0) continue;
    if (eq != 0) {
      // Ties take the quota in index order: fold the first `quota` tie lanes into the taken set.
      for (let lane = 0; lane < 4 && quota > 0; lane++) {
        if ((eq >> lane) & 1) {
          gt |= 1 << lane;
          quota--;
        }
      }
    }
    while (gt != 0) {
      emit(x, i + ctz(gt), base, outVal, outIdx, pos++);
      gt &= gt - 1;
    }
  }
  for (; i < end; i++) {
    const key = keyOf(load<u32>(x + (<usize>i << 2)), absMask, flip);
    if (key > t) emit(x, i, base, outVal, outIdx, pos++);
    else if (key == t && quota > 0) {
      quota--;
      emit(x, i, base, outVal, outIdx, pos++);
    }
  }
  return pos;
}

/** Top-k of a short row by rank: element i is kept when fewer than k elements outrank it. keys: n u32. */
function topkByRank(
  x: usize, start: i32, n: i32, k: i32, absMask: u32, flip: u32, keys: usize, outVal: usize, outIdx: usize,
): void {
  for (let j = 0; j < n; j++) {
    store<u32>(keys + (<usize>j << 2), keyOf(load<u32>(x + (<usize>(start + j) << 2)), absMask, flip));
  }
  let pos: u32 = 0;
  for (let i = 0; i < n; i++) {
    const ki = load<u32>(keys + (<usize>i << 2));
    let rank = 0;
    for (let j = 0; j < n && rank < k; j++) {
      const kj = load<u32>(keys + (<usize>j << 2));
      rank += <i32>(kj > ki || (kj == ki && j < i));
    }
    if (rank < k) emit(x, start + i, start, outVal, outIdx, pos++);
  }
}

/** Top-k of one row [start, start + n) into outVal/outIdx (k entries, column indices ascending). */
function topkRow(
  x: usize, start: i32, n: i32, k: i32, mode: i32, hist: usize, outVal: usize, outIdx: usize,
): void {
  const absMask = absMaskOf(mode);
  const flip = flipOf(mode);
  if (k == 0) return;
  if (k == n) {
    compactRange(x, start, start + n, start, absMask, flip, 0, <u32>n, outVal, outIdx);
    return;
  }
  if (n <= SMALL_ROW) {
    topkByRank(x, start, n, k, absMask, flip, hist, outVal, outIdx);
    return;
  }
  const end = start + n;
  histRange(x, start, end, absMask, flip, 0, 0, SHIFT1, DIGIT11, hist);
  let t = findBucket(hist, DIGIT11, <u32>k) << SHIFT1;
  histRange(x, start, end, absMask, flip, PREFIX1, t, SHIFT2, DIGIT11, hist);
  t |= findBucket(hist, DIGIT11, remaining) << SHIFT2;
  histRange(x, start, end, absMask, flip, PREFIX2, t, 0, DIGIT10, hist);
  t |= findBucket(hist, DIGIT10, remaining);
  compactRange(x, start, end, start, absMask, flip, t, remaining, outVal, outIdx);
}

/**
 * Per-row top-k: x [R,C] → outVal, outIdx [R,k] (column indices ascending). Rows [r0, r1) only.
 * Work items encode the thread's scratch slot: r = slot·R + row, and slot s owns the 8 KiB histogram at
 * scratch + s·8192 (the host allocates one per range).
 */
export function topk_rows_f32(
  x: usize, R: i32, C: i32, k: i32, mode: i32, scratch: usize, outVal: usize, outIdx: usize,
  r0: i32, r1: i32,
): void {
  const slot = r0 / R;
  const hist = scratch + <usize>slot * HIST_BYTES;
  const rowOut = <usize>k << 2;
  for (let r = r0 - slot * R; r < r1 - slot * R; r++) {
    topkRow(x, r * C, C, k, mode, hist, outVal + <usize>r * rowOut, outIdx + <usize>r * rowOut);
  }
}

/**
 * One histogram pass of a chunked top-k over a long vector x[n] (chunk c = [c·chunkLen, (c+1)·chunkLen)):
 * for chunks [c0, c1), counts digit (key >>> shift) & bmask of keys with (key & pmask) == pbits into
 * hist + c·8192. The host merges the chunks' histograms to pick the next digit.
 */
export function select_hist_f32(
  x: usize, n: i32, chunkLen: i32, mode: i32, pmask: u32, pbits: u32, shift: i32, bmask: u32,
  hist: usize, c0: i32, c1: i32,
): void {
  for (let c = c0; c < c1; c++) {
    const start = c * chunkLen;
    const end = min(n, start + chunkLen);
    histRange(x, start, end, absMaskOf(mode), flipOf(mode), pmask, pbits, shift, bmask, hist + <usize>c * HIST_BYTES);
  }
}

/**
 * Compaction pass of a chunked top-k: chunk c writes its keys > t and its first plan[2c+1] keys == t at
 * output position plan[2c] (the host's prefix sum), indices global and ascending.
 */
export function select_compact_f32(
  x: usize, n: i32, chunkLen: i32, mode: i32, t: u32, plan: usize, outVal: usize, outIdx: usize,
  c0: i32, c1: i32,
): void {
  for (let c = c0; c < c1; c++) {
    const start = c * chunkLen;
    const end = min(n, start + chunkLen);
    const at = <usize>load<u32>(plan + (<usize>c << 3)) << 2;
    const quota = load<u32>(plan + (<usize>c << 3) + 4);
    compactRange(x, start, end, 0, absMaskOf(mode), flipOf(mode), t, quota, outVal + at, outIdx + at);
  }
}

/**
 * Threshold selection over rows of a flat x[n] cut every C elements (row r = [r·C, min(n, r·C + C))):
 * writes the column indices and values of keys > t to outIdx/outVal + r·C·4 and the row's count to
 * counts[r]. t is the host's key for the threshold (mode bit 0 = compare |x|). Rows [r0, r1) only.
 */
export function threshold_rows_f32(
  x: usize, n: i32, C: i32, mode: i32, t: u32, outVal: usize, outIdx: usize, counts: usize,
  r0: i32, r1: i32,
): void {
  for (let r = r0; r < r1; r++) {
    const start = r * C;
    const end = min(n, start + C);
    const at = <usize>start << 2;
    const got = compactRange(x, start, end, start, absMaskOf(mode), 0, t, 0, outVal + at, outIdx + at);
    store<u32>(counts + (<usize>r << 2), got);
  }
}

/** Index of the first NaN or ±Inf in x[n] (exponent bits all ones), or -1 when every value is finite. */
export function first_nonfinite_f32(x: usize, n: i32): i32 {
  const exp = i32x4.splat(0x7f800000);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const a = i32x4.eq(v128.and(v128.load(p), exp), exp);
    const b = i32x4.eq(v128.and(v128.load(p, 16), exp), exp);
    const c = i32x4.eq(v128.and(v128.load(p, 32), exp), exp);
    const d = i32x4.eq(v128.and(v128.load(p, 48), exp), exp);
    if (v128.any_true(v128.or(v128.or(a, b), v128.or(c, d)))) break;
  }
  for (; i < n; i++) {
    if ((load<u32>(x + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) return i;
  }
  return -1;
}
