/**
 * TypeScript twin of the attention kernel (src/kernels/attention.ts): plain masked softmax(QKᵀ·scale)·V,
 * element by element in f64. The readable definition the blocked online-softmax kernel is checked against.
 */

/** Sizes of one attention call: q [H, Tq, d], k and v [Hkv, Tk, d] (or [Hkv, kvStride, d], first Tk read). */
export interface AttentionDims {
  H: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  d: number;
  /** Positions per kv head in k and v (a KV cache's capacity); default Tk. */
  kvStride?: number;
}

/** Which (query, key) pairs count, and the score scale. */
export interface AttentionMasking {
  /** Keep key j for query i only when j ≤ Tk − Tq + i (the query's absolute position). */
  causal: boolean;
  /** Tile size B of blockMask. */
  blockSize: number;
  /** [H, ceil(Tq/B), ceil(Tk/B)] bytes, nonzero = the tile counts; undefined = every tile counts. */
  blockMask?: Uint8Array | undefined;
  /** Multiplies q·k before the softmax. */
  scale: number;
}

/**
 * o [H, Tq, d] = softmax over allowed keys j of (q_i · k_j · scale), times V. Head h reads kv head
 * floor(h / (H / Hkv)). A query with no allowed key outputs zeros. lse (optional, [H, Tq]) receives each row's
 * log Σ_j exp(score_j) over its allowed keys (−∞ when it has none).
 */
export function attentionRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  o: Float32Array,
  { H, Hkv, Tq, Tk, d, kvStride = Tk }: AttentionDims,
  { causal, blockSize: B, blockMask, scale }: AttentionMasking,
  lse?: Float32Array,
): void {
  const nQB = Math.ceil(Tq / B);
  const nKB = Math.ceil(Tk / B);
  const tileOn = (h: number, i: number, j: number) =>
    blockMask === undefined || blockMask[(h * nQB + Math.floor(i / B)) * nKB + Math.floor(j / B)] !== 0;
  const allowed = (h: number, i: number, j: number) => (!causal || j <= Tk - Tq + i) && tileOn(h, i, j);
  const scores = new Float64Array(Tk);
  for (let h = 0; h < H; h++) {
    const kv = Math.floor(h / (H / Hkv));
    for (let i = 0; i < Tq; i++) {
      const qi = (h * Tq + i) * d;
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < Tk; j++) {
        if (!allowed(h, i, j)) {
          scores[j] = Number.NEGATIVE_INFINITY;
          continue;
        }
        let s = 0;
        for (let c = 0; c < d; c++) s += q[qi + c]! * k[(kv * kvStride + j) * d + c]!;
        scores[j] = s * scale;
        max = Math.max(max, scores[j]!);
      }
      let sum = 0;
      for (let j = 0; j < Tk; j++) {
        scores[j] = max === Number.NEGATIVE_INFINITY ? 0 : Math.exp(scores[j]! - max);
        sum += scores[j]!;
      }
      if (lse) lse[h * Tq + i] = sum === 0 ? Number.NEGATIVE_INFINITY : max + Math.log(sum);
      for (let c = 0; c < d; c++) {
        let acc = 0;
        for (let j = 0; j < Tk; j++) if (scores[j] !== 0) acc += scores[j]! * v[(kv * kvStride + j) * d + c]!;
        o[qi + c] = sum === 0 ? 0 : acc / sum;
      }
    }
  }
}
