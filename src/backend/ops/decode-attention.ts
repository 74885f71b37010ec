/**
 * Decode attention over a KV cache: the few query rows of a decode step (Tq ≤ DECODE_MAX_TQ per head) with each
 * kv head's keys and values streamed once for the whole query group (kernels/decode-attention.ts), read where
 * the cache holds them. `cachedAttention` routes here when Tq is small and no block mask or lse is asked for.
 * Threads split the kv heads; when the heads do not divide evenly between them, every kv head's keys are cut
 * into one chunk per thread and the chunks' partial softmaxes are merged afterwards (flash-decoding).
 */

import { Tensor } from '../../tensor/tensor.js';
import { register, resolve } from '../dispatch.js';
import { splitEven } from '../pool.js';
import { type DecodeMasking, decodeAttentionRef } from '../reference/decode-attention.js';
import { kernelOffset } from '../resident.js';
import { runtime } from '../wasm.js';
import type { KVBuffers } from './attention.js';
import { slottedRanges } from './select.js';

/** Queries per head up to which cachedAttention takes the decode kernel (a decode step, or a few drafted tokens). */
export const DECODE_MAX_TQ = 4;

/**
 * Below this many flops (4·d per query-key pair) decode attention stays on one thread: a SmolLM-sized layer
 * (9 heads, d = 64) at context 128 is about 20 µs of work, what handing it to the pool costs.
 */
export const DECODE_MIN_PARALLEL_FLOPS = 1 << 20;

/** Longest chunk of keys one work item scores at once (its scores sit in the thread's scratch: G × this f32). */
export const DECODE_MAX_CHUNK_KEYS = 4096;

/** How a call is cut into work items (kv head, key chunk) and the items into thread ranges. */
export interface DecodePlan {
  /** Key chunks per kv head (merged afterwards when > 1). */
  chunks: number;
  /** Ranges of the Hkv·chunks work items, one per thread. */
  ranges: Array<[number, number]>;
}

/**
 * The split of a decode-attention call of `flops` over Hkv kv heads and Tk keys on `threads` threads: whole kv
 * heads per thread when they divide evenly, else `threads` chunks per kv head; chunks of at most
 * DECODE_MAX_CHUNK_KEYS keys in any case.
 */
export function decodePlan(Hkv: number, Tk: number, flops: number, threads: number): DecodePlan {
  const parts = flops < DECODE_MIN_PARALLEL_FLOPS ? 1 : threads;
  const base = Hkv % parts === 0 ? 1 : parts;
  const chunks = base * Math.ceil(Math.ceil(Tk / DECODE_MAX_CHUNK_KEYS) / base);
  return { chunks, ranges: splitEven(Hkv * chunks, parts) };
}

type DecodeAttentionFn = (q: Tensor, kv: KVBuffers, Tk: number, masking: DecodeMasking) => Tensor;

/**
 * o [H, Tq, d] = attention of q [H, Tq, d] (the last Tq of Tk positions) over the first Tk positions of a KV
 * cache, through the decode kernel (or its twin in reference mode). The caller checks shapes: use
 * {@link cachedAttention}, which calls this for small Tq.
 */
export function decodeAttention(q: Tensor, kv: KVBuffers, Tk: number, masking: DecodeMasking): Tensor {
  return resolve<DecodeAttentionFn>('decodeAttention', ['dense'])(q, kv, Tk, masking);
}

/** Byte offsets of consecutive 64-byte aligned regions of the given sizes, and their total. */
function layout(sizes: number[]): { at: number[]; total: number } {
  const at: number[] = [];
  let total = 0;
  for (const s of sizes) {
    at.push(total);
    total += Math.ceil(s / 64) * 64;
  }
  return { at, total };
}

/** Rows of `rows × d` into rows of dp ≥ d floats at `dst` (zero-padded: the kernel needs no column tail). */
function writeRows(dst: Float32Array, src: Float32Array, rows: number, d: number, dp: number): void {
  if (dp === d) {
    dst.set(src.subarray(0, rows * d));
    return;
  }
  dst.fill(0, 0, rows * dp);
  for (let r = 0; r < rows; r++) dst.set(src.subarray(r * d, r * d + d), r * dp);
}

/** The WebAssembly decode kernel (k and v read in place when they are kernel arrays and d is a multiple of 4). */
export function decodeAttentionWasm(q: Tensor, kv: KVBuffers, Tk: number, masking: DecodeMasking): Tensor {
  const [H, Tq, d] = q.shape as [number, number, number];
  const { kvHeads: Hkv, cap } = kv;
  if (H * Tq === 0) return Tensor.zeros([H, Tq, d]);
  const rt = runtime();
  const dp = Math.ceil(d / 4) * 4;
  const G = (H / Hkv) * Tq;
  // k and v in place when they are kernel arrays with no padding to add (a KV cache), else copied
  const kIn = dp === d ? kernelOffset(rt, kv.k) : undefined;
  const vIn = dp === d ? kernelOffset(rt, kv.v) : undefined;
  const inPlace = kIn !== undefined && vIn !== undefined;
  const { chunks, ranges } = decodePlan(Hkv, Tk, H * Tq * Tk * dp * 4, rt.threads);
  const items = Hkv * chunks;
  const slotBytes = rt.kernels.decode_attention_scratch_bytes!(G, Tk, chunks) as number;
  const rowBytes = dp * 4;
  const kvBytes = inPlace ? 0 : Hkv * Tk * rowBytes;
  const merged = chunks > 1;
  // one heap block: q, o, the threads' scratch, partial accumulators and (m, l), copies of k and v
  const { at, total } = layout([
    H * Tq * rowBytes,
    H * Tq * rowBytes,
    ranges.length * slotBytes,
    merged ? items * G * rowBytes : 0,
    merged ? items * G * 8 : 0,
    kvBytes,
    kvBytes,
  ]);
  const base = rt.alloc(total);
  try {
    const [qp, op, scratch, part, pml, kc, vc] = at.map((a) => base + a) as number[];
    writeRows(rt.f32(qp!, H * Tq * dp), q.data, H * Tq, d, dp);
    if (!inPlace) {
      for (const [src, dst] of [
        [kv.k, kc!],
        [kv.v, vc!],
      ] as const) {
        const out = rt.f32(dst, Hkv * Tk * dp);
        for (let h = 0; h < Hkv; h++) {
          writeRows(out.subarray(h * Tk * dp), src.subarray(h * cap * d), Tk, d, dp);
        }
      }
    }
    const args = [
      qp!,
      inPlace ? kIn : kc!,
      inPlace ? vIn : vc!,
      op!,
      H,
      Hkv,
      Tq,
      Tk,
      inPlace ? cap : Tk,
      dp,
      masking.causal ? 1 : 0,
      masking.scale,
      chunks,
      scratch!,
      merged ? part! : 0,
      merged ? pml! : 0,
    ];
    rt.parallel('decode_attention_f32', args, slottedRanges(ranges, items));
    if (merged) rt.parallel('decode_attention_merge_f32', [part!, pml!, op!, G, chunks, dp], [[0, H * Tq]]);
    const o = rt.f32(op!, H * Tq * dp);
    if (dp === d) return new Tensor(o.slice(), [H, Tq, d]);
    const out = Tensor.zeros([H, Tq, d]);
    for (let r = 0; r < H * Tq; r++) out.data.set(o.subarray(r * dp, r * dp + d), r * d);
    return out;
  } finally {
    rt.free(base);
  }
}

/** The twin: decodeAttentionRef in f64 over the whole key range (one chunk). */
export function decodeAttentionReference(
  q: Tensor,
  kv: KVBuffers,
  Tk: number,
  masking: DecodeMasking,
): Tensor {
  const [H, Tq, d] = q.shape as [number, number, number];
  const out = Tensor.zeros([H, Tq, d]);
  const dims = { H, Hkv: kv.kvHeads, Tq, Tk, d, kvStride: kv.cap };
  decodeAttentionRef(q.data, kv.k, kv.v, out.data, dims, masking);
  return out;
}

register('decodeAttention', ['dense'], 'fast', decodeAttentionWasm);
register('decodeAttention', ['dense'], 'reference', decodeAttentionReference);
