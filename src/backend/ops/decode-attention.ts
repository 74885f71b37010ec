/**
 * Decode attention over a KV cache: the few query rows of a decode step (Tq ≤ DECODE_MAX_TQ per head) with each
 * kv head's keys and values streamed once for the whole query group (kernels/decode-attention.ts), read where
 * the cache holds them. `cachedAttention` routes here when Tq is small and no block mask or lse is asked for.
 * Threads split the kv heads; when the heads do not divide evenly between them, every kv head's keys are cut
 * into one chunk per thread and the chunks' partial softmaxes are merged afterwards (flash-decoding).
 * K and V may be stored in f32 or half precision (bf16 / f16: half the bytes a step reads), each read in place.
 */

import { type DType, f16BitsToF32 } from '../../tensor/dtype.js';
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

/** How a call is cut into work items (kv head, key chunk) and the items into thread ranges. */
export interface DecodePlan {
  /** Key chunks per kv head (merged afterwards when > 1). */
  chunks: number;
  /** Ranges of the Hkv·chunks work items, one per thread. */
  ranges: Array<[number, number]>;
}

/**
 * The split of a decode-attention call of `flops` over Hkv kv heads on `threads` threads: whole kv heads per
 * thread when they divide evenly, else `threads` key chunks per kv head. Any context fits one chunk (the kernel
 * keeps the scores of one block of 64 keys at a time).
 */
export function decodePlan(Hkv: number, flops: number, threads: number): DecodePlan {
  const parts = flops < DECODE_MIN_PARALLEL_FLOPS ? 1 : threads;
  const chunks = Hkv % parts === 0 ? 1 : parts;
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

/** KV storage → the decode kernel's entry point. */
const KERNEL: Record<DType, string> = {
  f32: 'decode_attention_f32',
  bf16: 'decode_attention_bf16',
  f16: 'decode_attention_f16',
};

/** The storage of a KV cache's k and v; an error when the arrays do not match it. */
export function checkKVStorage(kv: KVBuffers): DType {
  const dtype = kv.dtype ?? 'f32';
  if (!(dtype in KERNEL)) {
    throw new RangeError(
      `cachedAttention: the cache's dtype must be 'f32', 'bf16' or 'f16', got ${JSON.stringify(dtype)}`,
    );
  }
  const want = dtype === 'f32' ? Float32Array : Uint16Array;
  if (!(kv.k instanceof want) || !(kv.v instanceof want)) {
    throw new TypeError(
      `cachedAttention: a ${dtype} cache holds k and v as ${want.name}s (${dtype === 'f32' ? 'values' : 'bit patterns'}), got ${kv.k.constructor.name} and ${kv.v.constructor.name}`,
    );
  }
  return dtype;
}

let f16Table: Float32Array | undefined;

/** Half bit patterns → f32 (exact; f16 through a 65536-entry table built on first use). */
function widen(src: Uint16Array, dtype: 'bf16' | 'f16', dst: Float32Array): void {
  if (dtype === 'bf16') {
    const bits = new Int32Array(dst.buffer, dst.byteOffset, dst.length); // Int32: src << 16 may be negative
    for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
    return;
  }
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) f16Table[b] = f16BitsToF32(b);
  }
  const t = f16Table;
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]!]!;
}

/**
 * The cache's k and v as f32: an f32 cache's own arrays ([Hkv, cap, d]), or a half cache's first Tk positions
 * of each kv head widened into new [Hkv, Tk, d] arrays (what the blocked attention kernel reads).
 */
export function kvAsF32(kv: KVBuffers, Tk: number): { k: Float32Array; v: Float32Array } {
  const dtype = kv.dtype ?? 'f32';
  if (dtype === 'f32') return { k: kv.k as Float32Array, v: kv.v as Float32Array };
  const { kvHeads: Hkv, cap, headDim: d } = kv;
  const out = (src: Float32Array | Uint16Array) => {
    const dst = new Float32Array(Hkv * Tk * d);
    for (let h = 0; h < Hkv; h++) {
      const from = src.subarray(h * cap * d, (h * cap + Tk) * d) as Uint16Array;
      widen(from, dtype, dst.subarray(h * Tk * d, (h + 1) * Tk * d));
    }
    return dst;
  };
  return { k: out(kv.k), v: out(kv.v) };
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

/**
 * Rows of `rows × d` into rows of dp floats (dp a multiple of 8, zero-padded), every 8 columns even ones first:
 * x0 x2 x4 x6 x1 x3 x5 x7, the order the half kernels keep q and o in (see kernels/decode-attention.ts).
 */
function writeRowsEvenOdd(dst: Float32Array, src: Float32Array, rows: number, d: number, dp: number): void {
  for (let r = 0; r < rows; r++) {
    const s = r * d;
    for (let c = r * dp, e = 0; e < dp; c += 8, e += 8) {
      // slot j of the chunk ← column e + 2j, slot 4 + j ← column e + 2j + 1
      for (let j = 0; j < 4; j++) {
        const even = e + 2 * j;
        dst[c + j] = even < d ? src[s + even]! : 0;
        dst[c + 4 + j] = even + 1 < d ? src[s + even + 1]! : 0;
      }
    }
  }
}

/** The inverse of writeRowsEvenOdd: rows of dp permuted floats → rows of d in order. */
function readRowsEvenOdd(src: Float32Array, dst: Float32Array, rows: number, d: number, dp: number): void {
  for (let r = 0; r < rows; r++) {
    const s = r * d;
    for (let c = r * dp, e = 0; e < dp; c += 8, e += 8) {
      for (let j = 0; j < 4; j++) {
        const even = e + 2 * j;
        if (even < d) dst[s + even] = src[c + j]!;
        if (even + 1 < d) dst[s + even + 1] = src[c + 4 + j]!;
      }
    }
  }
}

/** Rows of `rows × d` half bit patterns into rows of dp ≥ d (zero-padded). */
function writeHalfRows(dst: Uint16Array, src: Uint16Array, rows: number, d: number, dp: number): void {
  dst.fill(0, 0, rows * dp);
  for (let r = 0; r < rows; r++) dst.set(src.subarray(r * d, r * d + d), r * dp);
}

/**
 * The WebAssembly decode kernel (k and v read in place when they are kernel arrays and d is a multiple of 4 for an
 * f32 cache, of 8 for a half one; else copied with zero padding).
 */
export function decodeAttentionWasm(q: Tensor, kv: KVBuffers, Tk: number, masking: DecodeMasking): Tensor {
  const [H, Tq, d] = q.shape as [number, number, number];
  const { kvHeads: Hkv, cap } = kv;
  if (H * Tq === 0) return Tensor.zeros([H, Tq, d]);
  const dtype = kv.dtype ?? 'f32';
  const half = dtype !== 'f32';
  const rt = runtime();
  const lanes = half ? 8 : 4; // a half kernel reads 8 elements (16 bytes) of a K or V row at once
  const dp = Math.ceil(d / lanes) * lanes;
  const G = (H / Hkv) * Tq;
  // k and v in place when they are kernel arrays with no padding to add (a KV cache), else copied
  const kIn = dp === d ? kernelOffset(rt, kv.k) : undefined;
  const vIn = dp === d ? kernelOffset(rt, kv.v) : undefined;
  const inPlace = kIn !== undefined && vIn !== undefined;
  const { chunks, ranges } = decodePlan(Hkv, H * Tq * Tk * dp * 4, rt.threads);
  const items = Hkv * chunks;
  const slotBytes = rt.kernels.decode_attention_scratch_bytes!(G) as number;
  const rowBytes = dp * 4;
  const kvBytes = inPlace ? 0 : Hkv * Tk * dp * (half ? 2 : 4);
  const merged = chunks > 1;
  // one call frame: q, o, the threads' scratch, partial accumulators and (m, l), copies of k and v
  const { at, total } = layout([
    H * Tq * rowBytes,
    H * Tq * rowBytes,
    ranges.length * slotBytes,
    merged ? items * G * rowBytes : 0,
    merged ? items * G * 8 : 0,
    kvBytes,
    kvBytes,
  ]);
  const base = rt.beginFrame(total);
  try {
    const [qp, op, scratch, part, pml, kc, vc] = at.map((a) => base + a) as number[];
    if (half) writeRowsEvenOdd(rt.f32(qp!, H * Tq * dp), q.data, H * Tq, d, dp);
    else writeRows(rt.f32(qp!, H * Tq * dp), q.data, H * Tq, d, dp);
    if (!inPlace) {
      for (const [src, dst] of [
        [kv.k, kc!],
        [kv.v, vc!],
      ] as const) {
        for (let h = 0; h < Hkv; h++) {
          const from = h * cap * d;
          if (half) {
            const out = new Uint16Array(rt.memory.buffer, dst + h * Tk * dp * 2, Tk * dp);
            writeHalfRows(out, src.subarray(from) as Uint16Array, Tk, d, dp);
          } else {
            writeRows(rt.f32(dst + h * Tk * dp * 4, Tk * dp), src.subarray(from) as Float32Array, Tk, d, dp);
          }
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
    rt.parallel(KERNEL[dtype], args, slottedRanges(ranges, items));
    if (merged) rt.parallel('decode_attention_merge_f32', [part!, pml!, op!, G, chunks, dp], [[0, H * Tq]]);
    const o = rt.f32(op!, H * Tq * dp);
    const out = Tensor.zeros([H, Tq, d]);
    if (half) readRowsEvenOdd(o, out.data, H * Tq, d, dp);
    else if (dp === d) out.data.set(o);
    else for (let r = 0; r < H * Tq; r++) out.data.set(o.subarray(r * dp, r * dp + d), r * d);
    return out;
  } finally {
    rt.endFrame(base);
  }
}

/** The twin: decodeAttentionRef in f64 over the whole key range (one chunk), decoding half K and V exactly. */
export function decodeAttentionReference(
  q: Tensor,
  kv: KVBuffers,
  Tk: number,
  masking: DecodeMasking,
): Tensor {
  const [H, Tq, d] = q.shape as [number, number, number];
  const out = Tensor.zeros([H, Tq, d]);
  const dims = { H, Hkv: kv.kvHeads, Tq, Tk, d, kvStride: kv.cap };
  decodeAttentionRef(q.data, kv.k, kv.v, out.data, dims, masking, 1, kv.dtype ?? 'f32');
  return out;
}

register('decodeAttention', ['dense'], 'fast', decodeAttentionWasm);
register('decodeAttention', ['dense'], 'reference', decodeAttentionReference);
