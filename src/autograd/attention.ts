/**
 * Causal (and block-sparse) attention on the tape. Forward: the blocked attention kernel (`attention` in
 * backend/ops), which also returns each query row's log-sum-exp. Backward: the attention backward kernel
 * (`attentionBackward`: FlashAttention-2's tiles, probabilities recomputed from q, k and that log-sum-exp;
 * its TypeScript twin is the reference).
 */

import { type AttentionOptions, attention as kernelAttention } from '../backend/ops/attention.js';
import { attentionBackward } from '../backend/ops/attention-backward.js';
import { Tensor } from '../tensor/tensor.js';
import { accumulate, gradEnabled, record, type Var } from './tape.js';

/**
 * o [H, Tq, d] = softmax(q kᵀ · scale) v per head, q [H, Tq, d], k and v [Hkv, Tk, d] (grouped-query: head h
 * reads kv head floor(h / (H/Hkv))). Queries are the last Tq of the Tk positions; options as `attention`
 * (causal default true, optional blockMask and scale).
 */
export function attention(q: Var, k: Var, v: Var, opts: AttentionOptions = {}): Var {
  const wantsGrad = gradEnabled() && (q.requiresGrad || k.requiresGrad || v.requiresGrad);
  // [H, Tq] log-sum-exp for the backward (the kernel checks every shape and option before filling it)
  const lse =
    opts.lse ?? (wantsGrad && q.shape.length === 3 ? Tensor.zeros([q.shape[0]!, q.shape[1]!]) : undefined);
  const o = kernelAttention(q.value, k.value, v.value, { ...opts, lse });
  return record(o, [q, k, v], (g) => {
    const { dq, dk, dv } = attentionBackward(q.value, k.value, v.value, o, lse!, g, opts);
    accumulate(q, dq);
    accumulate(k, dk);
    accumulate(v, dv);
  });
}
