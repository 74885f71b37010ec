/** Magnitude pruning (card 1): zero the weights with the smallest |w|, layer-wise, per row, globally or N:M. */

import type { Mask } from '../sparsity/mask.js';
import {
  type NMPattern,
  prunedCountFor,
  pruneNM,
  pruneReferenceThreshold,
  pruneSmallestGlobal,
  pruneSmallestPerLayer,
  pruneSmallestPerRow,
} from '../sparsity/select.js';
import { dims2, Tensor } from '../tensor/tensor.js';

/**
 * How a fraction is turned into a count: 'reference' is the references' THRESHOLD rule (t = the sorted score at
 * floor(s·n), prune every score ≤ t: floor(s·n) + 1 entries plus ties); 'exact' prunes exactly floor(s·n).
 */
export type SelectionRule = 'reference' | 'exact';

/** |W| [R, C] as scores. */
export function magnitudeScores(w: Tensor): Tensor {
  dims2(w, 'magnitudeScores: w');
  return new Tensor(w.data.map(Math.abs), w.shape);
}

/** Options of magnitudeMask. */
export interface MagnitudeOptions {
  /** Comparison group: the whole matrix (default, the Wanda repo's `prune_magnitude`) or each row. */
  group?: 'layer' | 'row';
  /** Layer-wise only: 'reference' (default, as `prune_magnitude`) or 'exact'. Per row is always exact. */
  selection?: SelectionRule;
}

/** Magnitude mask of w [R, C] at sparsity s. */
export function magnitudeMask(w: Tensor, s: number, opts: MagnitudeOptions = {}): Mask {
  const [R, C] = dims2(w, 'magnitudeMask: w');
  const scores = magnitudeScores(w);
  if ((opts.group ?? 'layer') === 'row') return pruneSmallestPerRow(scores, prunedCountFor(s, C));
  if ((opts.selection ?? 'reference') === 'reference') return pruneReferenceThreshold(scores, s);
  return pruneSmallestPerLayer(scores, prunedCountFor(s, R * C));
}

/** Magnitude N:M mask: the n smallest |w| of every aligned group of m in each row. */
export function magnitudeNMMask(w: Tensor, pattern: NMPattern): Mask {
  return pruneNM(magnitudeScores(w), pattern);
}

/**
 * Global magnitude (not in any reference; defined here): the exactly floor(s·total) smallest |w| over the union
 * of all matrices, ties to the earlier matrix, then row-major. Compares across matrices of different scales, so
 * it can empty whole matrices: a baseline only.
 */
export function magnitudeGlobalMasks(ws: readonly Tensor[], s: number): Mask[] {
  const total = ws.reduce((a, w) => a + w.size, 0);
  return pruneSmallestGlobal(ws.map(magnitudeScores), prunedCountFor(s, total));
}
