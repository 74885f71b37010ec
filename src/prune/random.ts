/** Random pruning: a seeded uniformly random mask, the floor every method must beat. */

import type { Mask } from '../sparsity/mask.js';
import {
  type NMPattern,
  prunedCountFor,
  pruneNM,
  pruneSmallestPerLayer,
  pruneSmallestPerRow,
} from '../sparsity/select.js';
import { rng } from '../tensor/random.js';
import { dims2, Tensor } from '../tensor/tensor.js';

function randomScores(R: number, C: number, seed: number): Tensor {
  const next = rng(seed);
  const d = new Float32Array(R * C);
  for (let i = 0; i < d.length; i++) d[i] = next();
  return new Tensor(d, [R, C]);
}

/** A random mask over w [R, C]: exactly floor(s·R·C) entries (group 'layer', default) or floor(s·C) per row. */
export function randomMask(w: Tensor, s: number, seed: number, group: 'layer' | 'row' = 'layer'): Mask {
  const [R, C] = dims2(w, 'randomMask: w');
  const scores = randomScores(R, C, seed);
  return group === 'row'
    ? pruneSmallestPerRow(scores, prunedCountFor(s, C))
    : pruneSmallestPerLayer(scores, prunedCountFor(s, R * C));
}

/** A random N:M mask: n random entries of every aligned group of m. */
export function randomNMMask(w: Tensor, pattern: NMPattern, seed: number): Mask {
  const [R, C] = dims2(w, 'randomNMMask: w');
  return pruneNM(randomScores(R, C, seed), pattern);
}
