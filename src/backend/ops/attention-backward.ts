/**
 * Attention backward (FlashAttention-2's): dq, dk, dv of o = attention(q, k, v) from the output gradient and
 * the forward's per-row log-sum-exp, with the forward's causal mask, block mask and grouped-query heads. The
 * kernel splits work by (kv head, key block), so dk and dv rows have one writer; dq is summed from one
 * partial per thread.
 */

import { Tensor } from '../../tensor/tensor.js';
import { register, resolve } from '../dispatch.js';
import { splitByPrefix } from '../pool.js';
import type { AttentionDims, AttentionMasking } from '../reference/attention.js';
import { attentionBackwardRef } from '../reference/attention-backward.js';
import { runtime } from '../wasm.js';
import { ATTENTION_MIN_PARALLEL_FLOPS, type AttentionOptions, attentionPlan, padRows } from './attention.js';
import { slottedRanges } from './select.js';

/** Gradients of one attention call: dq like q [H, Tq, d]; dk, dv like k and v [Hkv, Tk, d]. */
export interface AttentionGradients {
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

type BackwardFn = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  lse: Tensor,
  dO: Tensor,
  dims: AttentionDims,
  masking: AttentionMasking,
) => AttentionGradients;

function sameShape(t: unknown, like: Tensor, name: string, what: string): void {
  if (!(t instanceof Tensor) || t.shape.join() !== like.shape.join()) {
    const got = t instanceof Tensor ? `[${t.shape.join(', ')}]` : typeof t;
    throw new RangeError(`attentionBackward: ${name} must be ${what} [${like.shape.join(', ')}], got ${got}`);
  }
}

/**
 * Gradients of o = attention(q, k, v, opts) given dO = ∂L/∂o: probabilities are recomputed from q, k and lse
 * (the forward's `lse` option output, [H, Tq]); o is the forward's output. Options must be the forward's
 * (causal, blockSize, blockMask, scale); masked pairs and skipped tiles get no gradient. A kv head's dk and dv
 * sum over its query heads.
 * @example
 * const lse = Tensor.zeros([H, Tq]);
 * const o = attention(q, k, v, { lse });
 * const { dq, dk, dv } = attentionBackward(q, k, v, o, lse, dO);
 */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  lse: Tensor,
  dO: Tensor,
  opts: AttentionOptions = {},
): AttentionGradients {
  const { dims, masking } = attentionPlan(q, k, v, opts);
  sameShape(o, q, 'o', "the forward's output, shaped like q");
  sameShape(dO, q, 'dO', 'the output gradient, shaped like q');
  if (!(lse instanceof Tensor) || lse.shape.join() !== [dims.H, dims.Tq].join()) {
    const got = lse instanceof Tensor ? `[${lse.shape.join(', ')}]` : typeof lse;
    throw new RangeError(
      `attentionBackward: lse must be the forward's log-sum-exp [H, Tq] = [${dims.H}, ${dims.Tq}] (attention's lse option), got ${got}`,
    );
  }
  return resolve<BackwardFn>('attentionBackward', ['dense'])(q, k, v, o, lse, dO, dims, masking);
}

/** Rows of dp floats back to rows of d (the first d of each) into `out`. */
function unpadRows(src: Float32Array, rows: number, d: number, dp: number, out: Float32Array): void {
  if (dp === d) out.set(src.subarray(0, rows * d));
  else for (let r = 0; r < rows; r++) out.set(src.subarray(r * dp, r * dp + d), r * d);
}

/**
 * Cumulative cost of the kernel's work items (kv head, key block) in query-key pairs: each computed tile
 * counts rows × keys, plus one key block's transposes per item.
 */
function itemCosts({ H, Hkv, Tq, Tk }: AttentionDims, { causal, blockSize: B, blockMask }: AttentionMasking) {
  const nQB = Math.ceil(Tq / B);
  const nKB = Math.ceil(Tk / B);
  const group = H / Hkv;
  const prefix = new Float64Array(Hkv * nKB + 1);
  for (let w = 0; w < Hkv * nKB; w++) {
    const kvh = Math.floor(w / nKB);
    const j0 = (w % nKB) * B;
    const n = Math.min(B, Tk - j0);
    let pairs = n * B;
    const qb0 = causal ? Math.floor(Math.max(0, j0 - (Tk - Tq)) / B) : 0;
    for (let h = kvh * group; h < (kvh + 1) * group; h++) {
      for (let qb = qb0; qb < nQB; qb++) {
        if (blockMask && blockMask[(h * nQB + qb) * nKB + (w % nKB)] === 0) continue;
        pairs += Math.min(B, Tq - qb * B) * n;
      }
    }
    prefix[w + 1] = prefix[w]! + pairs;
  }
  return prefix;
}

function attentionBackwardWasm(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  lse: Tensor,
  dO: Tensor,
  dims: AttentionDims,
  masking: AttentionMasking,
): AttentionGradients {
  const { H, Hkv, Tq, Tk, d } = dims;
  const B = masking.blockSize;
  const grads = {
    dq: Tensor.zeros([H, Tq, d]),
    dk: Tensor.zeros([Hkv, Tk, d]),
    dv: Tensor.zeros([Hkv, Tk, d]),
  };
  if (H * Tq === 0) return grads;
  const dp = Math.ceil(d / 4) * 4;
  const rt = runtime();
  const ptrs: number[] = [];
  const upload = (a: Float32Array | Uint8Array) => {
    const p = rt.upload(a);
    ptrs.push(p);
    return p;
  };
  const alloc = (bytes: number) => {
    const p = rt.alloc(bytes);
    ptrs.push(p);
    return p;
  };
  try {
    const qp = upload(padRows(q.data, H * Tq, d, dp));
    const kp = upload(padRows(k.data, Hkv * Tk, d, dp));
    const vp = upload(padRows(v.data, Hkv * Tk, d, dp));
    const op = upload(padRows(o.data, H * Tq, d, dp));
    const gp = upload(padRows(dO.data, H * Tq, d, dp));
    const lp = upload(lse.data);
    const mp = masking.blockMask ? upload(masking.blockMask) : 0;
    const items = Hkv * Math.ceil(Tk / B);
    const prefix = itemCosts(dims, masking);
    const flops = prefix[items]! * dp * 10; // five products of 2 flops per pair and column
    const ranges =
      flops < ATTENTION_MIN_PARALLEL_FLOPS || rt.threads === 1
        ? [[0, items] as [number, number]]
        : splitByPrefix(prefix, rt.threads);
    const qFloats = H * Tq * dp;
    const dqp = alloc(ranges.length * qFloats * 4);
    const dkp = alloc(Hkv * Tk * dp * 4);
    const dvp = alloc(Hkv * Tk * dp * 4);
    const slotBytes = rt.kernels.attention_backward_scratch_bytes!(B, dp) as number;
    const scratch = alloc(ranges.length * slotBytes);
    const args = [qp, kp, vp, op, gp, lp, dqp, dkp, dvp, H, Hkv, Tq, Tk, dp, B, mp];
    args.push(masking.causal ? 1 : 0, masking.scale, scratch);
    rt.parallel('attention_backward_f32', args, slottedRanges(ranges, items));
    const dq = rt.f32(dqp, ranges.length * qFloats);
    for (let s = 1; s < ranges.length; s++) {
      for (let x = 0; x < qFloats; x++) dq[x]! += dq[s * qFloats + x]!;
    }
    unpadRows(dq, H * Tq, d, dp, grads.dq.data);
    unpadRows(rt.f32(dkp, Hkv * Tk * dp), Hkv * Tk, d, dp, grads.dk.data);
    unpadRows(rt.f32(dvp, Hkv * Tk * dp), Hkv * Tk, d, dp, grads.dv.data);
    return grads;
  } finally {
    for (const p of ptrs) rt.free(p);
  }
}

function attentionBackwardReference(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  lse: Tensor,
  dO: Tensor,
  dims: AttentionDims,
  masking: AttentionMasking,
): AttentionGradients {
  const { H, Hkv, Tq, Tk, d } = dims;
  const grads = {
    dq: Tensor.zeros([H, Tq, d]),
    dk: Tensor.zeros([Hkv, Tk, d]),
    dv: Tensor.zeros([Hkv, Tk, d]),
  };
  attentionBackwardRef(
    q.data,
    k.data,
    v.data,
    o.data,
    lse.data,
    dO.data,
    grads.dq.data,
    grads.dk.data,
    grads.dv.data,
    dims,
    masking,
  );
  return grads;
}

register('attentionBackward', ['dense'], 'fast', attentionBackwardWasm);
register('attentionBackward', ['dense'], 'reference', attentionBackwardReference);
