// Decode attention: the few query rows of a decode step (Tq ≤ 4 per head) against a KV cache read in place, each
// kv head's K and V streamed once for all the query heads of its group.
// TypeScript twin: src/backend/reference/decode-attention.ts decodeAttentionRef.
//
// Layout (as attention.ts): q, o [H, Tq, dp]; k, v [Hkv, kvStride, dp] of which positions [0, Tk) are read; dp is
// the head dim padded to a multiple of 4 with zeros. Head h reads kv head h / (H/Hkv), so the G = (H/Hkv)·Tq
// query rows of kv head u are rows [u·G, (u+1)·G) of q. Row r of a group is position i = r % Tq, at absolute
// position Tk − Tq + i; causal masking keeps keys j ≤ that position.
//
// Work item w = u·chunks + c: kv head u over the keys [c·C, min(Tk, (c+1)·C)), C = chunk_keys(Tk, chunks).
// The softmax takes two passes over the item's scores, which stay in the thread's scratch (G rows × C f32):
//   1. S[r][j] = scale · q_r·k_j, in blocks of blockKeys(dp) keys so each K block comes from memory once and
//      from L1 for the group's other rows; causal masking then sets S = −∞ past each row's position;
//   2. per row: m = max_j S, S ← exp(S − m), l = Σ_j S (a row with no key keeps m = −∞ and l = 0);
//   3. acc_r = Σ_j S[r][j]·v_j, V in the same blocks.
// chunks = 1: o_r = acc_r / l_r (0 when l = 0). chunks > 1 (keys split between threads): acc, m and l go to the
// partials and decode_attention_merge_f32 combines an item's chunks, o = Σ_c e^(m_c − M)·acc_c / Σ_c e^(m_c − M)·l_c
// with M = max_c m_c (flash-decoding).

import { exp_f32x4, madd_f32x4 } from './_math';
import { hsum4 } from './_reduce';

/** Keys per K / V block: about 16 KB of rows, so a block stays in L1 while every row of the group reads it. */
function blockKeys(dp: i32): i32 {
  return max(4, (4096 / dp) & ~3);
}

/** Keys per chunk when Tk keys are split into `chunks`: ⌈Tk / chunks⌉ rounded up to a multiple of 4. */
export function chunk_keys(Tk: i32, chunks: i32): i32 {
  return (((Tk + chunks - 1) / chunks + 3) >> 2) << 2;
}

/** Bytes of one thread's scratch: the scores of G rows × chunk_keys(Tk, chunks), then (m, l, −, −) per row. */
export function decode_attention_scratch_bytes(G: i32, Tk: i32, chunks: i32): i32 {
  return G * chunk_keys(Tk, chunks) * 4 + G * 16;
}

/** S1[j − j0] = scale · q·k_j for one row and keys [j0, j1): four keys per step (one hsum4), then one. */
function scoreRow(q: usize, kb: usize, j0: i32, j1: i32, rowBytes: usize, scale: f32, S1: usize): void {
  const sc = f32x4.splat(scale);
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
    v128.store(S1 + (<usize>(j - j0) << 2), f32x4.mul(hsum4(a0, a1, a2, a3), sc));
  }
  for (; j < j1; j++) {
    const k0 = kb + <usize>j * rowBytes;
    let a = f32x4.splat(0);
    for (let c: usize = 0; c < rowBytes; c += 16) a = madd_f32x4(v128.load(q + c), v128.load(k0 + c), a);
    store<f32>(S1 + (<usize>(j - j0) << 2), f32x4.extract_lane(f32x4.mul(hsum4(a, a, a, a), sc), 0));
  }
}

/**
 * scoreRow for two rows a and b at once: four keys per step into 8 accumulators (4 key loads + 2 query loads +
 * 8 accumulators live: inside V8's 15 SIMD registers), so 8 independent multiply-add chains hide their latency.
 */
function scorePair(
  qa: usize, qb: usize, kb: usize, j0: i32, j1: i32, rowBytes: usize, scale: f32, Sa: usize, Sb: usize,
): void {
  const sc = f32x4.splat(scale);
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    const k0 = kb + <usize>j * rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let c: usize = 0; c < rowBytes; c += 16) {
      const kv0 = v128.load(k0 + c);
      const kv1 = v128.load(k0 + rowBytes + c);
      const kv2 = v128.load(k0 + 2 * rowBytes + c);
      const kv3 = v128.load(k0 + 3 * rowBytes + c);
      let qv = v128.load(qa + c);
      a0 = madd_f32x4(qv, kv0, a0);
      a1 = madd_f32x4(qv, kv1, a1);
      a2 = madd_f32x4(qv, kv2, a2);
      a3 = madd_f32x4(qv, kv3, a3);
      qv = v128.load(qb + c);
      b0 = madd_f32x4(qv, kv0, b0);
      b1 = madd_f32x4(qv, kv1, b1);
      b2 = madd_f32x4(qv, kv2, b2);
      b3 = madd_f32x4(qv, kv3, b3);
    }
    v128.store(Sa + (<usize>(j - j0) << 2), f32x4.mul(hsum4(a0, a1, a2, a3), sc));
    v128.store(Sb + (<usize>(j - j0) << 2), f32x4.mul(hsum4(b0, b1, b2, b3), sc));
  }
  if (j < j1) {
    scoreRow(qa, kb, j, j1, rowBytes, scale, Sa + (<usize>(j - j0) << 2));
    scoreRow(qb, kb, j, j1, rowBytes, scale, Sb + (<usize>(j - j0) << 2));
  }
}

/**
 * One row's softmax numerator in place over S1's n4 scores (a multiple of 4; pad lanes hold −∞):
 * S1 ← exp(S1 − m) with m = max S1 (0 stands in for m = −∞, so a row with no key gets zeros). Stores m and
 * l = Σ exp(S1 − m) at ml and ml + 4.
 */
function softmaxRow(S1: usize, n4: i32, ml: usize): void {
  let mv = f32x4.splat(-Infinity);
  for (let j = 0; j < n4; j += 4) mv = f32x4.max(mv, v128.load(S1 + (<usize>j << 2)));
  const m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  const ms = f32x4.splat(m == -Infinity ? 0 : m);
  let sv = f32x4.splat(0);
  for (let j = 0; j < n4; j += 4) {
    const s = S1 + (<usize>j << 2);
    const p = exp_f32x4(f32x4.sub(v128.load(s), ms));
    v128.store(s, p);
    sv = f32x4.add(sv, p);
  }
  store<f32>(ml, m);
  store<f32>(ml, f32x4.extract_lane(hsum4(sv, sv, sv, sv), 0), 4);
}

/** acc += Σ_j P1[j − j0]·v_j for one row and keys [j0, j1): 16 columns at a time (4 accumulators), then 4. */
function accumulateRow(acc: usize, vb: usize, j0: i32, j1: i32, rowBytes: usize, P1: usize): void {
  const n = <usize>(j1 - j0);
  let c: usize = 0;
  for (; c + 64 <= rowBytes; c += 64) {
    let a0 = v128.load(acc + c), a1 = v128.load(acc + c, 16);
    let a2 = v128.load(acc + c, 32), a3 = v128.load(acc + c, 48);
    let vp = vb + <usize>j0 * rowBytes + c;
    for (let j: usize = 0; j < n; j++) {
      const p = v128.load32_splat(P1 + (j << 2));
      a0 = madd_f32x4(p, v128.load(vp), a0);
      a1 = madd_f32x4(p, v128.load(vp, 16), a1);
      a2 = madd_f32x4(p, v128.load(vp, 32), a2);
      a3 = madd_f32x4(p, v128.load(vp, 48), a3);
      vp += rowBytes;
    }
    v128.store(acc + c, a0);
    v128.store(acc + c, a1, 16);
    v128.store(acc + c, a2, 32);
    v128.store(acc + c, a3, 48);
  }
  for (; c < rowBytes; c += 16) {
    let a = v128.load(acc + c);
    let vp = vb + <usize>j0 * rowBytes + c;
    for (let j: usize = 0; j < n; j++) {
      a = madd_f32x4(v128.load32_splat(P1 + (j << 2)), v128.load(vp), a);
      vp += rowBytes;
    }
    v128.store(acc + c, a);
  }
}

/**
 * accumulateRow for two rows a and b at once: 16 columns × 2 rows = 8 accumulators sharing each V load, then 4
 * columns at a time.
 */
function accumulatePair(
  acca: usize, accb: usize, vb: usize, j0: i32, j1: i32, rowBytes: usize, Pa: usize, Pb: usize,
): void {
  const n = <usize>(j1 - j0);
  let c: usize = 0;
  for (; c + 64 <= rowBytes; c += 64) {
    let a0 = v128.load(acca + c), a1 = v128.load(acca + c, 16);
    let a2 = v128.load(acca + c, 32), a3 = v128.load(acca + c, 48);
    let b0 = v128.load(accb + c), b1 = v128.load(accb + c, 16);
    let b2 = v128.load(accb + c, 32), b3 = v128.load(accb + c, 48);
    let vp = vb + <usize>j0 * rowBytes + c;
    for (let j: usize = 0; j < n; j++) {
      const v0 = v128.load(vp);
      const v1 = v128.load(vp, 16);
      const v2 = v128.load(vp, 32);
      const v3 = v128.load(vp, 48);
      let p = v128.load32_splat(Pa + (j << 2));
      a0 = madd_f32x4(p, v0, a0);
      a1 = madd_f32x4(p, v1, a1);
      a2 = madd_f32x4(p, v2, a2);
      a3 = madd_f32x4(p, v3, a3);
      p = v128.load32_splat(Pb + (j << 2));
      b0 = madd_f32x4(p, v0, b0);
      b1 = madd_f32x4(p, v1, b1);
      b2 = madd_f32x4(p, v2, b2);
      b3 = madd_f32x4(p, v3, b3);
      vp += rowBytes;
    }
    v128.store(acca + c, a0);
    v128.store(acca + c, a1, 16);
    v128.store(acca + c, a2, 32);
    v128.store(acca + c, a3, 48);
    v128.store(accb + c, b0);
    v128.store(accb + c, b1, 16);
    v128.store(accb + c, b2, 32);
    v128.store(accb + c, b3, 48);
  }
  for (; c < rowBytes; c += 16) {
    let a = v128.load(acca + c);
    let b = v128.load(accb + c);
    let vp = vb + <usize>j0 * rowBytes + c;
    for (let j: usize = 0; j < n; j++) {
      const vv = v128.load(vp);
      a = madd_f32x4(v128.load32_splat(Pa + (j << 2)), vv, a);
      b = madd_f32x4(v128.load32_splat(Pb + (j << 2)), vv, b);
      vp += rowBytes;
    }
    v128.store(acca + c, a);
    v128.store(accb + c, b);
  }
}

/** row *= s. */
function scaleRow(row: usize, s: f32, rowBytes: usize): void {
  const sv = f32x4.splat(s);
  for (let c: usize = 0; c < rowBytes; c += 16) v128.store(row + c, f32x4.mul(v128.load(row + c), sv));
}

/**
 * Decode attention for work items [r0, r1) (see the header). Items encode the thread's scratch slot:
 * r = slot·items + w with items = Hkv·chunks; slot s owns decode_attention_scratch_bytes(G, Tk, chunks) at
 * scratch + s·that. part (chunks > 1 only, else 0): [items, G, dp] f32 accumulators and pml [items, G, 2] f32
 * (m, l) for decode_attention_merge_f32; with part = 0 the normalised rows go straight to o.
 */
export function decode_attention_f32(
  q: usize, k: usize, v: usize, o: usize, H: i32, Hkv: i32, Tq: i32, Tk: i32, kvStride: i32, dp: i32,
  causal: i32, scale: f32, chunks: i32, scratch: usize, part: usize, pml: usize, r0: i32, r1: i32,
): void {
  const items = Hkv * chunks;
  const slot = r0 / items;
  const G = (H / Hkv) * Tq;
  const C = chunk_keys(Tk, chunks);
  const S = scratch + <usize>slot * <usize>decode_attention_scratch_bytes(G, Tk, chunks);
  const rowBytes = <usize>dp << 2;
  const KB = blockKeys(dp);
  const ML = S + (<usize>(G * C) << 2); // (m, l) of each row when the rows are normalised here
  for (let w = r0 - slot * items; w < r1 - slot * items; w++) {
    const u = w / chunks;
    const j0 = min(Tk, (w % chunks) * C);
    const j1 = min(Tk, j0 + C);
    const n = j1 - j0;
    const n4 = (n + 3) & ~3;
    const qg = q + <usize>(u * G) * rowBytes;
    const kh = k + <usize>u * <usize>kvStride * rowBytes;
    const vh = v + <usize>u * <usize>kvStride * rowBytes;
    const acc = part != 0 ? part + <usize>(w * G) * rowBytes : o + <usize>(u * G) * rowBytes;
    // 1. scores, K block by block; pad lanes and causally masked keys −∞
    for (let jb = j0; jb < j1; jb += KB) {
      const je = min(j1, jb + KB);
      let r = 0;
      for (; r + 2 <= G; r += 2) {
        const Sa = S + (<usize>(r * C + jb - j0) << 2);
        const qa = qg + <usize>r * rowBytes;
        scorePair(qa, qa + rowBytes, kh, jb, je, rowBytes, scale, Sa, Sa + (<usize>C << 2));
      }
      if (r < G) scoreRow(qg + <usize>r * rowBytes, kh, jb, je, rowBytes, scale, S + (<usize>(r * C + jb - j0) << 2));
    }
    for (let r = 0; r < G; r++) {
      const S1 = S + (<usize>(r * C) << 2);
      const from = causal != 0 ? max(j0, Tk - Tq + (r % Tq) + 1) : j1;
      for (let j = min(from, j1) - j0; j < n4; j++) store<f32>(S1 + (<usize>j << 2), -Infinity);
    }
    // 2. softmax numerators, m and l per row
    for (let r = 0; r < G; r++) {
      const ml = part != 0 ? pml + (<usize>(w * G + r) << 3) : ML + (<usize>r << 4);
      softmaxRow(S + (<usize>(r * C) << 2), n4, ml);
    }
    // 3. P·V, V block by block
    memory.fill(acc, 0, <usize>G * rowBytes);
    for (let jb = j0; jb < j1; jb += KB) {
      const je = min(j1, jb + KB);
      let r = 0;
      for (; r + 2 <= G; r += 2) {
        const Pa = S + (<usize>(r * C + jb - j0) << 2);
        const aa = acc + <usize>r * rowBytes;
        accumulatePair(aa, aa + rowBytes, vh, jb, je, rowBytes, Pa, Pa + (<usize>C << 2));
      }
      if (r < G) accumulateRow(acc + <usize>r * rowBytes, vh, jb, je, rowBytes, S + (<usize>(r * C + jb - j0) << 2));
    }
    if (part == 0) {
      for (let r = 0; r < G; r++) {
        const l = load<f32>(ML + (<usize>r << 4), 4);
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
