/**
 * TypeScript twin of the attention backward kernel (src/kernels/attention-backward.ts): row by row in f64,
 * each query row's probabilities recomputed from the forward's log-sum-exp, then FlashAttention's rules.
 */

import type { AttentionDims, AttentionMasking } from './attention.js';

/**
 * Gradients of o = attention(q, k, v) (see attentionRef) for an output gradient dO:
 * P_ij = exp(q_i·k_j·scale − lse_i) over allowed keys, D_i = dO_i·o_i, dS_ij = P_ij (dO_i·v_j − D_i),
 * dq_i = scale Σ_j dS_ij k_j, dk_j = scale Σ_i dS_ij q_i, dv_j = Σ_i P_ij dO_i (a kv head sums over its query
 * heads). q, o, dO, dq [H, Tq, d]; k, v, dk, dv [Hkv, Tk, d]; lse [H, Tq]. dq, dk and dv are overwritten.
 */
export function attentionBackwardRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  o: Float32Array,
  lse: Float32Array,
  dO: Float32Array,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  { H, Hkv, Tq, Tk, d }: AttentionDims,
  { causal, blockSize: B, blockMask, scale }: AttentionMasking,
): void {
  const nQB = Math.ceil(Tq / B);
  const nKB = Math.ceil(Tk / B);
  const allowed = (h: number, i: number, j: number) =>
    (!causal || j <= Tk - Tq + i) &&
    (blockMask === undefined || blockMask[(h * nQB + Math.floor(i / B)) * nKB + Math.floor(j / B)] !== 0);
  const gk = new Float64Array(dk.length);
  const gv = new Float64Array(dv.length);
  const gq = new Float64Array(d);
  for (let h = 0; h < H; h++) {
    const kv = Math.floor(h / (H / Hkv));
    for (let i = 0; i < Tq; i++) {
      const qi = (h * Tq + i) * d;
      gq.fill(0);
      const L = lse[h * Tq + i]!;
      let D = 0;
      for (let c = 0; c < d; c++) D += dO[qi + c]! * o[qi + c]!;
      for (let j = 0; j < Tk && L !== Number.NEGATIVE_INFINITY; j++) {
        if (!allowed(h, i, j)) continue;
        const kj = (kv * Tk + j) * d;
        let s = 0;
        let dp = 0;
        for (let c = 0; c < d; c++) {
          s += q[qi + c]! * k[kj + c]!;
          dp += dO[qi + c]! * v[kj + c]!;
        }
        const p = Math.exp(s * scale - L);
        const ds = p * (dp - D) * scale;
        for (let c = 0; c < d; c++) {
          gv[kj + c]! += p * dO[qi + c]!;
          gq[c]! += ds * k[kj + c]!;
          gk[kj + c]! += ds * q[qi + c]!;
        }
      }
      for (let c = 0; c < d; c++) dq[qi + c] = gq[c]!;
    }
  }
  dk.set(gk);
  dv.set(gv);
}
