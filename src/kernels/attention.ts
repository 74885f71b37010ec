// Blocked causal attention forward with online softmax (FlashAttention-style) and a block mask.
// TypeScript twin: src/backend/reference/attention.ts attentionRef (plain masked softmax(QKᵀ·scale)·V).
//
// Layout: q, o [H, Tq, dp]; k, v [Hkv, kvStride, dp] of which positions [0, Tk) are read (kvStride = Tk for
// contiguous keys; a KV cache passes its capacity and is read in place), f32 row-major; dp is the head dim padded to a multiple of 4
// with zeros (the host pads, so padded lanes add 0 to every dot product). Query i sits at absolute position
// Tk − Tq + i (the last Tq of the Tk keys); causal masking keeps keys j ≤ that position. Head h reads kv
// head h / (H / Hkv) (grouped-query attention). mask (0 = dense) holds one byte per tile
// [H, ceil(Tq/B), ceil(Tk/B)]: nonzero = compute that query-block × key-block tile.
//
// Rows are processed in groups of 4 that share one kv head. When the kv group size H/Hkv is a multiple of 4
// (`heads4`, the host's choice) a group is 4 heads at one query position, so one pass over K and V serves 4
// heads (decode included); otherwise it is 4 consecutive positions of one head, and a block's last 1–3 rows
// run one at a time (rowStep). Work item w = u·nQB + qb with u the head (or head quad).
// For each computed key block, each group computes its scores S (4 rows × ≤ B keys, stored key-major so one
// vector holds a key's 4 rows), updates its running max m and sum l, and rescales its accumulator (the output
// rows themselves) by exp(m_old − m_new) before adding P·V. At the end o = acc / l; a row with no unmasked
// key has l = 0 and outputs zeros. Key blocks run in the outer loop so one block of K and V stays in L1
// while every row group of the work item uses it.

import { exp_f32x4, madd_f32x4 } from './_math';
import { hsum4 } from './_reduce';

/** Scratch of one thread: S [B][4] f32, then m and l [B][4] f32 (one pair per row group). */
function scratchBytes(B: i32): usize {
  return (<usize>B << 4) + (<usize>B << 5);
}

/** Bytes of per-thread scratch attention_f32 needs (the host allocates one per range). */
export function attention_scratch_bytes(B: i32): i32 {
  return <i32>scratchBytes(B);
}

/**
 * S[j − j0] = scale · [q0·k_j, q1·k_j, q2·k_j, q3·k_j] for keys j in [j0, j1), two keys at a time
 * (2 key loads + 1 query load + 8 accumulators per step: inside V8's 15 SIMD registers).
 */
function scoreTile(
  q0: usize, q1: usize, q2: usize, q3: usize, kb: usize, j0: i32, j1: i32, dp: i32, scale: f32, S: usize,
): void {
  const rowBytes = <usize>dp << 2;
  const sc = f32x4.splat(scale);
  let j = j0;
  for (; j + 2 <= j1; j += 2) {
    const k0 = kb + <usize>j * rowBytes;
    const k1 = k0 + rowBytes;
    let a00 = f32x4.splat(0), a10 = f32x4.splat(0), a20 = f32x4.splat(0), a30 = f32x4.splat(0);
    let a01 = f32x4.splat(0), a11 = f32x4.splat(0), a21 = f32x4.splat(0), a31 = f32x4.splat(0);
    for (let c: usize = 0; c < rowBytes; c += 16) {
      const kv0 = v128.load(k0 + c);
      const kv1 = v128.load(k1 + c);
      let qv = v128.load(q0 + c);
      a00 = madd_f32x4(qv, kv0, a00);
      a01 = madd_f32x4(qv, kv1, a01);
      qv = v128.load(q1 + c);
      a10 = madd_f32x4(qv, kv0, a10);
      a11 = madd_f32x4(qv, kv1, a11);
      qv = v128.load(q2 + c);
      a20 = madd_f32x4(qv, kv0, a20);
      a21 = madd_f32x4(qv, kv1, a21);
      qv = v128.load(q3 + c);
      a30 = madd_f32x4(qv, kv0, a30);
      a31 = madd_f32x4(qv, kv1, a31);
    }
    const s = S + (<usize>(j - j0) << 4);
    v128.store(s, f32x4.mul(hsum4(a00, a10, a20, a30), sc));
    v128.store(s, f32x4.mul(hsum4(a01, a11, a21, a31), sc), 16);
  }
  if (j < j1) {
    const k0 = kb + <usize>j * rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let c: usize = 0; c < rowBytes; c += 16) {
      const kv = v128.load(k0 + c);
      a0 = madd_f32x4(v128.load(q0 + c), kv, a0);
      a1 = madd_f32x4(v128.load(q1 + c), kv, a1);
      a2 = madd_f32x4(v128.load(q2 + c), kv, a2);
      a3 = madd_f32x4(v128.load(q3 + c), kv, a3);
    }
    v128.store(S + (<usize>(j - j0) << 4), f32x4.mul(hsum4(a0, a1, a2, a3), sc));
  }
}

/**
 * acc_t = alpha_t · acc_t + Σ_j P[j][t] · v_j for the 4 rows t (P = S after the exp, key-major).
 * Eight columns at a time (8 accumulators + 2 value loads + P + a splat), then four.
 */
function valueTile(
  o0: usize, o1: usize, o2: usize, o3: usize, vb: usize, j0: i32, j1: i32, dp: i32, alpha: v128, P: usize,
): void {
  const rowBytes = <usize>dp << 2;
  const al0 = v128.shuffle<f32>(alpha, alpha, 0, 0, 0, 0);
  const al1 = v128.shuffle<f32>(alpha, alpha, 1, 1, 1, 1);
  const al2 = v128.shuffle<f32>(alpha, alpha, 2, 2, 2, 2);
  const al3 = v128.shuffle<f32>(alpha, alpha, 3, 3, 3, 3);
  let c: usize = 0;
  for (; c + 32 <= rowBytes; c += 32) {
    let a0 = f32x4.mul(v128.load(o0 + c), al0), b0 = f32x4.mul(v128.load(o0 + c, 16), al0);
    let a1 = f32x4.mul(v128.load(o1 + c), al1), b1 = f32x4.mul(v128.load(o1 + c, 16), al1);
    let a2 = f32x4.mul(v128.load(o2 + c), al2), b2 = f32x4.mul(v128.load(o2 + c, 16), al2);
    let a3 = f32x4.mul(v128.load(o3 + c), al3), b3 = f32x4.mul(v128.load(o3 + c, 16), al3);
    let vp = vb + <usize>j0 * rowBytes + c;
    let pp = P;
    for (let j = j0; j < j1; j++) {
      const va = v128.load(vp);
      const vc = v128.load(vp, 16);
      const p = v128.load(pp);
      let pt = v128.shuffle<f32>(p, p, 0, 0, 0, 0);
      a0 = madd_f32x4(pt, va, a0);
      b0 = madd_f32x4(pt, vc, b0);
      pt = v128.shuffle<f32>(p, p, 1, 1, 1, 1);
      a1 = madd_f32x4(pt, va, a1);
      b1 = madd_f32x4(pt, vc, b1);
      pt = v128.shuffle<f32>(p, p, 2, 2, 2, 2);
      a2 = madd_f32x4(pt, va, a2);
      b2 = madd_f32x4(pt, vc, b2);
      pt = v128.shuffle<f32>(p, p, 3, 3, 3, 3);
      a3 = madd_f32x4(pt, va, a3);
      b3 = madd_f32x4(pt, vc, b3);
      vp += rowBytes;
      pp += 16;
    }
    v128.store(o0 + c, a0);
    v128.store(o0 + c, b0, 16);
    v128.store(o1 + c, a1);
    v128.store(o1 + c, b1, 16);
    v128.store(o2 + c, a2);
    v128.store(o2 + c, b2, 16);
    v128.store(o3 + c, a3);
    v128.store(o3 + c, b3, 16);
  }
  if (c < rowBytes) {
    let a0 = f32x4.mul(v128.load(o0 + c), al0);
    let a1 = f32x4.mul(v128.load(o1 + c), al1);
    let a2 = f32x4.mul(v128.load(o2 + c), al2);
    let a3 = f32x4.mul(v128.load(o3 + c), al3);
    let vp = vb + <usize>j0 * rowBytes + c;
    let pp = P;
    for (let j = j0; j < j1; j++) {
      const va = v128.load(vp);
      const p = v128.load(pp);
      a0 = madd_f32x4(v128.shuffle<f32>(p, p, 0, 0, 0, 0), va, a0);
      a1 = madd_f32x4(v128.shuffle<f32>(p, p, 1, 1, 1, 1), va, a1);
      a2 = madd_f32x4(v128.shuffle<f32>(p, p, 2, 2, 2, 2), va, a2);
      a3 = madd_f32x4(v128.shuffle<f32>(p, p, 3, 3, 3, 3), va, a3);
      vp += rowBytes;
      pp += 16;
    }
    v128.store(o0 + c, a0);
    v128.store(o1 + c, a1);
    v128.store(o2 + c, a2);
    v128.store(o3 + c, a3);
  }
}

/** S entries of keys j > pos_t become −∞ (causal mask), for keys [from, j1) of a tile starting at j0. */
function maskFuture(S: usize, j0: i32, from: i32, j1: i32, pos: v128): void {
  const ninf = f32x4.splat(-Infinity);
  for (let j = from; j < j1; j++) {
    const s = S + (<usize>(j - j0) << 4);
    v128.store(s, v128.bitselect(ninf, v128.load(s), i32x4.gt_s(i32x4.splat(j), pos)));
  }
}

/**
 * Online-softmax step for one row group over the n scores in S: m ← max(m, max S), P = exp(S − m) in place,
 * l ← exp(m_old − m)·l + Σ P. Returns the rescale factor exp(m_old − m) for the accumulator. A row whose
 * scores are all −∞ so far keeps m = −∞ and gets P = 0 (exp is taken against 0 instead of −∞).
 */
function onlineSoftmax(S: usize, n: i32, ml: usize): v128 {
  const ninf = f32x4.splat(-Infinity);
  let mb = ninf;
  for (let j = 0; j < n; j++) mb = f32x4.max(mb, v128.load(S + (<usize>j << 4)));
  const mOld = v128.load(ml);
  const mNew = f32x4.max(mOld, mb);
  const mSafe = v128.andnot(mNew, f32x4.eq(mNew, ninf));
  let sum = f32x4.splat(0);
  for (let j = 0; j < n; j++) {
    const s = S + (<usize>j << 4);
    const p = exp_f32x4(f32x4.sub(v128.load(s), mSafe));
    v128.store(s, p);
    sum = f32x4.add(sum, p);
  }
  const alpha = exp_f32x4(f32x4.sub(mOld, mSafe));
  v128.store(ml, mNew);
  v128.store(ml, madd_f32x4(alpha, v128.load(ml, 16), sum), 16);
  return alpha;
}

/**
 * One row group against keys [j0, j1) of one key block: scores, causal and per-lane masks, online softmax,
 * then P·V into the 4 accumulator rows o0..o3. pos holds the rows' absolute positions; lanes set in `off`
 * (rows whose head has this tile masked out) get no keys from it.
 */
function groupStep(
  q0: usize, q1: usize, q2: usize, q3: usize, o0: usize, o1: usize, o2: usize, o3: usize, pos: v128,
  off: v128, kh: usize, vh: usize, j0: i32, j1: i32, dp: i32, scale: f32, causal: bool, S: usize, ml: usize,
): void {
  const posMin = min(min(i32x4.extract_lane(pos, 0), i32x4.extract_lane(pos, 1)), min(i32x4.extract_lane(pos, 2), i32x4.extract_lane(pos, 3)));
  const posMax = max(max(i32x4.extract_lane(pos, 0), i32x4.extract_lane(pos, 1)), max(i32x4.extract_lane(pos, 2), i32x4.extract_lane(pos, 3)));
  const jEnd = causal ? min(j1, posMax + 1) : j1;
  if (jEnd <= j0) return;
  scoreTile(q0, q1, q2, q3, kh, j0, jEnd, dp, scale, S);
  if (causal && jEnd - 1 > posMin) maskFuture(S, j0, max(j0, posMin + 1), jEnd, pos);
  if (v128.any_true(off)) {
    const ninf = f32x4.splat(-Infinity);
    for (let j = 0; j < jEnd - j0; j++) {
      const s = S + (<usize>j << 4);
      v128.store(s, v128.bitselect(ninf, v128.load(s), off));
    }
  }
  const alpha = onlineSoftmax(S, jEnd - j0, ml);
  valueTile(o0, o1, o2, o3, vh, j0, jEnd, dp, alpha, S);
}

/** S1[j − j0] = scale · q·k_j for one row and keys [j0, j1), four keys at a time. */
function scoreRow(q: usize, kb: usize, j0: i32, j1: i32, dp: i32, scale: f32, S1: usize): void {
  const rowBytes = <usize>dp << 2;
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    const k0 = kb + <usize>j * rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let c: usize = 0; c < rowBytes; c += 16) {
      const qv = v128.load(q + c);
      a0 = madd_f32x4(qv, v128.load(k0 + c), a0);
      a1 = madd_f32x4(qv, v128.load(k0 + rowBytes + c), a1);
      a2 = madd_f32x4(qv, v128.load(k0 + 2 * rowBytes + c), a2);
      a3 = madd_f32x4(qv, v128.load(k0 + 3 * rowBytes + c), a3);
    }
    v128.store(S1 + (<usize>(j - j0) << 2), f32x4.mul(hsum4(a0, a1, a2, a3), f32x4.splat(scale)));
  }
  for (; j < j1; j++) {
    const k0 = kb + <usize>j * rowBytes;
    let a = f32x4.splat(0);
    for (let c: usize = 0; c < rowBytes; c += 16) a = madd_f32x4(v128.load(q + c), v128.load(k0 + c), a);
    const t = hsum4(a, a, a, a);
    store<f32>(S1 + (<usize>(j - j0) << 2), f32x4.extract_lane(t, 0) * scale);
  }
}

/**
 * One row's online-softmax step over n contiguous scores S1 (the rules of onlineSoftmax): m at ml, l at
 * ml + 16 (a lane of a row group's slot). Returns the accumulator's rescale factor.
 */
function onlineSoftmaxRow(S1: usize, n: i32, ml: usize): f32 {
  let mv = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= n; j += 4) mv = f32x4.max(mv, v128.load(S1 + (<usize>j << 2)));
  let mb = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (; j < n; j++) mb = max(mb, load<f32>(S1 + (<usize>j << 2)));
  const mOld = load<f32>(ml);
  const mNew = max(mOld, mb);
  const mSafe: f32 = mNew == -Infinity ? 0 : mNew;
  const ms = f32x4.splat(mSafe);
  let sv = f32x4.splat(0);
  for (j = 0; j + 4 <= n; j += 4) {
    const p = exp_f32x4(f32x4.sub(v128.load(S1 + (<usize>j << 2)), ms));
    v128.store(S1 + (<usize>j << 2), p);
    sv = f32x4.add(sv, p);
  }
  let sum = f32x4.extract_lane(sv, 0) + f32x4.extract_lane(sv, 1) + f32x4.extract_lane(sv, 2) + f32x4.extract_lane(sv, 3);
  for (; j < n; j++) {
    const p = f32x4.extract_lane(exp_f32x4(f32x4.splat(load<f32>(S1 + (<usize>j << 2)) - mSafe)), 0);
    store<f32>(S1 + (<usize>j << 2), p);
    sum += p;
  }
  const alpha = f32x4.extract_lane(exp_f32x4(f32x4.splat(mOld - mSafe)), 0);
  store<f32>(ml, mNew);
  store<f32>(ml, alpha * load<f32>(ml, 16) + sum, 16);
  return alpha;
}

/** acc = alpha·acc + Σ_j P1[j]·v_j for one row: 16 columns at a time (4 accumulators), then 4. */
function valueRow(o: usize, vb: usize, j0: i32, j1: i32, dp: i32, alpha: f32, P1: usize): void {
  const rowBytes = <usize>dp << 2;
  const al = f32x4.splat(alpha);
  let c: usize = 0;
  for (; c + 64 <= rowBytes; c += 64) {
    let a0 = f32x4.mul(v128.load(o + c), al), a1 = f32x4.mul(v128.load(o + c, 16), al);
    let a2 = f32x4.mul(v128.load(o + c, 32), al), a3 = f32x4.mul(v128.load(o + c, 48), al);
    let vp = vb + <usize>j0 * rowBytes + c;
    for (let j: usize = 0; j < <usize>(j1 - j0); j++) {
      const p = v128.load32_splat(P1 + (j << 2));
      a0 = madd_f32x4(p, v128.load(vp), a0);
      a1 = madd_f32x4(p, v128.load(vp, 16), a1);
      a2 = madd_f32x4(p, v128.load(vp, 32), a2);
      a3 = madd_f32x4(p, v128.load(vp, 48), a3);
      vp += rowBytes;
    }
    v128.store(o + c, a0);
    v128.store(o + c, a1, 16);
    v128.store(o + c, a2, 32);
    v128.store(o + c, a3, 48);
  }
  for (; c < rowBytes; c += 16) {
    let a = f32x4.mul(v128.load(o + c), al);
    let vp = vb + <usize>j0 * rowBytes + c;
    for (let j: usize = 0; j < <usize>(j1 - j0); j++) {
      a = madd_f32x4(v128.load32_splat(P1 + (j << 2)), v128.load(vp), a);
      vp += rowBytes;
    }
    v128.store(o + c, a);
  }
}

/**
 * A single row at absolute position pos against keys [j0, j1) (rows that do not fill a group of 4, e.g. a
 * decode step without 4 heads per kv head). Causal masking is just the key range. ml: the row's m (l at +16).
 */
function rowStep(
  q: usize, o: usize, pos: i32, kh: usize, vh: usize, j0: i32, j1: i32, dp: i32, scale: f32, causal: bool,
  S1: usize, ml: usize,
): void {
  const jEnd = causal ? min(j1, pos + 1) : j1;
  if (jEnd <= j0) return;
  scoreRow(q, kh, j0, jEnd, dp, scale, S1);
  const alpha = onlineSoftmaxRow(S1, jEnd - j0, ml);
  valueRow(o, vh, j0, jEnd, dp, alpha, S1);
}

/** o row *= 1/l (zeros where l = 0: the row saw no unmasked key). */
// @ts-ignore: decorator
@inline function normalizeRow(row: usize, l: f32, dp: i32): void {
  const inv = f32x4.splat(l == 0 ? 0 : 1 / l);
  for (let c: usize = 0; c < <usize>dp << 2; c += 16) v128.store(row + c, f32x4.mul(v128.load(row + c), inv));
}

/**
 * o = blocked attention for work items [r0, r1) (see the header; heads4 ≠ 0 groups 4 heads per row group and
 * needs H/Hkv to be a multiple of 4). Items encode the thread's scratch slot: r = slot·items + w with
 * items = (heads4 ? H/4 : H)·ceil(Tq/B); slot s owns attention_scratch_bytes(B) at scratch + s·that.
 * lse (0 = not wanted): [H, Tq] f32 receives each row's log Σ exp(scores) = m + log l (−∞ when l = 0), the
 * statistic the backward (attention-backward.ts) recomputes probabilities from.
 */
export function attention_f32(
  q: usize, k: usize, v: usize, o: usize, H: i32, Hkv: i32, Tq: i32, Tk: i32, kvStride: i32, dp: i32, B: i32,
  mask: usize, causal: i32, heads4: i32, scale: f32, scratch: usize, lse: usize, r0: i32, r1: i32,
): void {
  const nQB = (Tq + B - 1) / B;
  const nKB = (Tk + B - 1) / B;
  const lanes = heads4 ? 4 : 1; // heads per work item
  const items = (H / lanes) * nQB;
  const slot = r0 / items;
  const S = scratch + <usize>slot * scratchBytes(B);
  const ML = S + (<usize>B << 4); // per row group: m [4] then l [4]
  const rowBytes = <usize>dp << 2;
  const headBytes = <usize>Tq * rowBytes;
  const group = H / Hkv;
  const off = Tk - Tq;
  const ninf = f32x4.splat(-Infinity);
  for (let w = r0 - slot * items; w < r1 - slot * items; w++) {
    const h0 = (w / nQB) * lanes; // first head of the item
    const qb = w % nQB;
    const i0 = qb * B;
    const i1 = min(Tq, i0 + B);
    const last = i1 - 1;
    const qh = q + <usize>h0 * headBytes;
    const oh = o + <usize>h0 * headBytes;
    const kh = k + <usize>(h0 / group) * <usize>kvStride * rowBytes;
    const vh = v + <usize>(h0 / group) * <usize>kvStride * rowBytes;
    for (let t = 0; t < lanes; t++) memory.fill(oh + <usize>t * headBytes + <usize>i0 * rowBytes, 0, <usize>(i1 - i0) * rowBytes);
    const groups = heads4 ? i1 - i0 : (i1 - i0 + 3) >> 2;
    for (let g = 0; g < groups; g++) {
      v128.store(ML + (<usize>g << 5), ninf);
      v128.store(ML + (<usize>g << 5), f32x4.splat(0), 16);
    }
    for (let kb = 0; kb < nKB; kb++) {
      const j0 = kb * B;
      if (causal != 0 && j0 > off + last) break;
      // Lanes (heads) whose tile is masked out; in position groups all 4 lanes share one head's byte.
      let laneOff = i32x4.splat(0);
      if (mask != 0) {
        const tile = mask + (<usize>(h0 * nQB + qb) * <usize>nKB) + <usize>kb;
        if (heads4) {
          const stride = <usize>nQB * <usize>nKB;
          laneOff = i32x4(
            -<i32>(load<u8>(tile) == 0), -<i32>(load<u8>(tile + stride) == 0),
            -<i32>(load<u8>(tile + 2 * stride) == 0), -<i32>(load<u8>(tile + 3 * stride) == 0),
          );
          if (i32x4.all_true(laneOff)) continue;
        } else if (load<u8>(tile) == 0) continue;
      }
      const j1 = min(Tk, j0 + B);
      for (let g = 0; g < groups; g++) {
        const ml = ML + (<usize>g << 5);
        if (heads4) {
          // Row group = heads h0..h0+3 at position i.
          const i = i0 + g;
          const qi = qh + <usize>i * rowBytes;
          const oi = oh + <usize>i * rowBytes;
          groupStep(
            qi, qi + headBytes, qi + 2 * headBytes, qi + 3 * headBytes,
            oi, oi + headBytes, oi + 2 * headBytes, oi + 3 * headBytes,
            i32x4.splat(off + i), laneOff, kh, vh, j0, j1, dp, scale, causal != 0, S, ml,
          );
        } else if (i0 + 4 * g + 3 <= last) {
          // Row group = positions i..i+3 of head h0.
          const i = i0 + 4 * g;
          const qi = qh + <usize>i * rowBytes;
          const oi = oh + <usize>i * rowBytes;
          groupStep(
            qi, qi + rowBytes, qi + 2 * rowBytes, qi + 3 * rowBytes,
            oi, oi + rowBytes, oi + 2 * rowBytes, oi + 3 * rowBytes,
            i32x4(off + i, off + i + 1, off + i + 2, off + i + 3), laneOff, kh, vh, j0, j1, dp, scale, causal != 0, S, ml,
          );
        } else {
          // The block's last 1–3 rows, one at a time (lane r of the group's m and l).
          for (let i = i0 + 4 * g; i <= last; i++) {
            const r = i - i0 - 4 * g;
            rowStep(
              qh + <usize>i * rowBytes, oh + <usize>i * rowBytes, off + i, kh, vh, j0, j1, dp, scale, causal != 0,
              S, ml + (<usize>r << 2),
            );
          }
        }
      }
    }
    // o = acc / l.
    for (let i = i0; i < i1; i++) {
      for (let t = 0; t < lanes; t++) {
        // heads4: group i − i0, lane t; positions: group (i − i0)/4, lane (i − i0)%4.
        const g = heads4 ? i - i0 : (i - i0) >> 2;
        const lane = heads4 ? t : (i - i0) & 3;
        const l = load<f32>(ML + (<usize>g << 5) + 16 + (<usize>lane << 2));
        normalizeRow(oh + <usize>t * headBytes + <usize>i * rowBytes, l, dp);
        if (lse != 0) {
          const m = load<f32>(ML + (<usize>g << 5) + (<usize>lane << 2));
          store<f32>(lse + ((<usize>(h0 + t) * <usize>Tq + <usize>i) << 2), l == 0 ? -Infinity : m + Mathf.log(l));
        }
      }
    }
  }
}
