/** Seeded pseudo-random numbers (mulberry32) so tests, benchmarks and pruning are reproducible. */

import { type Shape, sizeOf, Tensor } from './tensor.js';

/** A seeded generator of uniform numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A tensor of standard normal values (Box–Muller) from a seed. */
export function randn(shape: Shape, seed = 0): Tensor {
  const next = rng(seed);
  const n = sizeOf(shape);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(next(), 1e-12);
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return new Tensor(out, shape);
}

/** 0 … n−1 in a seeded uniformly random order (Fisher–Yates). */
export function shuffledIndices(n: number, seed: number): Uint32Array {
  const next = rng(seed);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

/** A copy of `t` with a random fraction `sparsity` of its elements set to zero (exactly round(n·sparsity)). */
export function sparsify(t: Tensor, sparsity: number, seed = 1): Tensor {
  if (!(sparsity >= 0 && sparsity <= 1))
    throw new RangeError(`sparsify: sparsity must be in [0,1], got ${sparsity}`);
  const n = t.size;
  const order = shuffledIndices(n, seed);
  const out = t.data.slice();
  const zeros = Math.round(n * sparsity);
  for (let i = 0; i < zeros; i++) out[order[i]!] = 0;
  return new Tensor(out, t.shape);
}
