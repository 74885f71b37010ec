// Blocked attention backward (FlashAttention-2's): probabilities recomputed per tile from q, k and the
// forward's per-row log-sum-exp, never stored for the whole sequence.
// TypeScript twin: src/backend/reference/attention-backward.ts attentionBackwardRef.
//
// Layout (f32, row-major, head dim padded to dp, a multiple of 4, with zeros by the host): q, o, dO [H, Tq, dp];
// k, v, dk, dv [Hkv, Tk, dp]; lse [H, Tq] = log Σ_j exp(s_ij) over the row's allowed keys (s = q·k·scale;
// −∞ for a row with no key); dq: one [H, Tq, dp] partial per scratch slot, summed by the host. Query i sits
// at absolute position Tk − Tq + i; causal masking keeps keys j ≤ that position; head h reads kv head
// h / (H / Hkv); mask (0 = dense) holds one byte per tile [H, ceil(Tq/B), ceil(Tk/B)], nonzero = computed.
//
// Work item w = kvHead·nKB + kb: key block kb of one kv head. The item owns rows [j0, j1) of dk and dv (no
// other item writes them) and visits every computed tile (h, qb) of its kv group's query heads:
//   S  = Q_i K_jᵀ                 P = exp(S·scale − lse)  (0 where masked)
//   dV_j += Pᵀ dO_i               dP = dO_i V_jᵀ
//   dS = scale · P ∘ (dP − D)     with D = rowsum(dO_i ∘ O_i)
//   dQ_i += dS K_j  (the slot's partial)         dK_j += dSᵀ Q_i
// All five products are one routine (mmAcc: C += A·B with B's rows contiguous and A read through strides, so
// Pᵀ and dSᵀ need no copy); K_j and V_j are transposed once per item so S and dP have that form too.

import { exp_f32x4, madd_f32x4 } from './_math';

/** Floats per row of a slot's tiles: B rounded up to a multiple of 4. */
// @ts-ignore: decorator
@inline function tileStride(B: i32): i32 {
  return (B + 3) & ~3;
}

/** Bytes of one thread's scratch: S/P [B][ldt], dP/dS [B][ldt], Kᵀ [dp][ldt], Vᵀ [dp][ldt] (ldt = tileStride). */
export function attention_backward_scratch_bytes(B: i32, dp: i32): i32 {
  return (2 * B + 2 * dp) * tileStride(B) * 4;
}

/**
 * C[m][0..N) (+)= Σ_{kk<K} A(m, kk) · Bm[kk][0..N) for m < M, with A(m, kk) at a + m·ars + kk·acs (byte strides)
 * and Bm's rows ldb bytes apart; N is a multiple of 4. `add` = false overwrites C. 4×8 blocks (8 accumulators,
 * 2 row loads, 4 broadcasts: inside V8's 15 SIMD registers), then a 4×4 column tail, then the last 1–3 rows
 * one at a time (16 columns, then 4).
 */
function mmAcc(
  C: usize, ldc: usize, A: usize, ars: usize, acs: usize, Bm: usize, ldb: usize, M: i32, N: i32, K: i32, add: bool,
): void {
  const nb = <usize>N << 2;
  const z = f32x4.splat(0);
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a0 = A + <usize>m * ars;
    const c0 = C + <usize>m * ldc;
    const c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
    let col: usize = 0;
    for (; col + 32 <= nb; col += 32) {
      let x00 = add ? v128.load(c0 + col) : z, x01 = add ? v128.load(c0 + col, 16) : z;
      let x10 = add ? v128.load(c1 + col) : z, x11 = add ? v128.load(c1 + col, 16) : z;
      let x20 = add ? v128.load(c2 + col) : z, x21 = add ? v128.load(c2 + col, 16) : z;
      let x30 = add ? v128.load(c3 + col) : z, x31 = add ? v128.load(c3 + col, 16) : z;
      let a = a0;
      let b = Bm + col;
      for (let kk = 0; kk < K; kk++) {
        const b0 = v128.load(b);
        const b1 = v128.load(b, 16);
        let s = v128.load32_splat(a);
        x00 = madd_f32x4(s, b0, x00);
        x01 = madd_f32x4(s, b1, x01);
        s = v128.load32_splat(a + ars);
        x10 = madd_f32x4(s, b0, x10);
        x11 = madd_f32x4(s, b1, x11);
        s = v128.load32_splat(a + 2 * ars);
        x20 = madd_f32x4(s, b0, x20);
        x21 = madd_f32x4(s, b1, x21);
        s = v128.load32_splat(a + 3 * ars);
        x30 = madd_f32x4(s, b0, x30);
        x31 = madd_f32x4(s, b1, x31);
        a += acs;
        b += ldb;
      }
      v128.store(c0 + col, x00);
      v128.store(c0 + col, x01, 16);
      v128.store(c1 + col, x10);
      v128.store(c1 + col, x11, 16);
      v128.store(c2 + col, x20);
      v128.store(c2 + col, x21, 16);
      v128.store(c3 + col, x30);
      v128.store(c3 + col, x31, 16);
    }
    if (col < nb) {
      let x0 = add ? v128.load(c0 + col) : z, x1 = add ? v128.load(c1 + col) : z;
      let x2 = add ? v128.load(c2 + col) : z, x3 = add ? v128.load(c3 + col) : z;
      let a = a0;
      let b = Bm + col;
      for (let kk = 0; kk < K; kk++) {
        const b0 = v128.load(b);
        x0 = madd_f32x4(v128.load32_splat(a), b0, x0);
        x1 = madd_f32x4(v128.load32_splat(a + ars), b0, x1);
        x2 = madd_f32x4(v128.load32_splat(a + 2 * ars), b0, x2);
        x3 = madd_f32x4(v128.load32_splat(a + 3 * ars), b0, x3);
        a += acs;
        b += ldb;
      }
      v128.store(c0 + col, x0);
      v128.store(c1 + col, x1);
      v128.store(c2 + col, x2);
      v128.store(c3 + col, x3);
    }
  }
  for (; m < M; m++) {
    const a0 = A + <usize>m * ars;
    const c0 = C + <usize>m * ldc;
    let col: usize = 0;
    for (; col + 64 <= nb; col += 64) {
      let x0 = add ? v128.load(c0 + col) : z;
      let x1 = add ? v128.load(c0 + col, 16) : z;
      let x2 = add ? v128.load(c0 + col, 32) : z;
      let x3 = add ? v128.load(c0 + col, 48) : z;
      let a = a0;
      let b = Bm + col;
      for (let kk = 0; kk < K; kk++) {
        const s = v128.load32_splat(a);
        x0 = madd_f32x4(s, v128.load(b), x0);
        x1 = madd_f32x4(s, v128.load(b, 16), x1);
        x2 = madd_f32x4(s, v128.load(b, 32), x2);
        x3 = madd_f32x4(s, v128.load(b, 48), x3);
        a += acs;
        b += ldb;
      }
      v128.store(c0 + col, x0);
      v128.store(c0 + col, x1, 16);
      v128.store(c0 + col, x2, 32);
      v128.store(c0 + col, x3, 48);
    }
    for (; col < nb; col += 16) {
      let x0 = add ? v128.load(c0 + col) : z;
      let a = a0;
      let b = Bm + col;
      for (let kk = 0; kk < K; kk++) {
        x0 = madd_f32x4(v128.load32_splat(a), v128.load(b), x0);
        a += acs;
        b += ldb;
      }
      v128.store(c0 + col, x0);
    }
  }
}

/** dst[e][c] = src[c][e] for c < n, e < dp (src rows dp floats apart, dst rows ldt), zeros for c in [n, n4). */
function transposeBlock(src: usize, n: i32, n4: i32, dp: i32, dst: usize, ldt: i32): void {
  const ldtB = <usize>ldt << 2;
  for (let c = 0; c < n; c++) {
    const s = src + <usize>c * (<usize>dp << 2);
    let d = dst + (<usize>c << 2);
    for (let e = 0; e < dp; e++) {
      store<f32>(d, load<f32>(s + (<usize>e << 2)));
      d += ldtB;
    }
  }
  for (let e = 0; e < dp; e++) {
    for (let c = n; c < n4; c++) store<f32>(dst + <usize>e * ldtB + (<usize>c << 2), 0);
  }
}

/**
 * P[r][c] = exp(S[r][c]·scale − lse_r) for keys c < lim_r (the row's unmasked keys in this tile), else 0,
 * over the n4 columns of each of `rows` rows. lim_r = n, or under causal masking pos_r − j0 + 1 clamped to
 * [0, n]; a row with lse = −∞ (no key at all) gets 0.
 */
function probabilities(
  S: usize, ldtB: usize, rows: i32, n: i32, n4: i32, lse: usize, pos0: i32, j0: i32, causal: bool, scale: f32,
): void {
  const sc = f32x4.splat(scale);
  const lanes = i32x4(0, 1, 2, 3);
  for (let r = 0; r < rows; r++) {
    const L = load<f32>(lse + (<usize>r << 2));
    let lim = causal ? min(n, pos0 + r - j0 + 1) : n;
    if (L == -Infinity) lim = 0;
    const Lv = f32x4.splat(L == -Infinity ? 0 : L);
    const limv = i32x4.splat(lim);
    const row = S + <usize>r * ldtB;
    for (let c = 0; c < n4; c += 4) {
      const p = exp_f32x4(f32x4.sub(f32x4.mul(v128.load(row + (<usize>c << 2)), sc), Lv));
      const keep = i32x4.lt_s(i32x4.add(lanes, i32x4.splat(c)), limv);
      v128.store(row + (<usize>c << 2), v128.and(p, keep));
    }
  }
}

/** dP[r][c] ← scale · P[r][c] · (dP[r][c] − D_r), D_r = dO_r · O_r (rows of dp floats). */
function scoreGradients(
  P: usize, dP: usize, ldtB: usize, rows: i32, n4: i32, dO: usize, O: usize, dp: i32, scale: f32,
): void {
  const rowBytes = <usize>dp << 2;
  const sc = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    const g = dO + <usize>r * rowBytes;
    const o = O + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let c: usize = 0; c < rowBytes; c += 16) acc = madd_f32x4(v128.load(g + c), v128.load(o + c), acc);
    const D = f32x4.splat(
      f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3),
    );
    const pr = P + <usize>r * ldtB;
    const dr = dP + <usize>r * ldtB;
    for (let c: usize = 0; c < <usize>n4 << 2; c += 16) {
      v128.store(dr + c, f32x4.mul(f32x4.mul(v128.load(pr + c), sc), f32x4.sub(v128.load(dr + c), D)));
    }
  }
}

/**
 * dq (per-slot partials), dk, dv for work items [r0, r1) (see the header). Items encode the thread's scratch
 * slot: r = slot·items + w with items = Hkv·ceil(Tk/B); slot s owns attention_backward_scratch_bytes(B, dp) at
 * scratch + s·that and the dq partial at dq + s·H·Tq·dp floats, which this call zeroes first.
 */
export function attention_backward_f32(
  q: usize, k: usize, v: usize, o: usize, dO: usize, lse: usize, dq: usize, dk: usize, dv: usize, H: i32, Hkv: i32,
  Tq: i32, Tk: i32, dp: i32, B: i32, mask: usize, causal: i32, scale: f32, scratch: usize, r0: i32, r1: i32,
): void {
  const nQB = (Tq + B - 1) / B;
  const nKB = (Tk + B - 1) / B;
  const items = Hkv * nKB;
  const slot = r0 / items;
  const ldt = tileStride(B);
  const ldtB = <usize>ldt << 2;
  const S = scratch + <usize>slot * <usize>attention_backward_scratch_bytes(B, dp);
  const dPt = S + <usize>B * ldtB;
  const Kt = dPt + <usize>B * ldtB;
  const Vt = Kt + <usize>dp * ldtB;
  const rowBytes = <usize>dp << 2;
  const qHeadBytes = <usize>Tq * rowBytes;
  const dqs = dq + <usize>slot * <usize>H * qHeadBytes;
  memory.fill(dqs, 0, <usize>H * qHeadBytes);
  const group = H / Hkv;
  const off = Tk - Tq;
  for (let w = r0 - slot * items; w < r1 - slot * items; w++) {
    const kvh = w / nKB;
    const kb = w % nKB;
    const j0 = kb * B;
    const n = min(Tk, j0 + B) - j0;
    const n4 = (n + 3) & ~3;
    const kj = k + (<usize>kvh * <usize>Tk + <usize>j0) * rowBytes;
    const vj = v + (<usize>kvh * <usize>Tk + <usize>j0) * rowBytes;
    const dkj = dk + (<usize>kvh * <usize>Tk + <usize>j0) * rowBytes;
    const dvj = dv + (<usize>kvh * <usize>Tk + <usize>j0) * rowBytes;
    memory.fill(dkj, 0, <usize>n * rowBytes);
    memory.fill(dvj, 0, <usize>n * rowBytes);
    transposeBlock(kj, n, n4, dp, Kt, ldt);
    transposeBlock(vj, n, n4, dp, Vt, ldt);
    // First query block whose last row may see key j0 (causal), else 0.
    let qb0 = 0;
    if (causal != 0) qb0 = max(0, j0 - off) / B;
    for (let h = kvh * group; h < (kvh + 1) * group; h++) {
      for (let qb = qb0; qb < nQB; qb++) {
        if (mask != 0 && load<u8>(mask + (<usize>(h * nQB + qb) * <usize>nKB) + <usize>kb) == 0) continue;
        const i0 = qb * B;
        const rows = min(Tq, i0 + B) - i0;
        const rowAt = (<usize>h * <usize>Tq + <usize>i0) * rowBytes;
        const Qi = q + rowAt;
        const dOi = dO + rowAt;
        // S = Q_i K_jᵀ → P
        mmAcc(S, ldtB, Qi, rowBytes, 4, Kt, ldtB, rows, n4, dp, false);
        probabilities(S, ldtB, rows, n, n4, lse + ((<usize>h * <usize>Tq + <usize>i0) << 2), off + i0, j0, causal != 0, scale);
        // dV_j += Pᵀ dO_i
        mmAcc(dvj, rowBytes, S, 4, ldtB, dOi, rowBytes, n, dp, rows, true);
        // dP = dO_i V_jᵀ → dS (scaled)
        mmAcc(dPt, ldtB, dOi, rowBytes, 4, Vt, ldtB, rows, n4, dp, false);
        scoreGradients(S, dPt, ldtB, rows, n4, dOi, o + rowAt, dp, scale);
        // dQ_i += dS K_j; dK_j += dSᵀ Q_i
        mmAcc(dqs + rowAt, rowBytes, dPt, ldtB, 4, kj, rowBytes, rows, dp, n, true);
        mmAcc(dkj, rowBytes, dPt, 4, ldtB, Qi, rowBytes, n, dp, rows, true);
      }
    }
  }
}
