/**
 * Multi-head attention pieces: split projections into heads, causal self-attention over a KV cache (grouped
 * query heads, optional RoPE) and bidirectional attention with a key padding mask, all through the blocked
 * `attention()` op.
 */

import { attention, cachedAttention } from '../backend/ops/index.js';
import { Tensor } from '../tensor/tensor.js';
import { transposeInto } from '../tensor/transpose.js';
import type { LayerKV } from './kvcache.js';
import type { Rotary } from './rope.js';

/** Head counts and width. H must be a multiple of Hkv (head h reads kv head ⌊h / (H/Hkv)⌋). */
export interface HeadShape {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/**
 * One projection inside a feature-major output x [F, T] (features are rows, tokens columns, as
 * Linear.forwardT returns): its features are rows [offset, offset + H·d), e.g. k inside GPT-2's fused qkv.
 */
export interface Columns {
  readonly x: Tensor;
  readonly offset: number;
}

/** Rows [offset, offset + H·d) of x [F, T] → [H, T, d]. */
export function splitHeads({ x, offset }: Columns, H: number, d: number): Float32Array {
  const T = x.cols;
  const out = new Float32Array(H * T * d);
  const src = x.data;
  if (T === 1) {
    out.set(src.subarray(offset, offset + H * d));
    return out;
  }
  // head h: rows [offset + h·d, +d) of x, d × T, transposed to T × d
  for (let h = 0; h < H; h++) transposeInto(src, d, T, out, (offset + h * d) * T, h * T * d);
  return out;
}

/** o [H, T, d] → feature-major [H·d, T] (the input of the output projection's forwardT). */
export function mergeHeads(o: Float32Array, H: number, T: number, d: number): Tensor {
  if (T === 1) return new Tensor(o, [H * d, 1]);
  const out = new Float32Array(T * H * d);
  for (let h = 0; h < H; h++) transposeInto(o, T, d, out, h * T * d, h * d * T); // head h: T × d → d × T
  return new Tensor(out, [H * d, T]);
}

/**
 * Causal self-attention of T new tokens at positions [start, start + T) over a layer's cache: splits q, k, v
 * into heads, rotates q and k when `rotary` is given, writes k and v into the cache (which must have room),
 * attends over all start + T positions and returns feature-major [H·d, T] (before the output projection).
 * The attention op reads keys and values where the cache holds them (no copy), in the cache's storage (f32, or
 * bf16 / f16 rounded to nearest even as written); a prefill over a half cache widens its positions to f32 first.
 */
export function causalSelfAttention(
  q: Columns,
  k: Columns,
  v: Columns,
  shape: HeadShape,
  cache: LayerKV,
  start: number,
  rotary: Rotary | null,
  scale: number,
): Tensor {
  const { heads: H, kvHeads: Hkv, headDim: d } = shape;
  const T = q.x.cols;
  const qh = splitHeads(q, H, d);
  const kh = splitHeads(k, Hkv, d);
  // one token: v's rows are already [Hkv, 1, d] and only copied into the cache, so they are read in place
  const vh = T === 1 ? v.x.data.subarray(v.offset, v.offset + Hkv * d) : splitHeads(v, Hkv, d);
  if (rotary) {
    rotary.apply(qh, H, T, start);
    rotary.apply(kh, Hkv, T, start);
  }
  cache.write(kh, vh, start, T);
  const o = cachedAttention(new Tensor(qh, [H, T, d]), cache, start + T, { causal: true, scale });
  return mergeHeads(o.data, H, T, d);
}

/**
 * causalSelfAttention for one token, in given arrays: q [H·d], k and v [Hkv·d] (the projections' outputs; q and
 * k are rotated in place) → out [H·d], the same numbers.
 */
export function causalSelfAttentionOne(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  shape: HeadShape,
  cache: LayerKV,
  start: number,
  rotary: Rotary | null,
  scale: number,
  out: Float32Array,
): void {
  const { heads: H, kvHeads: Hkv, headDim: d } = shape;
  if (rotary) {
    rotary.apply(q, H, 1, start);
    rotary.apply(k, Hkv, 1, start);
  }
  cache.write(k, v, start, 1);
  out.set(cachedAttention(new Tensor(q, [H, 1, d]), cache, start + 1, { causal: true, scale }).data);
}

/**
 * Bidirectional self-attention (BERT) of feature-major q, k, v [H·d, T] → [H·d, T] with a key padding mask (1 = real token, 0 = pad;
 * null = all real), as transformers computes it: every query, padded or not, attends over the real keys only.
 * The op cannot mask single keys, so the real keys and values are gathered first (exact: a masked key adds
 * exp(−∞) = 0); queries run in chunks of at most that many rows because the op needs Tq ≤ Tk.
 */
export function maskedSelfAttention(
  q: Columns,
  k: Columns,
  v: Columns,
  shape: HeadShape,
  keyMask: ArrayLike<number> | null,
  scale: number,
): Tensor {
  const { heads: H, kvHeads: Hkv, headDim: d } = shape;
  const T = q.x.cols;
  const qh = splitHeads(q, H, d);
  let kh = splitHeads(k, Hkv, d);
  let vh = splitHeads(v, Hkv, d);
  let Tk = T;
  if (keyMask) {
    const keep: number[] = [];
    for (let t = 0; t < T; t++) if (keyMask[t] !== 0) keep.push(t);
    if (keep.length === 0) {
      throw new RangeError(
        'attentionMask: every position is 0 (padding); at least one token must be real (1)',
      );
    }
    if (keep.length < T) {
      kh = gatherRows(kh, Hkv, T, d, keep);
      vh = gatherRows(vh, Hkv, T, d, keep);
      Tk = keep.length;
    }
  }
  const kt = new Tensor(kh, [Hkv, Tk, d]);
  const vt = new Tensor(vh, [Hkv, Tk, d]);
  const opts = { causal: false, scale };
  if (Tk === T) return mergeHeads(attention(new Tensor(qh, [H, T, d]), kt, vt, opts).data, H, T, d);
  const o = new Float32Array(H * T * d);
  for (let t0 = 0; t0 < T; t0 += Tk) {
    const n = Math.min(Tk, T - t0);
    const qc = new Float32Array(H * n * d);
    for (let h = 0; h < H; h++) qc.set(qh.subarray((h * T + t0) * d, (h * T + t0 + n) * d), h * n * d);
    const oc = attention(new Tensor(qc, [H, n, d]), kt, vt, opts).data;
    for (let h = 0; h < H; h++) o.set(oc.subarray(h * n * d, (h + 1) * n * d), (h * T + t0) * d);
  }
  return mergeHeads(o, H, T, d);
}

/** Rows `keep` of each head of x [Hx, T, d] → [Hx, keep.length, d]. */
function gatherRows(x: Float32Array, Hx: number, T: number, d: number, keep: number[]): Float32Array {
  const n = keep.length;
  const out = new Float32Array(Hx * n * d);
  for (let h = 0; h < Hx; h++) {
    for (let i = 0; i < n; i++) {
      const from = (h * T + keep[i]!) * d;
      out.set(x.subarray(from, from + d), (h * n + i) * d);
    }
  }
  return out;
}
