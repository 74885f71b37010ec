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
// Two shortcuts: for k ≤ SMALL_K one pass keeps the k best (key, column) pairs in a sorted buffer (no
// compaction pass); rows of at most SMALL_ROW elements quickselect T on a copy of their keys, then compact.
// Both give up on adversarial inputs (bounded work) and fall back to radix select.

const SIGN: u32 = 0x80000000;
/** One histogram of the widest digit (11 bits): 2048 u32 buckets. */
const DIGIT_BYTES: usize = 2048 << 2;
/** Histogram scratch: four copies of the widest digit's histogram (see histTop). */
const HIST_BYTES: usize = 4 * DIGIT_BYTES;
/** Rows up to this long use quickselect on a copy of their keys (measured faster than radix up to ~128). */
const SMALL_ROW: i32 = 128;
/** Up to this k, top-k first tries one pass with a sorted buffer of the k best keys (topkByInsertion). */
const SMALL_K: i32 = 32;
/** Scratch of one topk_rows_f32 slot: the histogram, then room for SMALL_ROW keys. */
const ROW_SCRATCH_BYTES: usize = HIST_BYTES + (<usize>SMALL_ROW << 2);
/** Digit layout of the three passes: shift and bucket mask of each, and the key bits known after it. */
const SHIFT1 = 21;
const SHIFT2 = 10;
const DIGIT11: u32 = 0x7ff;
const DIGIT10: u32 = 0x3ff;
const PREFIX1: u32 = 0xffe00000;
const PREFIX2: u32 = 0xfffffc00;

/** Per-instance (so per-thread) second return value of findBucket, and the give-up flag of quickselect. */
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
 * First-pass histogram of the top 11 key bits over every element of [start, end) into hist[2048]. Lane l
 * counts into its own copy at hist + l·8 KiB (merged into copy 0 at the end), so back-to-back increments
 * of one bucket do not wait on each other's stores.
 */
function histTop(x: usize, start: i32, end: i32, absMask: u32, flip: u32, hist: usize): void {
  const copy: usize = DIGIT_BYTES;
  memory.fill(hist, 0, 4 * copy);
  const am = i32x4.splat(<i32>absMask);
  const fl = i32x4.splat(<i32>flip);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const keys = keysOf(v128.load(x + (<usize>i << 2)), am, fl);
    bump(hist, i32x4.extract_lane(keys, 0), SHIFT1, DIGIT11);
    bump(hist + copy, i32x4.extract_lane(keys, 1), SHIFT1, DIGIT11);
    bump(hist + 2 * copy, i32x4.extract_lane(keys, 2), SHIFT1, DIGIT11);
    bump(hist + 3 * copy, i32x4.extract_lane(keys, 3), SHIFT1, DIGIT11);
  }
  for (; i < end; i++) bump(hist, keyOf(load<u32>(x + (<usize>i << 2)), absMask, flip), SHIFT1, DIGIT11);
  for (let b: usize = 0; b < copy; b += 16) {
    const p = hist + b;
    const sum = i32x4.add(
      i32x4.add(v128.load(p), v128.load(p + copy)),
      i32x4.add(v128.load(p + 2 * copy), v128.load(p + 3 * copy)),
    );
    v128.store(p, sum);
  }
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
 * outVal/outIdx (index written is i − base); there are `cap` output slots. Returns how many were written.
 * While 4 or more slots are left, a group's lanes are written without branches (every lane stores at the
 * next slot, which only advances for taken lanes); the last few slots are written one by one.
 */
function compactRange(
  x: usize, start: i32, end: i32, base: i32, absMask: u32, flip: u32,
  t: u32, quota: u32, outVal: usize, outIdx: usize, cap: u32,
): u32 {
  const am = i32x4.splat(<i32>absMask);
  const fl = i32x4.splat(<i32>flip);
  const tv = i32x4.splat(<i32>t);
  let pos: u32 = 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const keys = keysOf(v, am, fl);
    let take = i32x4.bitmask(i32x4.gt_u(keys, tv));
    const eq = quota > 0 ? i32x4.bitmask(i32x4.eq(keys, tv)) : 0;
    if (eq != 0) {
      // Ties take the quota in index order: fold the first `quota` tie lanes into the taken set.
      for (let lane = 0; lane < 4 && quota > 0; lane++) {
        if ((eq >> lane) & 1) {
          take |= 1 << lane;
          quota--;
        }
      }
    }
    if (take == 0) continue;
    const j = <u32>(i - base);
    if (pos + 4 <= cap) {
      let o = <usize>pos << 2;
      store<u32>(outIdx + o, j);
      store<f32>(outVal + o, f32x4.extract_lane(v, 0));
      o += <usize>(take & 1) << 2;
      store<u32>(outIdx + o, j + 1);
      store<f32>(outVal + o, f32x4.extract_lane(v, 1));
      o += <usize>((take >> 1) & 1) << 2;
      store<u32>(outIdx + o, j + 2);
      store<f32>(outVal + o, f32x4.extract_lane(v, 2));
      o += <usize>((take >> 2) & 1) << 2;
      store<u32>(outIdx + o, j + 3);
      store<f32>(outVal + o, f32x4.extract_lane(v, 3));
      pos += <u32>popcnt(take);
    } else {
      while (take != 0) {
        emit(x, i + ctz(take), base, outVal, outIdx, pos++);
        take &= take - 1;
      }
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

/** Swap the u32 keys at a and b. */
// @ts-ignore: decorator
@inline function swapKeys(a: usize, b: usize): void {
  const t = load<u32>(a);
  store<u32>(a, load<u32>(b));
  store<u32>(b, t);
}

/**
 * The k-th largest of n u32 keys at `keys` (1 ≤ k ≤ n), by quickselect (Hoare partition, median-of-3
 * pivot); reorders the keys. Returns 0 and sets `remaining` = 1 when it gives up after `rounds` partitions
 * (adversarial inputs), so the caller can fall back to radix select; otherwise `remaining` = 0.
 */
function quickselect(keys: usize, n: i32, k: i32, rounds: i32): u32 {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1; // position in descending order
  remaining = 0;
  while (lo < hi) {
    if (rounds-- == 0) {
      remaining = 1;
      return 0;
    }
    const a = load<u32>(keys + (<usize>lo << 2));
    const b = load<u32>(keys + (<usize>((lo + hi) >> 1) << 2));
    const c = load<u32>(keys + (<usize>hi << 2));
    const pivot = max(min(a, b), min(max(a, b), c));
    // Descending partition: [lo, j] ≥ pivot, (j, i) == pivot, [i, hi] ≤ pivot.
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (load<u32>(keys + (<usize>i << 2)) > pivot) i++;
      while (load<u32>(keys + (<usize>j << 2)) < pivot) j--;
      if (i <= j) {
        swapKeys(keys + (<usize>i << 2), keys + (<usize>j << 2));
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return pivot;
  }
  return load<u32>(keys + (<usize>target << 2));
}

/**
 * Top-k of a short row: quickselect the k-th largest key T on a copy of the keys, count the keys above it,
 * then the same compaction as radix select. Returns false (writing nothing) if quickselect gave up.
 */
function topkBySelect(
  x: usize, start: i32, n: i32, k: i32, absMask: u32, flip: u32, keys: usize, outVal: usize, outIdx: usize,
): bool {
  for (let j = 0; j < n; j++) {
    store<u32>(keys + (<usize>j << 2), keyOf(load<u32>(x + (<usize>(start + j) << 2)), absMask, flip));
  }
  const t = quickselect(keys, n, k, 4 * (32 - clz(n)));
  if (remaining) return false;
  let above = 0;
  for (let j = 0; j < n; j++) above += <i32>(load<u32>(keys + (<usize>j << 2)) > t);
  compactRange(x, start, start + n, start, absMask, flip, t, <u32>(k - above), outVal, outIdx, <u32>k);
  return true;
}

/**
 * Inserts (key, col) into the buffer of keys (descending) and their columns, which has room at position
 * len (the old entry there, if any, is dropped). Equal keys stay in arrival order, so among ties the
 * earlier element is kept.
 */
// @ts-ignore: decorator
@inline function insertEntry(keys: usize, cols: usize, len: i32, key: u32, col: u32): void {
  let p = <usize>len << 2;
  while (p > 0 && load<u32>(keys + p - 4) < key) {
    store<u32>(keys + p, load<u32>(keys + p - 4));
    store<u32>(cols + p, load<u32>(cols + p - 4));
    p -= 4;
  }
  store<u32>(keys + p, key);
  store<u32>(cols + p, col);
}

/**
 * Top-k for small k in one pass: a buffer keeps the k largest keys seen so far (sorted, with their columns
 * in outIdx), and a group of 4 elements is skipped unless one beats the buffer's smallest key. Random orders
 * insert about k·ln(n/k) times; after `budget` insertions (adversarial orders, e.g. ascending input) it
 * gives up and returns false so the caller falls back to radix select. At the end the k columns are sorted
 * ascending and their values written.
 */
function topkByInsertion(
  x: usize, start: i32, n: i32, k: i32, absMask: u32, flip: u32, keys: usize, outVal: usize, outIdx: usize,
): bool {
  const row = x + (<usize>start << 2);
  for (let i = 0; i < k; i++) insertEntry(keys, outIdx, i, keyOf(load<u32>(row + (<usize>i << 2)), absMask, flip), i);
  const last = keys + (<usize>(k - 1) << 2);
  let budget = 2 * k * (32 - clz(n));
  const am = i32x4.splat(<i32>absMask);
  const fl = i32x4.splat(<i32>flip);
  let i = k;
  for (; i + 4 <= n; i += 4) {
    const group = keysOf(v128.load(row + (<usize>i << 2)), am, fl);
    if (!v128.any_true(i32x4.gt_u(group, i32x4.splat(load<u32>(last))))) continue;
    for (let lane = 0; lane < 4; lane++) {
      const key = keyOf(load<u32>(row + (<usize>(i + lane) << 2)), absMask, flip);
      if (key <= load<u32>(last)) continue;
      if (budget-- == 0) return false;
      insertEntry(keys, outIdx, k - 1, key, i + lane);
    }
  }
  for (; i < n; i++) {
    const key = keyOf(load<u32>(row + (<usize>i << 2)), absMask, flip);
    if (key > load<u32>(last)) insertEntry(keys, outIdx, k - 1, key, i);
  }
  // Columns ascending (insertion sort of k ≤ SMALL_K entries), then their values.
  for (let j = 1; j < k; j++) {
    const c = load<u32>(outIdx + (<usize>j << 2));
    let p = <usize>j << 2;
    while (p > 0 && load<u32>(outIdx + p - 4) > c) {
      store<u32>(outIdx + p, load<u32>(outIdx + p - 4));
      p -= 4;
    }
    store<u32>(outIdx + p, c);
  }
  for (let j = 0; j < k; j++) {
    store<f32>(outVal + (<usize>j << 2), load<f32>(row + (<usize>load<u32>(outIdx + (<usize>j << 2)) << 2)));
  }
  return true;
}

/**
 * Top-k of one row [start, start + n) into outVal/outIdx (k entries, column indices ascending): one-pass
 * insertion for k ≤ SMALL_K, quickselect for rows up to SMALL_ROW, else (or when those give up) radix select.
 */
function topkRow(
  x: usize, start: i32, n: i32, k: i32, mode: i32, hist: usize, outVal: usize, outIdx: usize,
): void {
  const absMask = absMaskOf(mode);
  const flip = flipOf(mode);
  if (k == 0) return;
  if (k == n) {
    compactRange(x, start, start + n, start, absMask, flip, 0, <u32>n, outVal, outIdx, <u32>n);
    return;
  }
  const keys = hist + HIST_BYTES;
  if (k <= SMALL_K && topkByInsertion(x, start, n, k, absMask, flip, keys, outVal, outIdx)) return;
  if (n <= SMALL_ROW && topkBySelect(x, start, n, k, absMask, flip, keys, outVal, outIdx)) return;
  const end = start + n;
  histTop(x, start, end, absMask, flip, hist);
  let t = findBucket(hist, DIGIT11, <u32>k) << SHIFT1;
  histRange(x, start, end, absMask, flip, PREFIX1, t, SHIFT2, DIGIT11, hist);
  t |= findBucket(hist, DIGIT11, remaining) << SHIFT2;
  histRange(x, start, end, absMask, flip, PREFIX2, t, 0, DIGIT10, hist);
  t |= findBucket(hist, DIGIT10, remaining);
  compactRange(x, start, end, start, absMask, flip, t, remaining, outVal, outIdx, <u32>k);
}

/**
 * Per-row top-k: x [R,C] → outVal, outIdx [R,k] (column indices ascending). Rows [r0, r1) only.
 * Work items encode the thread's scratch slot: r = slot·R + row, and slot s owns
 * topk_rows_scratch_bytes() at scratch + s·that (the host allocates one per range).
 */
export function topk_rows_f32(
  x: usize, R: i32, C: i32, k: i32, mode: i32, scratch: usize, outVal: usize, outIdx: usize,
  r0: i32, r1: i32,
): void {
  const slot = r0 / R;
  const hist = scratch + <usize>slot * ROW_SCRATCH_BYTES;
  const rowOut = <usize>k << 2;
  for (let r = r0 - slot * R; r < r1 - slot * R; r++) {
    topkRow(x, r * C, C, k, mode, hist, outVal + <usize>r * rowOut, outIdx + <usize>r * rowOut);
  }
}

/** The largest k for which a single-row top-k first tries topkByInsertion (no chunking needed). */
export function topk_small_k(): i32 {
  return SMALL_K;
}

/** Bytes of scratch per range that topk_rows_f32 needs. */
export function topk_rows_scratch_bytes(): i32 {
  return <i32>ROW_SCRATCH_BYTES;
}

/**
 * Histogram pass `pass` (0, 1, 2: digits of 11, 11, 10 key bits, most significant first) of a chunked top-k
 * over a long vector x[n], chunk c = [c·chunkLen, (c+1)·chunkLen). For chunks [c0, c1) it counts the digit
 * of the keys whose higher bits equal `prefix` (the digits fixed so far) into the 2048 u32 at
 * hist + c·select_hist_bytes(). The host merges the chunks' histograms to fix the next digit.
 */
export function select_hist_f32(
  x: usize, n: i32, chunkLen: i32, mode: i32, pass: i32, prefix: u32, hist: usize, c0: i32, c1: i32,
): void {
  for (let c = c0; c < c1; c++) {
    const start = c * chunkLen;
    const end = min(n, start + chunkLen);
    const h = hist + <usize>c * HIST_BYTES;
    const am = absMaskOf(mode);
    const fl = flipOf(mode);
    if (pass == 0) histTop(x, start, end, am, fl, h);
    else if (pass == 1) histRange(x, start, end, am, fl, PREFIX1, prefix, SHIFT2, DIGIT11, h);
    else histRange(x, start, end, am, fl, PREFIX2, prefix, 0, DIGIT10, h);
  }
}

/** Bytes of histogram scratch per chunk that select_hist_f32 needs. */
export function select_hist_bytes(): i32 {
  return <i32>HIST_BYTES;
}

/**
 * Compaction pass of a chunked top-k. plan holds 4 u32 per chunk: output offset, tie quota, output count
 * (the host's prefix sums), unused. Chunk c writes its keys > t and its first `quota` keys == t at its
 * offset, indices global and ascending.
 */
export function select_compact_f32(
  x: usize, n: i32, chunkLen: i32, mode: i32, t: u32, plan: usize, outVal: usize, outIdx: usize,
  c0: i32, c1: i32,
): void {
  for (let c = c0; c < c1; c++) {
    const start = c * chunkLen;
    const end = min(n, start + chunkLen);
    const p = plan + (<usize>c << 4);
    const at = <usize>load<u32>(p) << 2;
    compactRange(
      x, start, end, 0, absMaskOf(mode), flipOf(mode), t, load<u32>(p, 4), outVal + at, outIdx + at, load<u32>(p, 8),
    );
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
    const got = compactRange(
      x, start, end, start, absMaskOf(mode), 0, t, 0, outVal + at, outIdx + at, <u32>(end - start),
    );
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
