/**
 * The part of a causal language model that generation and evaluation use. models' `CausalLM` has this
 * shape (structural typing), and so do the small fakes the tests build.
 */

import type { Tensor } from '../tensor/tensor.js';

/** Keys and values of the positions a model has already run. */
export interface KVCache {
  /** Positions held. */
  readonly length: number;
  /** Drop everything. */
  reset(): void;
}

/** A causal LM as generation sees it. */
export interface Decoder {
  /** Positions the model can attend over (learned position rows or the RoPE range it was trained for). */
  readonly maxPositions: number;
  /** An empty cache for this model. */
  newCache(): KVCache;
  /**
   * Run `ids` after whatever `cache` holds (none: a fresh sequence, not kept); appends to the cache.
   * Returns logits [ids.length, vocab], or [1, vocab] for the last position when `lastOnly`.
   */
  forward(ids: ArrayLike<number>, cache?: KVCache, opts?: { lastOnly?: boolean }): Tensor;
}
