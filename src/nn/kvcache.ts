/**
 * Key/value cache for causal attention: one preallocated [Hkv, capacity, d] buffer pair per layer, grown by
 * doubling. The buffers are kernel arrays (in WebAssembly memory), so attention reads them in place.
 */

import { kernelArray } from '../backend/resident.js';
import { runtime } from '../backend/wasm.js';

/** What a model's forward needs from a cache: its length and reset. */
export interface KVCache {
  /** Positions held (tokens already run). */
  readonly length: number;
  /** Forget everything (keeps the buffers for reuse). */
  reset(): void;
}

/** One layer's keys and values, [Hkv, cap, d] each; positions [0, length) of every head are valid. */
export class LayerKV {
  k: Float32Array;
  v: Float32Array;
  cap: number;

  constructor(
    readonly kvHeads: number,
    readonly headDim: number,
    cap: number,
  ) {
    this.cap = cap;
    this.k = kvBuffer(kvHeads * cap * headDim);
    this.v = kvBuffer(kvHeads * cap * headDim);
  }

  /** Make room for `positions` positions, keeping the first `keep`. */
  reserve(positions: number, keep: number, maxCap: number): void {
    if (positions <= this.cap) return;
    const cap = Math.min(maxCap, Math.max(positions, 2 * this.cap));
    const d = this.headDim;
    const k = kvBuffer(this.kvHeads * cap * d);
    const v = kvBuffer(this.kvHeads * cap * d);
    for (let h = 0; h < this.kvHeads; h++) {
      k.set(this.k.subarray(h * this.cap * d, (h * this.cap + keep) * d), h * cap * d);
      v.set(this.v.subarray(h * this.cap * d, (h * this.cap + keep) * d), h * cap * d);
    }
    this.k = k;
    this.v = v;
    this.cap = cap;
  }

  /** Write kNew, vNew [Hkv, T, d] at positions [start, start + T) (capacity must already be there). */
  write(kNew: Float32Array, vNew: Float32Array, start: number, T: number): void {
    const d = this.headDim;
    for (let h = 0; h < this.kvHeads; h++) {
      this.k.set(kNew.subarray(h * T * d, (h + 1) * T * d), (h * this.cap + start) * d);
      this.v.set(vNew.subarray(h * T * d, (h + 1) * T * d), (h * this.cap + start) * d);
    }
  }
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
   */
  constructor(
    readonly owner: object,
    layers: number,
    kvHeads: number,
    headDim: number,
    readonly maxPositions: number,
    initial = 64,
  ) {
    const cap = Math.max(1, Math.min(maxPositions, initial));
    this.layers = Array.from({ length: layers }, () => new LayerKV(kvHeads, headDim, cap));
  }

  get length(): number {
    return this.len;
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

/** A zeroed f32 buffer in kernel memory (a JS array where the runtime has no shared memory). */
function kvBuffer(n: number): Float32Array {
  return kernelArray(runtime(), Float32Array, n);
}
