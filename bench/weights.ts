/** Benchmark weights: seeded random matrices, block-structured pruning, transposes and cold-cache copy counts. */

import { rng, shuffledIndices } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';

export { lastLevelCache, parseCacheSize } from '../src/backend/ops/probe.js';

/**
 * How many distinct copies of a weight of `bytes` to cycle through so that the copies together exceed
 * twice the last-level cache (each timed call then finds its weight evicted): at least 2.
 */
export function coldCopies(bytes: number, llcBytes: number): number {
  return Math.max(2, Math.floor((2 * llcBytes) / Math.max(1, bytes)) + 1);
}

/**
 * A copy of `t` [M,K] with a seeded random fraction `sparsity` of its r×c blocks set to zero (exactly
 * round(blocks·sparsity) of them; edge blocks count as blocks).
 */
export function blockSparsify(t: Tensor, r: number, c: number, sparsity: number, seed = 1): Tensor {
  if (t.rank !== 2) throw new RangeError(`blockSparsify: t must be rank 2, got [${t.shape.join(', ')}]`);
  if (!(sparsity >= 0 && sparsity <= 1))
    throw new RangeError(`blockSparsify: sparsity must be in [0,1], got ${sparsity}`);
  const [M, K] = t.shape as [number, number];
  const br = Math.ceil(M / r);
  const bc = Math.ceil(K / c);
  const n = br * bc;
  const order = shuffledIndices(n, seed);
  const out = t.data.slice();
  const zeros = Math.round(n * sparsity);
  for (let z = 0; z < zeros; z++) {
    const b = order[z]!;
    const i0 = Math.floor(b / bc) * r;
    const k0 = (b % bc) * c;
    for (let i = i0; i < Math.min(i0 + r, M); i++) out.fill(0, i * K + k0, i * K + Math.min(k0 + c, K));
  }
  return new Tensor(out, t.shape);
}

/** Wᵀ as a flat row-major [K,M] array (blocked so large matrices stay cache-friendly). */
export function transposed(w: Tensor): Float32Array {
  const [M, K] = w.shape as [number, number];
  const out = new Float32Array(M * K);
  const B = 64;
  for (let i0 = 0; i0 < M; i0 += B) {
    for (let k0 = 0; k0 < K; k0 += B) {
      const i1 = Math.min(i0 + B, M);
      const k1 = Math.min(k0 + B, K);
      for (let i = i0; i < i1; i++) for (let k = k0; k < k1; k++) out[k * M + i] = w.data[i * K + k]!;
    }
  }
  return out;
}

/** A seeded index set of `count` distinct active inputs out of K, sorted ascending. */
export function activeSet(K: number, count: number, seed = 3): Uint32Array {
  const next = rng(seed);
  const order = new Uint32Array(K);
  for (let i = 0; i < K; i++) order[i] = i;
  for (let i = K - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order.slice(0, count).sort();
}
