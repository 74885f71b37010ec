// Decode attention: the few query rows of a decode step (Tq ≤ 4 per head) against a KV cache read in place, each
// kv head's K and V streamed once for all the query heads of its group. K and V are f32 (decode_attention_f32) or
// half precision (decode_attention_bf16, decode_attention_f16: 2 bytes per element, widened to f32 as they are read,
// see _half.ts); one body serves the three, compiled once per element type.
// TypeScript twin: src/backend/reference/decode-attention.ts decodeAttentionRef.
//
// Layout (as attention.ts): q, o [H, Tq, dp]; k, v [Hkv, kvStride, dp] of which positions [0, Tk) are read; dp is
// the head dim padded to a multiple of 4 with zeros. Head h reads kv head h / (H/Hkv), so the G = (H/Hkv)·Tq
// query rows of kv head u are rows [u·G, (u+1)·G) of q. Row r of a group is position i = r % Tq, at absolute
// position Tk − Tq + i; causal masking keeps keys j ≤ that position.
//
// Work item w = u·chunks + c: kv head u over the keys [c·C, min(Tk, (c+1)·C)), C = chunk_keys(Tk, chunks). The
// group's rows go in quads (rows 4t … 4t + 3, the last quad possibly short). The keys go in blocks of BLOCK_KEYS
// (64), and for each block, each quad:
//   1. S[j] = scale · q_r·k_j for the R ≤ 4 rows, key-major in the thread's scratch (one vector = a key's 4 rows),
//      KS keys per step (3 for R = 3, 2 for R = 4), so K is read once and in order; causal masking sets S = −∞
//      past each row's position (only the last Tq − 1 keys);
//   2. online softmax per lane: m' = max(m, max_j S), S ← exp(S − m'), l ← l·e^(m − m') + Σ_j S, and when a
//      lane's maximum grew, its accumulator row is scaled by e^(m − m') (a row with no key keeps m = −∞, l = 0);
//   3. acc_r += S_jr·v_j, two keys per step with the accumulator rows in L1, so V is read once and in order.
// Reading K and V in address order matters: it lets the hardware prefetcher overlap the stream with the
// arithmetic. Blocks (instead of all scores, then all of P·V) keep the scores in L1 and put the softmax's
// arithmetic between stretches of K and V instead of between two 512 KB streams. The half scores sum q_e·k_e and
// q_o·k_o apart from the accumulator (a += q_o·k_o + q_e·k_e): one dependent add per 16 bytes of K, not two
// multiply-adds (the 2-deep chain held the FMA pipes at ≈ 1.5 per cycle).
// chunks = 1: o_r = acc_r / l_r (0 when l = 0). chunks > 1 (keys split between threads): acc, m and l go to the
// partials and decode_attention_merge_f32 combines an item's chunks, o = Σ_c e^(m_c − M)·acc_c / Σ_c e^(m_c − M)·l_c
// with M = max_c m_c (flash-decoding).
//
// Where the time goes (measured, 2-core Zen 5 VM, Node 20 relaxed SIMD; SmolLM-135M shapes: 9 heads over 3 kv
// heads, d = 64, G = 3, one call = 3 kv heads × 2048 keys, f32 K+V 3 MiB): the arithmetic floor is 2 × 3 × 64 × 2048
// × 3 / 4 ≈ 590k 4-lane multiply-adds per call; 8.6 G/s is the measured FMA peak on one thread (12 independent
// chains), so ≈ 69 µs. Warm (the call's K and V in L2/L3) the kernel takes ≈ 105–112 µs: scores ≈ 40 (7.4 G FMA/s),
// softmax ≈ 19 (exp of 2048 4-lane vectors per kv head, a lane idle at G = 3), P·V ≈ 50 (≈ 6 G/s: 2 V loads, 3
// accumulator loads and 3 stores per 6 multiply-adds). Cold (40 copies cycled, from DRAM) it takes ≈ 150–160 µs
// against a plain 16-byte-load stream over the same bytes of ≈ 112 µs in the same process (28 GB/s with the
// machine shared): the arithmetic and the stream overlap only in part, i.e. this kernel is neither at its
// compute floor nor at the memory rate. bf16 (1.5 MiB): ≈ 120 µs warm, ≈ 130 µs cold: compute-bound.
// Tried and dropped (A/B in one process): accumulators in registers over 12- or 8-column panels of V (warm
// 112 → 105 µs, cold 146 → 226 µs: the strided first pass over each block's V stops the prefetcher); 3 keys per
// P·V step (warm −8%, cold +55%); one load per 4 KB page of the next block's K and V ahead of it (cold +40%,
// bf16 +10%); blocks of 128 or 256 keys (cold +15–25%); P·V as acc + (p_b·y + p_a·x) (bf16 −5%).
//
// Half K and V: dp is a multiple of 8, and every 8 columns of the q, o and partial rows are stored even columns
// first (q0 q2 q4 q6 q1 q3 q5 q7; the host permutes q and un-permutes o). 16 bytes of a K or V row are 8 halves,
// whose even elements widen with one shift and odd ones with one mask (bf16), so they meet q's and the
// accumulators' even and odd vectors without a shuffle. The scores, softmax and merge do not see the order.

import { ELEM_BF16, ELEM_F16, ELEM_F32, evenHalves, oddHalves } from './_half';
import { exp_f32x4, madd_f32x4 } from './_math';
import { hsum4 } from './_reduce';

/** Keys per chunk when Tk keys are split into `chunks`: ⌈Tk / chunks⌉ rounded up to a multiple of 4. */
export function chunk_keys(Tk: i32, chunks: i32): i32 {
  return (((Tk + chunks - 1) / chunks + 3) >> 2) << 2;
}

/** Keys per block: one block's K (then V) rows are scored (then accumulated) before the next block's are read. */
const BLOCK_KEYS: i32 = 64;

/**
 * Bytes of one thread's scratch: per quad of rows, a block's key-major score vectors, then m [4] and l [4]; rounded
 * up to whole 64-byte lines, so one thread's m and l (rewritten every block) never share a line with the next
 * thread's scores.
 */
export function decode_attention_scratch_bytes(G: i32): i32 {
  return (((G + 3) >> 2) * (BLOCK_KEYS * 16 + 32) + 63) & ~63;
}

/**
 * S[j − j0] = scale · [q_0·k_j, …, q_{R−1}·k_j] (lanes ≥ R hold 0) for the R ≤ 4 rows at q, q + rowBytes, …
 * and keys [j0, j1), KS keys per step, so K is read once and in order. KS·R multiply-add chains: a chain takes
 * one multiply-add per 16 bytes and the multiply-add's latency is 4 cycles, so 8 chains keep both FMA pipes busy
 * (2 keys × 3 rows, 6 chains, ran at 1.5 per cycle); KS key loads, R query loads and KS·R accumulators stay
 * within V8's 15 SIMD registers. R and KS are constants at each inlined call, so the unused code is dropped.
 */
// @ts-ignore: decorator
@inline function scoreQuadF32(R: i32, KS: i32, q: usize, kb: usize, j0: i32, j1: i32, rowBytes: usize, sc: v128, S: usize): void {
  const qEnd = q + rowBytes;
  let j = j0;
  for (; j + KS <= j1; j += KS) {
    const kj = kb + <usize>j * rowBytes;
    let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
    let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
    let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a22 = f32x4.splat(0), a23 = f32x4.splat(0);
    let a30 = f32x4.splat(0), a31 = f32x4.splat(0), a32 = f32x4.splat(0), a33 = f32x4.splat(0);
    for (let qp = q, kp = kj; qp < qEnd; qp += 16, kp += 16) {
      const x0 = v128.load(kp);
      const x1 = KS > 1 ? v128.load(kp + 1 * rowBytes) : x0;
      const x2 = KS > 2 ? v128.load(kp + 2 * rowBytes) : x0;
      const x3 = KS > 3 ? v128.load(kp + 3 * rowBytes) : x0;
      { const qv = v128.load(qp + 0 * rowBytes); a00 = madd_f32x4(qv, x0, a00); if (KS > 1) a10 = madd_f32x4(qv, x1, a10); if (KS > 2) a20 = madd_f32x4(qv, x2, a20); if (KS > 3) a30 = madd_f32x4(qv, x3, a30); }
      if (R > 1) { const qv = v128.load(qp + 1 * rowBytes); a01 = madd_f32x4(qv, x0, a01); if (KS > 1) a11 = madd_f32x4(qv, x1, a11); if (KS > 2) a21 = madd_f32x4(qv, x2, a21); if (KS > 3) a31 = madd_f32x4(qv, x3, a31); }
      if (R > 2) { const qv = v128.load(qp + 2 * rowBytes); a02 = madd_f32x4(qv, x0, a02); if (KS > 1) a12 = madd_f32x4(qv, x1, a12); if (KS > 2) a22 = madd_f32x4(qv, x2, a22); if (KS > 3) a32 = madd_f32x4(qv, x3, a32); }
      if (R > 3) { const qv = v128.load(qp + 3 * rowBytes); a03 = madd_f32x4(qv, x0, a03); if (KS > 1) a13 = madd_f32x4(qv, x1, a13); if (KS > 2) a23 = madd_f32x4(qv, x2, a23); if (KS > 3) a33 = madd_f32x4(qv, x3, a33); }
    }
    const s = S + (<usize>(j - j0) << 4);
    v128.store(s, f32x4.mul(hsum4(a00, a01, a02, a03), sc), 0);
    if (KS > 1) v128.store(s, f32x4.mul(hsum4(a10, a11, a12, a13), sc), 16);
    if (KS > 2) v128.store(s, f32x4.mul(hsum4(a20, a21, a22, a23), sc), 32);
    if (KS > 3) v128.store(s, f32x4.mul(hsum4(a30, a31, a32, a33), sc), 48);
  }
  for (; j < j1; j++) {
    const kj = kb + <usize>j * rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let c: usize = 0; c < rowBytes; c += 16) {
      const kv = v128.load(kj + c);
      a0 = madd_f32x4(v128.load(q + c), kv, a0);
      if (R > 1) a1 = madd_f32x4(v128.load(q + rowBytes + c), kv, a1);
      if (R > 2) a2 = madd_f32x4(v128.load(q + 2 * rowBytes + c), kv, a2);
      if (R > 3) a3 = madd_f32x4(v128.load(q + 3 * rowBytes + c), kv, a3);
    }
    v128.store(S + (<usize>(j - j0) << 4), f32x4.mul(hsum4(a0, a1, a2, a3), sc));
  }
}

/**
 * scoreQuadF32 for half K rows of kRow bytes (8 halves per 16 bytes) and q rows in the even-then-odd order of the
 * header: per 16 bytes of two keys, their even and odd elements widened, times q's even and odd vectors.
 */
// @ts-ignore: decorator
@inline function scoreQuadHalf(
  elem: i32, R: i32, q: usize, kb: usize, kRow: usize, j0: i32, j1: i32, rowBytes: usize, sc: v128, S: usize,
): void {
  const qEnd = q + rowBytes;
  let j = j0;
  for (; j + 2 <= j1; j += 2) {
    const kj = kb + <usize>j * kRow;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let qp = q, kp = kj; qp < qEnd; qp += 32, kp += 16) {
      const x = v128.load(kp);
      const y = v128.load(kp + kRow);
      const xe = evenHalves(x, elem, true), xo = oddHalves(x, elem, true);
      const ye = evenHalves(y, elem, true), yo = oddHalves(y, elem, true);
      let qe = v128.load(qp), qo = v128.load(qp, 16);
      a0 = f32x4.add(a0, madd_f32x4(qo, xo, f32x4.mul(qe, xe)));
      b0 = f32x4.add(b0, madd_f32x4(qo, yo, f32x4.mul(qe, ye)));
      if (R > 1) {
        qe = v128.load(qp + rowBytes); qo = v128.load(qp + rowBytes, 16);
        a1 = f32x4.add(a1, madd_f32x4(qo, xo, f32x4.mul(qe, xe))); b1 = f32x4.add(b1, madd_f32x4(qo, yo, f32x4.mul(qe, ye)));
      }
      if (R > 2) {
        qe = v128.load(qp + 2 * rowBytes); qo = v128.load(qp + 2 * rowBytes, 16);
        a2 = f32x4.add(a2, madd_f32x4(qo, xo, f32x4.mul(qe, xe))); b2 = f32x4.add(b2, madd_f32x4(qo, yo, f32x4.mul(qe, ye)));
      }
      if (R > 3) {
        qe = v128.load(qp + 3 * rowBytes); qo = v128.load(qp + 3 * rowBytes, 16);
        a3 = f32x4.add(a3, madd_f32x4(qo, xo, f32x4.mul(qe, xe))); b3 = f32x4.add(b3, madd_f32x4(qo, yo, f32x4.mul(qe, ye)));
      }
    }
    const s = S + (<usize>(j - j0) << 4);
    v128.store(s, f32x4.mul(hsum4(a0, a1, a2, a3), sc));
    v128.store(s, f32x4.mul(hsum4(b0, b1, b2, b3), sc), 16);
  }
  if (j < j1) {
    const kj = kb + <usize>j * kRow;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let c: usize = 0; c < rowBytes; c += 32) {
      const x = v128.load(kj + (c >> 1));
      const xe = evenHalves(x, elem, true), xo = oddHalves(x, elem, true);
      a0 = madd_f32x4(v128.load(q + c, 16), xo, madd_f32x4(v128.load(q + c), xe, a0));
      if (R > 1) a1 = madd_f32x4(v128.load(q + rowBytes + c, 16), xo, madd_f32x4(v128.load(q + rowBytes + c), xe, a1));
      if (R > 2) a2 = madd_f32x4(v128.load(q + 2 * rowBytes + c, 16), xo, madd_f32x4(v128.load(q + 2 * rowBytes + c), xe, a2));
      if (R > 3) a3 = madd_f32x4(v128.load(q + 3 * rowBytes + c, 16), xo, madd_f32x4(v128.load(q + 3 * rowBytes + c), xe, a3));
    }
    v128.store(S + (<usize>(j - j0) << 4), f32x4.mul(hsum4(a0, a1, a2, a3), sc));
  }
}

/**
 * acc_r += Σ_j S[j − j0][r]·v_j for the R ≤ 4 rows at acc, acc + rowBytes, … and keys [j0, j1): two keys per
 * step, accumulators in memory (L1), so V (kRow bytes per key, stored as `elem`) is read in order. Half V: per 16
 * bytes of two keys, the even elements go to the accumulators' even vector, then the odd ones to the odd vector
 * (the even-then-odd order of the header; two widened vectors live at a time).
 */
// @ts-ignore: decorator
@inline function accumulateQuad(
  elem: i32, R: i32, acc: usize, vb: usize, kRow: usize, j0: i32, j1: i32, rowBytes: usize, S: usize,
): void {
  const accEnd = acc + rowBytes;
  let j = j0;
  for (; j + 2 <= j1; j += 2) {
    const pa = v128.load(S + (<usize>(j - j0) << 4));
    const pb = v128.load(S + (<usize>(j - j0) << 4), 16);
    const a0 = v128.shuffle<f32>(pa, pa, 0, 0, 0, 0), b0 = v128.shuffle<f32>(pb, pb, 0, 0, 0, 0);
    const a1 = v128.shuffle<f32>(pa, pa, 1, 1, 1, 1), b1 = v128.shuffle<f32>(pb, pb, 1, 1, 1, 1);
    const a2 = v128.shuffle<f32>(pa, pa, 2, 2, 2, 2), b2 = v128.shuffle<f32>(pb, pb, 2, 2, 2, 2);
    const a3 = v128.shuffle<f32>(pa, pa, 3, 3, 3, 3), b3 = v128.shuffle<f32>(pb, pb, 3, 3, 3, 3);
    for (let o = acc, vp = vb + <usize>j * kRow; o < accEnd; vp += 16) {
      const x = v128.load(vp);
      const y = v128.load(vp + kRow);
      if (elem == ELEM_F32) {
        axpy2(R, o, rowBytes, a0, a1, a2, a3, x, b0, b1, b2, b3, y);
        o += 16;
      } else {
        axpy2(R, o, rowBytes, a0, a1, a2, a3, evenHalves(x, elem, true), b0, b1, b2, b3, evenHalves(y, elem, true));
        axpy2(R, o + 16, rowBytes, a0, a1, a2, a3, oddHalves(x, elem, true), b0, b1, b2, b3, oddHalves(y, elem, true));
        o += 32;
      }
    }
  }
  if (j < j1) {
    const pa = v128.load(S + (<usize>(j - j0) << 4));
    const a0 = v128.shuffle<f32>(pa, pa, 0, 0, 0, 0), a1 = v128.shuffle<f32>(pa, pa, 1, 1, 1, 1);
    const a2 = v128.shuffle<f32>(pa, pa, 2, 2, 2, 2), a3 = v128.shuffle<f32>(pa, pa, 3, 3, 3, 3);
    for (let o = acc, vp = vb + <usize>j * kRow; o < accEnd; vp += 16) {
      const x = v128.load(vp);
      if (elem == ELEM_F32) {
        axpy1(R, o, rowBytes, a0, a1, a2, a3, x);
        o += 16;
      } else {
        axpy1(R, o, rowBytes, a0, a1, a2, a3, evenHalves(x, elem, true));
        axpy1(R, o + 16, rowBytes, a0, a1, a2, a3, oddHalves(x, elem, true));
        o += 32;
      }
    }
  }
}

/** The 4 floats at o, o + rowBytes, … (R rows) += a_r·x + b_r·y. */
// @ts-ignore: decorator
@inline function axpy2(
  R: i32, o: usize, rowBytes: usize, a0: v128, a1: v128, a2: v128, a3: v128, x: v128,
  b0: v128, b1: v128, b2: v128, b3: v128, y: v128,
): void {
  v128.store(o, madd_f32x4(b0, y, madd_f32x4(a0, x, v128.load(o))));
  if (R > 1) v128.store(o + rowBytes, madd_f32x4(b1, y, madd_f32x4(a1, x, v128.load(o + rowBytes))));
  if (R > 2) v128.store(o + 2 * rowBytes, madd_f32x4(b2, y, madd_f32x4(a2, x, v128.load(o + 2 * rowBytes))));
  if (R > 3) v128.store(o + 3 * rowBytes, madd_f32x4(b3, y, madd_f32x4(a3, x, v128.load(o + 3 * rowBytes))));
}

/** The 4 floats at o, o + rowBytes, … (R rows) += a_r·x. */
// @ts-ignore: decorator
@inline function axpy1(R: i32, o: usize, rowBytes: usize, a0: v128, a1: v128, a2: v128, a3: v128, x: v128): void {
  v128.store(o, madd_f32x4(a0, x, v128.load(o)));
  if (R > 1) v128.store(o + rowBytes, madd_f32x4(a1, x, v128.load(o + rowBytes)));
  if (R > 2) v128.store(o + 2 * rowBytes, madd_f32x4(a2, x, v128.load(o + 2 * rowBytes)));
  if (R > 3) v128.store(o + 3 * rowBytes, madd_f32x4(a3, x, v128.load(o + 3 * rowBytes)));
}

/** Scores of one quad (R rows, a constant at each call) for K stored as `elem` (kRow bytes per key). */
// @ts-ignore: decorator
@inline function scoreQuad(
  elem: i32, R: i32, q: usize, kb: usize, kRow: usize, j0: i32, j1: i32, rowBytes: usize, sc: v128, S: usize,
): void {
  if (elem == ELEM_F32) scoreQuadF32(R, R == 4 ? 2 : R == 3 ? 3 : 4, q, kb, j0, j1, rowBytes, sc, S);
  else scoreQuadHalf(elem, R, q, kb, kRow, j0, j1, rowBytes, sc, S);
}

/**
 * The online softmax of one quad over one block of n key-major score vectors (per lane, i.e. per row r < 4):
 * m' = max(m, max_j S), S ← exp(S − m') (0 stands in for m' = −∞, so a row with no key yet gets zeros),
 * l ← l·e^(m − m') + Σ_j S, and when some lane's maximum grew, the R accumulator rows at acc, acc + rowBytes, …
 * are scaled by their lane's e^(m − m') (after the first block this is rare: the maximum settles). m and l live
 * at ml and ml + 16. pmax (one x64 instruction; scores hold no NaN) and two running maxima and sums keep the
 * loops off one long dependency chain.
 */
function softmaxBlock(S: usize, n: i32, ml: usize, acc: usize, R: i32, rowBytes: usize): void {
  const ninf = f32x4.splat(-Infinity);
  let m0 = ninf, m1 = ninf;
  let j = 0;
  for (; j + 2 <= n; j += 2) {
    const s = S + (<usize>j << 4);
    m0 = f32x4.pmax(m0, v128.load(s));
    m1 = f32x4.pmax(m1, v128.load(s, 16));
  }
  if (j < n) m0 = f32x4.pmax(m0, v128.load(S + (<usize>j << 4)));
  const mOld = v128.load(ml);
  const m = f32x4.pmax(mOld, f32x4.pmax(m0, m1));
  const mSafe = v128.andnot(m, f32x4.eq(m, ninf));
  let l = v128.load(ml, 16);
  if (v128.any_true(f32x4.gt(m, mOld))) {
    const alpha = exp_f32x4(f32x4.sub(mOld, mSafe)); // mOld = −∞ (nothing summed yet): 0
    l = f32x4.mul(l, alpha);
    scaleRow(acc, f32x4.extract_lane(alpha, 0), rowBytes);
    if (R > 1) scaleRow(acc + rowBytes, f32x4.extract_lane(alpha, 1), rowBytes);
    if (R > 2) scaleRow(acc + 2 * rowBytes, f32x4.extract_lane(alpha, 2), rowBytes);
    if (R > 3) scaleRow(acc + 3 * rowBytes, f32x4.extract_lane(alpha, 3), rowBytes);
  }
  let l0 = f32x4.splat(0), l1 = f32x4.splat(0);
  for (j = 0; j + 2 <= n; j += 2) {
    const s = S + (<usize>j << 4);
    const p0 = exp_f32x4(f32x4.sub(v128.load(s), mSafe));
    const p1 = exp_f32x4(f32x4.sub(v128.load(s, 16), mSafe));
    v128.store(s, p0);
    v128.store(s, p1, 16);
    l0 = f32x4.add(l0, p0);
    l1 = f32x4.add(l1, p1);
  }
  if (j < n) {
    const s = S + (<usize>j << 4);
    const p = exp_f32x4(f32x4.sub(v128.load(s), mSafe));
    v128.store(s, p);
    l0 = f32x4.add(l0, p);
  }
  v128.store(ml, m);
  v128.store(ml, f32x4.add(l, f32x4.add(l0, l1)), 16);
}

/** row *= s. */
function scaleRow(row: usize, s: f32, rowBytes: usize): void {
  const sv = f32x4.splat(s);
  for (let c: usize = 0; c < rowBytes; c += 16) v128.store(row + c, f32x4.mul(v128.load(row + c), sv));
}

/**
 * Decode attention for work items [r0, r1) (see the header). Items encode the thread's scratch slot:
 * r = slot·items + w with items = Hkv·chunks; slot s owns decode_attention_scratch_bytes(G) at
 * scratch + s·that. part (chunks > 1 only, else 0): [items, G, dp] f32 accumulators and pml [items, G, 2] f32
 * (m, l) for decode_attention_merge_f32; with part = 0 the normalised rows go straight to o.
 */
export function decode_attention_f32(
  q: usize, k: usize, v: usize, o: usize, H: i32, Hkv: i32, Tq: i32, Tk: i32, kvStride: i32, dp: i32,
  causal: i32, scale: f32, chunks: i32, scratch: usize, part: usize, pml: usize, r0: i32, r1: i32,
): void {
  decodeAttention(ELEM_F32, q, k, v, o, H, Hkv, Tq, Tk, kvStride, dp, causal, scale, chunks, scratch, part, pml, r0, r1);
}

/**
 * decode_attention_f32 with K and V stored as bf16 [Hkv, kvStride, dp] (dp a multiple of 8) and the q, o and
 * partial rows in the even-then-odd column order of the header.
 */
export function decode_attention_bf16(
  q: usize, k: usize, v: usize, o: usize, H: i32, Hkv: i32, Tq: i32, Tk: i32, kvStride: i32, dp: i32,
  causal: i32, scale: f32, chunks: i32, scratch: usize, part: usize, pml: usize, r0: i32, r1: i32,
): void {
  decodeAttention(ELEM_BF16, q, k, v, o, H, Hkv, Tq, Tk, kvStride, dp, causal, scale, chunks, scratch, part, pml, r0, r1);
}

/** decode_attention_bf16 for K and V stored as IEEE f16 (subnormals, ±Inf and NaN widened exactly). */
export function decode_attention_f16(
  q: usize, k: usize, v: usize, o: usize, H: i32, Hkv: i32, Tq: i32, Tk: i32, kvStride: i32, dp: i32,
  causal: i32, scale: f32, chunks: i32, scratch: usize, part: usize, pml: usize, r0: i32, r1: i32,
): void {
  decodeAttention(ELEM_F16, q, k, v, o, H, Hkv, Tq, Tk, kvStride, dp, causal, scale, chunks, scratch, part, pml, r0, r1);
}

// The body of the three entry points; elem is a constant at each, so each is its own loop.
// @ts-ignore: decorator
@inline function decodeAttention(
  elem: i32, q: usize, k: usize, v: usize, o: usize, H: i32, Hkv: i32, Tq: i32, Tk: i32, kvStride: i32, dp: i32,
  causal: i32, scale: f32, chunks: i32, scratch: usize, part: usize, pml: usize, r0: i32, r1: i32,
): void {
  const items = Hkv * chunks;
  const slot = r0 / items;
  const G = (H / Hkv) * Tq;
  const quads = (G + 3) >> 2;
  const C = chunk_keys(Tk, chunks);
  const S = scratch + <usize>slot * <usize>decode_attention_scratch_bytes(G);
  const ML = S + (<usize>(quads * BLOCK_KEYS) << 4); // m [4], l [4] per quad
  const rowBytes = <usize>dp << 2;
  const kRow = elem == ELEM_F32 ? rowBytes : rowBytes >> 1; // bytes of one key's (or value's) row
  const sc = f32x4.splat(scale);
  const ninf = f32x4.splat(-Infinity);
  for (let w = r0 - slot * items; w < r1 - slot * items; w++) {
    const u = w / chunks;
    const j0 = min(Tk, (w % chunks) * C);
    const j1 = min(Tk, j0 + C);
    const qg = q + <usize>(u * G) * rowBytes;
    const kh = k + <usize>u * <usize>kvStride * kRow;
    const vh = v + <usize>u * <usize>kvStride * kRow;
    const acc = part != 0 ? part + <usize>(w * G) * rowBytes : o + <usize>(u * G) * rowBytes;
    memory.fill(acc, 0, <usize>G * rowBytes);
    for (let t = 0; t < quads; t++) {
      v128.store(ML + (<usize>t << 5), ninf);
      v128.store(ML + (<usize>t << 5), f32x4.splat(0), 16);
    }
    // blocks of BLOCK_KEYS keys: K's block, then V's, so the memory stream runs under every pass's arithmetic
    for (let jb = j0; jb < j1; jb += BLOCK_KEYS) {
      const je = min(j1, jb + BLOCK_KEYS);
      for (let t = 0; t < quads; t++) {
        const R = min(4, G - 4 * t);
        const qt = qg + <usize>(4 * t) * rowBytes;
        const at = acc + <usize>(4 * t) * rowBytes;
        const St = S + (<usize>(t * BLOCK_KEYS) << 4);
        // 1. scores; causally masked keys −∞
        if (R == 4) scoreQuad(elem, 4, qt, kh, kRow, jb, je, rowBytes, sc, St);
        else if (R == 3) scoreQuad(elem, 3, qt, kh, kRow, jb, je, rowBytes, sc, St);
        else if (R == 2) scoreQuad(elem, 2, qt, kh, kRow, jb, je, rowBytes, sc, St);
        else scoreQuad(elem, 1, qt, kh, kRow, jb, je, rowBytes, sc, St);
        if (causal != 0) {
          const r = 4 * t;
          const pos = i32x4(Tk - Tq + r % Tq, Tk - Tq + (r + 1) % Tq, Tk - Tq + (r + 2) % Tq, Tk - Tq + (r + 3) % Tq);
          for (let j = max(jb, Tk - Tq + 1); j < je; j++) {
            const s = St + (<usize>(j - jb) << 4);
            v128.store(s, v128.bitselect(ninf, v128.load(s), i32x4.gt_s(i32x4.splat(j), pos)));
          }
        }
        // 2. online softmax: numerators, m and l per lane, earlier sums rescaled when a maximum grew
        softmaxBlock(St, je - jb, ML + (<usize>t << 5), at, R, rowBytes);
      }
      // 3. P·V
      for (let t = 0; t < quads; t++) {
        const R = min(4, G - 4 * t);
        const at = acc + <usize>(4 * t) * rowBytes;
        const St = S + (<usize>(t * BLOCK_KEYS) << 4);
        if (R == 4) accumulateQuad(elem, 4, at, vh, kRow, jb, je, rowBytes, St);
        else if (R == 3) accumulateQuad(elem, 3, at, vh, kRow, jb, je, rowBytes, St);
        else if (R == 2) accumulateQuad(elem, 2, at, vh, kRow, jb, je, rowBytes, St);
        else accumulateQuad(elem, 1, at, vh, kRow, jb, je, rowBytes, St);
      }
    }
    for (let r = 0; r < G; r++) {
      const at = ML + (<usize>(r >> 2) << 5) + (<usize>(r & 3) << 2);
      if (part != 0) {
        store<f32>(pml + (<usize>(w * G + r) << 3), load<f32>(at));
        store<f32>(pml + (<usize>(w * G + r) << 3), load<f32>(at, 16), 4);
      } else {
        const l = load<f32>(at, 16);
        scaleRow(acc + <usize>r * rowBytes, l == 0 ? 0 : 1 / l, rowBytes);
      }
    }
  }
}

/**
 * o rows [r0, r1) of [H·Tq, dp] from the partials of decode_attention_f32 with `chunks` > 1: row u·G + r
 * combines items u·chunks … u·chunks + chunks − 1 (zeros when no chunk saw a key).
 */
export function decode_attention_merge_f32(
  part: usize, pml: usize, o: usize, G: i32, chunks: i32, dp: i32, r0: i32, r1: i32,
): void {
  const rowBytes = <usize>dp << 2;
  for (let row = r0; row < r1; row++) {
    const u = row / G;
    const r = row % G;
    const orow = o + <usize>row * rowBytes;
    let M: f32 = -Infinity;
    for (let c = 0; c < chunks; c++) M = max(M, load<f32>(pml + (<usize>((u * chunks + c) * G + r) << 3)));
    memory.fill(orow, 0, rowBytes);
    if (M == -Infinity) continue;
    let L: f32 = 0;
    for (let c = 0; c < chunks; c++) {
      const w = u * chunks + c;
      const at = pml + (<usize>(w * G + r) << 3);
      const e = f32x4.extract_lane(exp_f32x4(f32x4.splat(load<f32>(at) - M)), 0);
      L += e * load<f32>(at, 4);
      const ev = f32x4.splat(e);
      const src = part + <usize>(w * G + r) * rowBytes;
      for (let x: usize = 0; x < rowBytes; x += 16) {
        v128.store(orow + x, madd_f32x4(ev, v128.load(src + x), v128.load(orow + x)));
      }
    }
    scaleRow(orow, 1 / L, rowBytes);
  }
}
