/**
 * Causal (and block-sparse) attention on the tape. Forward: the blocked attention kernel (`attention` in
 * backend/ops). Backward: recompute each query row's probabilities in TypeScript (f64) and apply
 * dS = P ⊙ (dP − dO·O), dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dO (FlashAttention's backward, row by row).
 */

import { type AttentionOptions, attention as kernelAttention } from '../backend/ops/attention.js';
import { accumulate, record, type Var } from './tape.js';

/**
 * o [H, Tq, d] = softmax(q kᵀ · scale) v per head, q [H, Tq, d], k and v [Hkv, Tk, d] (grouped-query: head h
 * reads kv head floor(h / (H/Hkv))). Queries are the last Tq of the Tk positions; options as `attention`
 * (causal default true, optional blockMask and scale).
 */
export function attention(q: Var, k: Var, v: Var, opts: AttentionOptions = {}): Var {
  const o = kernelAttention(q.value, k.value, v.value, opts); // checks every shape and option
  const [H, Tq, d] = q.shape as [number, number, number];
  const [Hkv, Tk] = k.shape as [number, number, number];
  const { causal = true, blockSize: B = 64, blockMask, scale = 1 / Math.sqrt(d) } = opts;
  const nQB = Math.ceil(Tq / B);
  const nKB = Math.ceil(Tk / B);
  const allowed = (h: number, i: number, j: number) =>
    (!causal || j <= Tk - Tq + i) &&
    (blockMask === undefined || blockMask[(h * nQB + Math.floor(i / B)) * nKB + Math.floor(j / B)] !== 0);
  return record(o, [q, k, v], (g) => {
    const qd = q.value.data;
    const kd = k.value.data;
    const vd = v.value.data;
    const od = o.data;
    const dq = new Float32Array(q.size);
    const dk = new Float64Array(k.size);
    const dv = new Float64Array(v.size);
    const p = new Float64Array(Tk);
    for (let h = 0; h < H; h++) {
      const kv = Math.floor(h / (H / Hkv));
      for (let i = 0; i < Tq; i++) {
        const qi = (h * Tq + i) * d;
        let mx = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < Tk; j++) {
          if (!allowed(h, i, j)) {
            p[j] = Number.NEGATIVE_INFINITY;
            continue;
          }
          let s = 0;
          for (let c = 0; c < d; c++) s += qd[qi + c]! * kd[(kv * Tk + j) * d + c]!;
          p[j] = s * scale;
          mx = Math.max(mx, p[j]!);
        }
        if (mx === Number.NEGATIVE_INFINITY) continue; // no key: the output was 0, so is every gradient
        let sum = 0;
        for (let j = 0; j < Tk; j++) {
          p[j] = Math.exp(p[j]! - mx);
          sum += p[j]!;
        }
        let dOdotO = 0;
        for (let c = 0; c < d; c++) dOdotO += g.data[qi + c]! * od[qi + c]!;
        for (let j = 0; j < Tk; j++) {
          const pj = p[j]! / sum;
          if (pj === 0) continue;
          const kj = (kv * Tk + j) * d;
          let dp = 0;
          for (let c = 0; c < d; c++) {
            dp += g.data[qi + c]! * vd[kj + c]!;
            dv[kj + c]! += pj * g.data[qi + c]!;
          }
          const ds = pj * (dp - dOdotO) * scale;
          for (let c = 0; c < d; c++) {
            dq[qi + c]! += ds * kd[kj + c]!;
            dk[kj + c]! += ds * qd[qi + c]!;
          }
        }
      }
    }
    accumulate(q, dq);
    accumulate(k, Float32Array.from(dk));
    accumulate(v, Float32Array.from(dv));
  });
}
