/**
 * TypeScript twin of the decode-attention kernel (src/kernels/decode-attention.ts), in f64: per kv head, the
 * query rows of its group against the keys in `chunks` contiguous chunks, each chunk's softmax in two passes
 * (max, then exp and sum), and the chunks merged by their maxima (flash-decoding). With any `chunks` it is
 * plain causal softmax(q kᵀ · scale) v, as attentionRef computes without a block mask. (The kernel takes each chunk's
 * softmax online over blocks of 64 keys, rescaling earlier sums when the maximum grows: the same up to rounding.) Keys and values may be
 * stored in half precision (a bf16 or f16 KV cache): the twin reads the same 16-bit patterns and decodes each
 * exactly.
 */

import { bf16BitsToF32, type DType, f16BitsToF32 } from '../../tensor/dtype.js';
import type { AttentionDims } from './attention.js';

/** Which keys count and the score scale of a decode-attention call. */
export interface DecodeMasking {
  /** Keep key j for query i only when j ≤ Tk − Tq + i (the query's absolute position). */
  causal: boolean;
  /** Multiplies q·k before the softmax. */
  scale: number;
}

/** Keys per chunk when Tk keys are split into `chunks`: ⌈Tk / chunks⌉ rounded up to a multiple of 4. */
export function chunkKeys(Tk: number, chunks: number): number {
  return Math.ceil(Math.ceil(Tk / chunks) / 4) * 4;
}

/** One chunk's softmax statistics and unnormalised output for one query row. */
interface Partial {
  m: number;
  l: number;
  acc: Float64Array;
}

/** Element i of a K or V buffer stored as `dtype` (f32 values, or bf16 / f16 bit patterns), as a number. */
export function kvElement(dtype: DType): (a: Float32Array | Uint16Array, i: number) => number {
  if (dtype === 'bf16') return (a, i) => bf16BitsToF32(a[i]!);
  if (dtype === 'f16') return (a, i) => f16BitsToF32(a[i]!);
  return (a, i) => a[i]!;
}

/**
 * o [H, Tq, d] = attention of q [H, Tq, d] over keys [0, Tk) of k, v [Hkv, kvStride, d] (kvStride default Tk):
 * head h reads kv head ⌊h / (H/Hkv)⌋; query i sits at position Tk − Tq + i. A row with no allowed key outputs
 * zeros. `chunks` splits the keys as the kernel's threads do; the result is the same up to rounding. k and v
 * hold f32 values (`dtype` 'f32', the default) or bf16 / f16 bit patterns (Uint16Array).
 */
export function decodeAttentionRef(
  q: Float32Array,
  k: Float32Array | Uint16Array,
  v: Float32Array | Uint16Array,
  o: Float32Array,
  { H, Hkv, Tq, Tk, d, kvStride = Tk }: AttentionDims,
  { causal, scale }: DecodeMasking,
  chunks = 1,
  dtype: DType = 'f32',
): void {
  const group = H / Hkv;
  const C = chunkKeys(Tk, chunks);
  const at = kvElement(dtype);
  for (let u = 0; u < Hkv; u++) {
    const K = (j: number, c: number) => at(k, (u * kvStride + j) * d + c);
    const V = (j: number, c: number) => at(v, (u * kvStride + j) * d + c);
    for (let h = u * group; h < (u + 1) * group; h++) {
      for (let i = 0; i < Tq; i++) {
        const row = (h * Tq + i) * d;
        const last = causal ? Tk - Tq + i : Tk - 1;
        const parts: Partial[] = [];
        for (let c = 0; c < chunks; c++) {
          const j0 = Math.min(Tk, c * C);
          const j1 = Math.min(Tk, j0 + C, last + 1);
          parts.push(chunkPartial(q.subarray(row, row + d), K, V, j0, j1, d, scale));
        }
        mergeInto(parts, o.subarray(row, row + d));
      }
    }
  }
}

/** Scores of keys [j0, j1) (max subtracted), their sum, and Σ p_j v_j. */
function chunkPartial(
  qi: Float32Array,
  K: (j: number, c: number) => number,
  V: (j: number, c: number) => number,
  j0: number,
  j1: number,
  d: number,
  scale: number,
): Partial {
  const s = new Float64Array(Math.max(0, j1 - j0));
  let m = Number.NEGATIVE_INFINITY;
  for (let j = j0; j < j1; j++) {
    let dot = 0;
    for (let c = 0; c < d; c++) dot += qi[c]! * K(j, c);
    s[j - j0] = dot * scale;
    m = Math.max(m, s[j - j0]!);
  }
  let l = 0;
  const acc = new Float64Array(d);
  for (let j = j0; j < j1; j++) {
    const p = Math.exp(s[j - j0]! - m);
    l += p;
    for (let c = 0; c < d; c++) acc[c]! += p * V(j, c);
  }
  return { m, l, acc };
}

/** out = Σ e^(m_c − M)·acc_c / Σ e^(m_c − M)·l_c over the chunks, M = max m_c (zeros when no chunk has a key). */
function mergeInto(parts: Partial[], out: Float32Array): void {
  const M = Math.max(...parts.map((p) => p.m));
  out.fill(0);
  if (M === Number.NEGATIVE_INFINITY) return;
  let L = 0;
  const sum = new Float64Array(out.length);
  for (const { m, l, acc } of parts) {
    if (l === 0) continue;
    const e = Math.exp(m - M);
    L += e * l;
    for (let c = 0; c < out.length; c++) sum[c]! += e * acc[c]!;
  }
  for (let c = 0; c < out.length; c++) out[c] = sum[c]! / L;
}
