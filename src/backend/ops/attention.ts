/**
 * Blocked causal attention forward with online softmax and an optional block mask (block-sparse attention):
 * the kernel skips every query-block × key-block tile the mask turns off. Work is split across threads by
 * (head, query block) — or (4 heads of one kv group, query block) — balanced by the tiles each computes.
 */

import type { DType } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import { register, resolve } from '../dispatch.js';
import { splitByPrefix } from '../pool.js';
import { type AttentionDims, type AttentionMasking, attentionRef } from '../reference/attention.js';
import { kernelOffset } from '../resident.js';
import { runtime } from '../wasm.js';
import { checkKVStorage, DECODE_MAX_TQ, decodeAttention, kvAsF32 } from './decode-attention.js';
import { slottedRanges } from './select.js';

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** Mask keys after each query's absolute position (default true). */
  causal?: boolean;
  /** Tile size B of the block mask and of the kernel's query blocks (default 64). */
  blockSize?: number;
  /**
   * [H, ceil(Tq/B), ceil(Tk/B)] bytes, row-major: nonzero = compute this query-block × key-block tile,
   * 0 = skip it. Query blocks count from the first query row (not its absolute position). Default: all tiles.
   */
  blockMask?: Uint8Array;
  /** Score scale (default 1/√d). */
  scale?: number;
  /**
   * An [H, Tq] tensor to fill with each query row's log-sum-exp of its allowed scaled scores,
   * log Σ_j exp(q_i·k_j·scale) (−∞ for a row with no key): what the backward recomputes the probabilities
   * from. The output is the same with or without it.
   */
  lse?: Tensor;
}

function dims3(t: unknown, name: string, like: string): [number, number, number] {
  if (!(t instanceof Tensor)) throw new TypeError(`attention: ${name} must be a Tensor ${like}`);
  if (t.rank !== 3)
    throw new RangeError(`attention: ${name} must be ${like}, got shape [${t.shape.join(', ')}]`);
  return [t.shape[0]!, t.shape[1]!, t.shape[2]!];
}

/** Checks shapes and options; returns the call's sizes and masking with defaults filled in. */
export function attentionPlan(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions,
): { dims: AttentionDims; masking: AttentionMasking } {
  const [H, Tq, d] = dims3(q, 'q', '[H, Tq, d]');
  const [Hkv, Tk, dk] = dims3(k, 'k', '[Hkv, Tk, d]');
  dims3(v, 'v', '[Hkv, Tk, d]');
  if (d < 1)
    throw new RangeError(`attention: the head dim d must be ≥ 1, got q of shape [${q.shape.join(', ')}]`);
  if (dk !== d) throw new RangeError(`attention: k has head dim ${dk} but q has ${d}`);
  if (v.shape.join() !== k.shape.join()) {
    throw new RangeError(
      `attention: v must have k's shape [${k.shape.join(', ')}], got [${v.shape.join(', ')}]`,
    );
  }
  if (Hkv < 1 || H % Hkv !== 0) {
    throw new RangeError(
      `attention: q's ${H} heads must be a multiple of k's ${Hkv} kv heads (grouped-query)`,
    );
  }
  return { dims: { H, Hkv, Tq, Tk, d }, masking: maskingPlan(H, Tq, Tk, d, opts) };
}

/** Checks Tq ≤ Tk and the options; returns the masking with defaults filled in. */
function maskingPlan(H: number, Tq: number, Tk: number, d: number, opts: AttentionOptions): AttentionMasking {
  if (Tq > Tk) {
    throw new RangeError(
      `attention: q has ${Tq} queries but k has ${Tk} keys; queries are the last Tq of the Tk positions, so Tq ≤ Tk`,
    );
  }
  const { causal = true, blockSize: B = 64, blockMask, scale = 1 / Math.sqrt(d) } = opts;
  if (!Number.isInteger(B) || B < 1)
    throw new RangeError(`attention: blockSize must be an integer ≥ 1, got ${B}`);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new RangeError(`attention: scale must be a finite number, got ${scale}`);
  }
  if (blockMask !== undefined) {
    if (!(blockMask instanceof Uint8Array)) throw new TypeError('attention: blockMask must be a Uint8Array');
    const nQB = Math.ceil(Tq / B);
    const nKB = Math.ceil(Tk / B);
    if (blockMask.length !== H * nQB * nKB) {
      throw new RangeError(
        `attention: blockMask must have H·ceil(Tq/B)·ceil(Tk/B) = ${H}·${nQB}·${nKB} = ${H * nQB * nKB} ` +
          `bytes ([heads, query blocks, key blocks] for B = ${B}), got ${blockMask.length}`,
      );
    }
  }
  return { causal, blockSize: B, blockMask, scale };
}

/** opts.lse's data after checking it is an [H, Tq] Tensor (undefined when absent). */
function lseOut(opts: AttentionOptions, H: number, Tq: number, op: string): Float32Array | undefined {
  const { lse } = opts;
  if (lse === undefined) return undefined;
  if (!(lse instanceof Tensor) || lse.shape.length !== 2 || lse.shape[0] !== H || lse.shape[1] !== Tq) {
    const got = lse instanceof Tensor ? `[${lse.shape.join(', ')}]` : typeof lse;
    throw new RangeError(
      `${op}: lse must be a Tensor [H, Tq] = [${H}, ${Tq}] to receive the log-sum-exp, got ${got}`,
    );
  }
  return lse.data;
}

/**
 * Attention forward: o [H, Tq, d] = softmax(q kᵀ · scale) v per head, with causal and block masking.
 * q [H, Tq, d]; k, v [Hkv, Tk, d] with H a multiple of Hkv (head h uses kv head floor(h / (H/Hkv))).
 * Queries are the LAST Tq of the Tk positions: Tq = 1 is a decode step against a cache, Tq = Tk is prefill.
 * A query whose every key is masked out outputs zeros. A dense (or absent) blockMask is exact attention.
 * q, k and v are copied into kernel memory on every call; a decode step over a KV cache should use
 * {@link cachedAttention}, which reads keys and values in place.
 * @example attention(q, k, v, { blockSize: 64, blockMask }) // block-sparse prefill
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const plan = attentionPlan(q, k, v, opts);
  const lse = lseOut(opts, plan.dims.H, plan.dims.Tq, 'attention');
  return resolve<AttentionFn>('attention', ['dense'])(q, k, v, plan.dims, plan.masking, lse);
}

/**
 * Keys and values of one layer's KV cache: k and v [Hkv, cap, d] each, row-major; positions [0, length) of each
 * kv head are valid. Kernel arrays (backend `kernelArray`) are read in place by the kernel; other arrays are
 * copied per call. Stored as f32 (Float32Array) or as bf16 / f16 bit patterns (Uint16Array, `dtype`).
 */
export interface KVBuffers {
  readonly k: Float32Array | Uint16Array;
  readonly v: Float32Array | Uint16Array;
  readonly kvHeads: number;
  readonly cap: number;
  readonly headDim: number;
  /** Element storage of k and v (default 'f32'). */
  readonly dtype?: DType;
}

/**
 * Attention of q [H, Tq, d] over the first Tk positions of a KV cache (the queries are its last Tq positions):
 * what {@link attention} computes for k, v = the cache's [Hkv, Tk, d] prefix, without copying it. Up to
 * DECODE_MAX_TQ queries per head with no block mask and no lse (a decode step) run the decode kernel, which
 * streams each kv head's keys and values once for its whole query group; longer calls run the blocked kernel.
 * A half-precision cache (bf16 / f16) is read in place by the decode kernel; the blocked kernel gets the used
 * positions [Hkv, Tk, d] widened to f32 on each call (about 1 ns per element: small beside a prefill's compute).
 * @example cachedAttention(q, layerKV, start + T, { scale }) // a decode step, K and V read where they are
 */
export function cachedAttention(q: Tensor, kv: KVBuffers, Tk: number, opts: AttentionOptions = {}): Tensor {
  const [H, Tq, d] = dims3(q, 'q', '[H, Tq, d]');
  const { k, v, kvHeads: Hkv, cap, headDim } = kv;
  if (headDim !== d)
    throw new RangeError(`cachedAttention: the cache has head dim ${headDim} but q has ${d}`);
  if (Hkv < 1 || H % Hkv !== 0) {
    throw new RangeError(
      `cachedAttention: q's ${H} heads must be a multiple of the cache's ${Hkv} kv heads (grouped-query)`,
    );
  }
  if (!Number.isInteger(Tk) || Tk < 0 || Tk > cap) {
    throw new RangeError(
      `cachedAttention: Tk must be an integer in [0, ${cap}] (the cache's capacity), got ${Tk}`,
    );
  }
  if (k.length !== Hkv * cap * d || v.length !== Hkv * cap * d) {
    throw new RangeError(
      `cachedAttention: k and v must hold [Hkv, cap, d] = ${Hkv * cap * d} elements, got ${k.length} and ${v.length}`,
    );
  }
  checkKVStorage(kv);
  const masking = maskingPlan(H, Tq, Tk, d, opts);
  if (Tq <= DECODE_MAX_TQ && masking.blockMask === undefined && opts.lse === undefined) {
    return decodeAttention(q, kv, Tk, { causal: masking.causal, scale: masking.scale });
  }
  const f32 = kvAsF32(kv, Tk); // a half cache: its first Tk positions widened, [Hkv, Tk, d]
  const stride = f32.k === k ? cap : Tk;
  const kt = new Tensor(f32.k, [Hkv, stride, d]);
  const vt = new Tensor(f32.v, [Hkv, stride, d]);
  return resolve<AttentionFn>('attention', ['dense'])(
    q,
    kt,
    vt,
    { H, Hkv, Tq, Tk, d, kvStride: stride },
    masking,
    lseOut(opts, H, Tq, 'cachedAttention'),
  );
}

type AttentionFn = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: AttentionDims,
  masking: AttentionMasking,
  lse?: Float32Array,
) => Tensor;

/** Rows of `rows × d` copied into rows of dp ≥ d floats (zero-padded), so the kernel needs no column tail. */
export function padRows(src: Float32Array, rows: number, d: number, dp: number): Float32Array {
  if (dp === d) return src;
  const out = new Float32Array(rows * dp);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * d, r * d + d), r * dp);
  return out;
}

/** The first Tk of every kv head's `stride` positions of [Hkv, stride, d], as a contiguous [Hkv, Tk, d]. */
function kvPrefix(src: Float32Array, Hkv: number, stride: number, Tk: number, d: number): Float32Array {
  if (stride === Tk) return src;
  const out = new Float32Array(Hkv * Tk * d);
  for (let h = 0; h < Hkv; h++) out.set(src.subarray(h * stride * d, (h * stride + Tk) * d), h * Tk * d);
  return out;
}

/**
 * Below this many flops (4·d per query-key pair) attention stays on one thread: a decode step at short
 * context is tens of µs of work, about what handing it to the pool costs.
 */
export const ATTENTION_MIN_PARALLEL_FLOPS = 1 << 20;

/**
 * The kernel's work items: (head, query block), or (4 heads, query block) when the kv group size H/Hkv is a
 * multiple of 4, so one pass over a kv head's K and V serves 4 query heads (see kernels/attention.ts).
 */
function workItems({ H, Hkv, Tq }: AttentionDims, B: number): { heads4: boolean; items: number } {
  const heads4 = (H / Hkv) % 4 === 0;
  return { heads4, items: (heads4 ? H / 4 : H) * Math.ceil(Tq / B) };
}

/**
 * Cumulative cost of the work items for splitting them across threads, in query-key pairs: each computed
 * tile counts the item's rows (1 for a decode step, not B) × the tile's keys × the heads it serves, plus one
 * key block of set-up and normalisation per item.
 */
function itemCosts(dims: AttentionDims, { causal, blockSize: B, blockMask }: AttentionMasking): Float64Array {
  const { Tq, Tk } = dims;
  const { heads4, items } = workItems(dims, B);
  const lanes = heads4 ? 4 : 1;
  const nQB = Math.ceil(Tq / B);
  const nKB = Math.ceil(Tk / B);
  const tileOn = (h: number, qb: number, kb: number) =>
    blockMask === undefined || blockMask[(h * nQB + qb) * nKB + kb] !== 0;
  const prefix = new Float64Array(items + 1);
  for (let w = 0; w < items; w++) {
    const h0 = Math.floor(w / nQB) * lanes;
    const qb = w % nQB;
    const rows = Math.min(B, Tq - qb * B);
    const lastPos = Tk - Tq + qb * B + rows - 1;
    let pairs = rows * B; // the item's own set-up and normalisation
    for (let kb = 0; kb < nKB && !(causal && kb * B > lastPos); kb++) {
      for (let t = 0; t < lanes; t++) {
        if (tileOn(h0 + t, qb, kb)) {
          pairs += lanes * rows * Math.min(B, Tk - kb * B);
          break;
        }
      }
    }
    prefix[w + 1] = prefix[w]! + pairs;
  }
  return prefix;
}

function attentionWasm(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: AttentionDims,
  masking: AttentionMasking,
  lse?: Float32Array,
): Tensor {
  const { H, Hkv, Tq, Tk, d } = dims;
  const B = masking.blockSize;
  const out = Tensor.zeros([H, Tq, d]);
  if (H * Tq === 0) return out;
  const dp = Math.ceil(d / 4) * 4;
  const rt = runtime();
  const ptrs: number[] = [];
  const upload = (a: Float32Array | Uint8Array) => {
    const p = rt.upload(a);
    ptrs.push(p);
    return p;
  };
  // k and v in place when they are kernel arrays with no padding to add (a KV cache), else copied
  const stride = dims.kvStride ?? Tk;
  const kIn = dp === d ? kernelOffset(rt, k.data) : undefined;
  const vIn = dp === d ? kernelOffset(rt, v.data) : undefined;
  const inPlace = kIn !== undefined && vIn !== undefined;
  try {
    const qp = upload(padRows(q.data, H * Tq, d, dp));
    const kp = inPlace ? kIn : upload(padRows(kvPrefix(k.data, Hkv, stride, Tk, d), Hkv * Tk, d, dp));
    const vp = inPlace ? vIn : upload(padRows(kvPrefix(v.data, Hkv, stride, Tk, d), Hkv * Tk, d, dp));
    const mp = masking.blockMask ? upload(masking.blockMask) : 0;
    const op = rt.alloc(H * Tq * dp * 4);
    ptrs.push(op);
    const lp = lse ? rt.alloc(H * Tq * 4) : 0;
    if (lse) ptrs.push(lp);
    const { heads4, items } = workItems(dims, B);
    const prefix = itemCosts(dims, masking);
    const flops = prefix[items]! * dp * 4;
    const ranges =
      flops < ATTENTION_MIN_PARALLEL_FLOPS || rt.threads === 1
        ? [[0, items] as [number, number]]
        : splitByPrefix(prefix, rt.threads);
    const slotBytes = rt.kernels.attention_scratch_bytes!(B) as number;
    const scratch = rt.alloc(ranges.length * slotBytes);
    ptrs.push(scratch);
    const causal = masking.causal ? 1 : 0;
    const kvStride = inPlace ? stride : Tk;
    const args = [
      qp,
      kp,
      vp,
      op,
      H,
      Hkv,
      Tq,
      Tk,
      kvStride,
      dp,
      B,
      mp,
      causal,
      heads4 ? 1 : 0,
      masking.scale,
      scratch,
      lp,
    ];
    rt.parallel('attention_f32', args, slottedRanges(ranges, items));
    const o = rt.f32(op, H * Tq * dp);
    if (dp === d) out.data.set(o);
    else for (let r = 0; r < H * Tq; r++) out.data.set(o.subarray(r * dp, r * dp + d), r * d);
    if (lse) lse.set(rt.f32(lp, H * Tq));
    return out;
  } finally {
    for (const p of ptrs) rt.free(p);
  }
}

function attentionReference(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: AttentionDims,
  masking: AttentionMasking,
  lse?: Float32Array,
): Tensor {
  const out = Tensor.zeros([dims.H, dims.Tq, dims.d]);
  attentionRef(q.data, k.data, v.data, out.data, dims, masking, lse);
  return out;
}

register('attention', ['dense'], 'fast', attentionWasm);
register('attention', ['dense'], 'reference', attentionReference);
