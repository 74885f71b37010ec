// Blocked causal attention forward with online softmax (FlashAttention-style) and a block mask.
// TypeScript twin: src/backend/reference/attention.ts attentionRef (plain masked softmax(QKᵀ·scale)·V).
//
// Layout: q, o [H, Tq, dp]; k, v [Hkv, Tk, dp], f32 row-major; dp is the head dim padded to a multiple of 4
// with zeros (the host pads, so padded lanes add 0 to every dot product). Query i sits at absolute position
// Tk − Tq + i (the last Tq of the Tk keys); causal masking keeps keys j ≤ that position. Head h reads kv
// head h / (H / Hkv) (grouped-query attention). mask (0 = dense) holds one byte per tile
// [H, ceil(Tq/B), ceil(Tk/B)]: nonzero = compute that query-block × key-block tile.
//
// Work item w = h·nQB + qb (one head's query block). For each computed key block, each group of 4 query rows
// computes its scores S (4 rows × ≤ B keys, stored key-major so one vector holds a key's 4 rows), updates its
// running max m and sum l, and rescales its accumulator (the output rows themselves) by exp(m_old − m_new)
// before adding P·V. At the end o = acc / l; a row with no unmasked key has l = 0 and outputs zeros.
// Key blocks run in the outer loop so one block of K and V stays in L1 while every row group uses it.

import { exp_f32x4, madd_f32x4 } from './_math';

/** Scratch of one thread: S [B][4] f32, then m and l [ceil(B/4)][4] f32, then 4 spare rows of dp f32. */
function scratchBytes(B: i32, dp: i32): usize {
  const groups = <usize>((B + 3) >> 2);
  return (<usize>B << 4) + (groups << 5) + (<usize>dp << 4);
}

/** Bytes of per-thread scratch attention_f32 needs (the host allocates one per range). */
export function attention_scratch_bytes(B: i32, dp: i32): i32 {
  return <i32>scratchBytes(B, dp);
}

/** [Σa, Σb, Σc, Σd]: four horizontal sums in one vector. */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
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
 * o = blocked attention for work items [r0, r1) (see the header). Items encode the thread's scratch slot:
 * r = slot·items + w with items = H·ceil(Tq/B); slot s owns attention_scratch_bytes(B, dp) at scratch + s·that.
 */
export function attention_f32(
  q: usize, k: usize, v: usize, o: usize, H: i32, Hkv: i32, Tq: i32, Tk: i32, dp: i32, B: i32,
  mask: usize, causal: i32, scale: f32, scratch: usize, r0: i32, r1: i32,
): void {
  const nQB = (Tq + B - 1) / B;
  const nKB = (Tk + B - 1) / B;
  const items = H * nQB;
  const slot = r0 / items;
  const S = scratch + <usize>slot * scratchBytes(B, dp);
  const ML = S + (<usize>B << 4); // per row group: m [4] then l [4]
  const spare = ML + (<usize>((B + 3) >> 2) << 5);
  const rowBytes = <usize>dp << 2;
  const group = H / Hkv;
  const off = Tk - Tq;
  for (let w = r0 - slot * items; w < r1 - slot * items; w++) {
    const h = w / nQB;
    const qb = w - h * nQB;
    const i0 = qb * B;
    const i1 = min(Tq, i0 + B);
    const qh = q + <usize>h * <usize>Tq * rowBytes;
    const oh = o + <usize>h * <usize>Tq * rowBytes;
    const kh = k + <usize>(h / group) * <usize>Tk * rowBytes;
    const vh = v + <usize>(h / group) * <usize>Tk * rowBytes;
    memory.fill(oh + <usize>i0 * rowBytes, 0, <usize>(i1 - i0) * rowBytes);
    for (let g = 0; g < i1 - i0; g += 4) {
      v128.store(ML + (<usize>g << 3), f32x4.splat(-Infinity));
      v128.store(ML + (<usize>g << 3), f32x4.splat(0), 16);
    }
    const tiles = mask + <usize>w * <usize>nKB;
    for (let kb = 0; kb < nKB; kb++) {
      const j0 = kb * B;
      if (causal != 0 && j0 > off + i1 - 1) break;
      if (mask != 0 && load<u8>(tiles + <usize>kb) == 0) continue;
      const j1 = min(Tk, j0 + B);
      for (let i = i0; i < i1; i += 4) {
        // Rows past the block's end repeat its last row and accumulate into spare rows (never stored).
        const last = i1 - 1;
        const posMin = off + i;
        const pos = i32x4(posMin, off + min(i + 1, last), off + min(i + 2, last), off + min(i + 3, last));
        const jEnd = causal != 0 ? min(j1, i32x4.extract_lane(pos, 3) + 1) : j1;
        if (jEnd <= j0) continue;
        scoreTile(
          qh + <usize>i * rowBytes, qh + <usize>min(i + 1, last) * rowBytes,
          qh + <usize>min(i + 2, last) * rowBytes, qh + <usize>min(i + 3, last) * rowBytes,
          kh, j0, jEnd, dp, scale, S,
        );
        if (causal != 0 && jEnd - 1 > posMin) maskFuture(S, j0, max(j0, posMin + 1), jEnd, pos);
        const alpha = onlineSoftmax(S, jEnd - j0, ML + (<usize>(i - i0) << 3));
        valueTile(
          oh + <usize>i * rowBytes,
          i + 1 <= last ? oh + <usize>(i + 1) * rowBytes : spare,
          i + 2 <= last ? oh + <usize>(i + 2) * rowBytes : spare + rowBytes,
          i + 3 <= last ? oh + <usize>(i + 3) * rowBytes : spare + 2 * rowBytes,
          vh, j0, jEnd, dp, alpha, S,
        );
      }
    }
    // o = acc / l (zeros where l = 0: the row saw no unmasked key).
    for (let i = i0; i < i1; i++) {
      const l = load<f32>(ML + (<usize>((i - i0) & ~3) << 3) + 16 + (<usize>((i - i0) & 3) << 2));
      const inv = f32x4.splat(l == 0 ? 0 : 1 / l);
      const row = oh + <usize>i * rowBytes;
      for (let c: usize = 0; c < rowBytes; c += 16) v128.store(row + c, f32x4.mul(v128.load(row + c), inv));
    }
  }
}
