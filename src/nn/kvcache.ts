/**
 * Key/value cache for causal attention: one preallocated [Hkv, capacity, d] buffer pair per layer, grown by
 * doubling. The buffers are kernel arrays (in WebAssembly memory), so attention reads them in place. Elements are
 * stored as f32 or, to halve the cache's memory and the bytes a decode step reads, as bf16 / f16 bit patterns
 * (rounded to nearest even when written; attention computes in f32).
 */

import { kernelArray } from '../backend/resident.js';
import { runtime } from '../backend/wasm.js';
import { type DType, dtypeBytes, writeBf16, writeF16 } from '../tensor/dtype.js';

/** Element storage of a KV cache. */
export type KVDType = DType;

/** The storages a KV cache takes. */
export const KV_DTYPES: readonly KVDType[] = ['f32', 'bf16', 'f16'];

/** Check a cache dtype given by a caller; `what` names the option in the error. */
export function checkKVDType(dtype: unknown, what: string): KVDType {
  if (!(KV_DTYPES as readonly unknown[]).includes(dtype)) {
    throw new RangeError(`${what} must be one of ${KV_DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
  }
  return dtype as KVDType;
}

/** What a model's forward needs from a cache: its length and reset. */
export interface KVCache {
  /** Positions held (tokens already run). */
  readonly length: number;
  /** Element storage of the keys and values. */
  readonly dtype: KVDType;
  /** Bytes of key and value buffers held (every layer, the whole capacity). */
  readonly nbytes: number;
  /** Forget everything (keeps the buffers for reuse). */
  reset(): void;
}

type KVArray = Float32Array | Uint16Array;

/**
 * One layer's keys and values, [Hkv, cap, d] each; positions [0, length) of every head are valid. `k` and `v` hold
 * f32 values (dtype 'f32') or bf16 / f16 bit patterns (Uint16Array).
 */
export class LayerKV {
  k: KVArray;
  v: KVArray;
  cap: number;

  constructor(
    readonly kvHeads: number,
    readonly headDim: number,
    cap: number,
    readonly dtype: KVDType = 'f32',
  ) {
    checkKVDType(dtype, 'LayerKV: dtype');
    this.cap = cap;
    this.k = kvBuffer(dtype, kvHeads * cap * headDim);
    this.v = kvBuffer(dtype, kvHeads * cap * headDim);
  }

  /** Bytes of k and v. */
  get nbytes(): number {
    return this.k.byteLength + this.v.byteLength;
  }

  /** Make room for `positions` positions, keeping the first `keep`. */
  reserve(positions: number, keep: number, maxCap: number): void {
    if (positions <= this.cap) return;
    const cap = Math.min(maxCap, Math.max(positions, 2 * this.cap));
    const d = this.headDim;
    const k = kvBuffer(this.dtype, this.kvHeads * cap * d);
    const v = kvBuffer(this.dtype, this.kvHeads * cap * d);
    for (let h = 0; h < this.kvHeads; h++) {
      k.set(this.k.subarray(h * this.cap * d, (h * this.cap + keep) * d) as never, h * cap * d);
      v.set(this.v.subarray(h * this.cap * d, (h * this.cap + keep) * d) as never, h * cap * d);
    }
    this.k = k;
    this.v = v;
    this.cap = cap;
  }

  /**
   * Write kNew, vNew [Hkv, T, d] at positions [start, start + T) (capacity must already be there), rounded to
   * nearest even for a half cache.
   */
  write(kNew: Float32Array, vNew: Float32Array, start: number, T: number): void {
    const d = this.headDim;
    const store = storeAs(this.dtype);
    for (let h = 0; h < this.kvHeads; h++) {
      store(this.k, kNew.subarray(h * T * d, (h + 1) * T * d), (h * this.cap + start) * d);
      store(this.v, vNew.subarray(h * T * d, (h + 1) * T * d), (h * this.cap + start) * d);
    }
  }
}

/** Options of a model's newCache(). */
export interface CacheOptions {
  /** Element storage (default: the dtype the model's weights are held in, see CausalModel.defaultCacheDtype). */
  dtype?: KVDType;
}

/**
 * A cache for one model: one LayerKV per layer. Created by a model's `newCache()`; a forward with it runs the
 * new tokens after the cached ones and appends them.
 */
export class ModelKVCache implements KVCache {
  private len = 0;
  readonly layers: LayerKV[];

  /**
   * @param owner the model the cache belongs to (forward refuses another model's cache)
   * @param maxPositions capacity limit (the model's maxPositions)
   * @param initial starting capacity (grows by doubling up to maxPositions)
   * @param dtype element storage of keys and values
   */
  constructor(
    readonly owner: object,
    layers: number,
    kvHeads: number,
    headDim: number,
    readonly maxPositions: number,
    initial = 64,
    readonly dtype: KVDType = 'f32',
  ) {
    checkKVDType(dtype, 'ModelKVCache: dtype');
    const cap = Math.max(1, Math.min(maxPositions, initial));
    this.layers = Array.from({ length: layers }, () => new LayerKV(kvHeads, headDim, cap, dtype));
  }

  get length(): number {
    return this.len;
  }

  get nbytes(): number {
    return this.layers.reduce((n, l) => n + l.nbytes, 0);
  }

  /** Bytes one cached position takes across all layers (keys and values). */
  get bytesPerPosition(): number {
    const l = this.layers[0];
    return l ? 2 * this.layers.length * l.kvHeads * l.headDim * dtypeBytes(this.dtype) : 0;
  }

  reset(): void {
    this.len = 0;
  }

  /** Check room for T more tokens and grow every layer's buffers if needed. */
  prepare(T: number, what: string): void {
    if (this.len + T > this.maxPositions) {
      throw new RangeError(
        `${what}: ${this.len} cached + ${T} new tokens = ${this.len + T} positions, more than the model's ` +
          `${this.maxPositions} (shorten the input or reset the cache)`,
      );
    }
    for (const l of this.layers) l.reserve(this.len + T, this.len, this.maxPositions);
  }

  /** Count T tokens as cached (after every layer wrote them). */
  commit(T: number): void {
    this.len += T;
  }
}

/** A zeroed buffer of n elements in kernel memory (a JS array where the runtime has no shared memory). */
function kvBuffer(dtype: KVDType, n: number): KVArray {
  return dtype === 'f32' ? kernelArray(runtime(), Float32Array, n) : kernelArray(runtime(), Uint16Array, n);
}

/** dst[at …] = src stored as `dtype` (half: round to nearest even, as dtype.ts's converters do). */
function storeAs(dtype: KVDType): (dst: KVArray, src: Float32Array, at: number) => void {
  if (dtype === 'bf16') return (dst, src, at) => writeBf16(src, dst as Uint16Array, at);
  if (dtype === 'f16') return (dst, src, at) => writeF16(src, dst as Uint16Array, at);
  return (dst, src, at) => dst.set(src, at);
}
