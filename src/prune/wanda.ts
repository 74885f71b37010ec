/**
 * Wanda (card 2; Sun et al. 2024, locuslab/wanda): score |W[r,c]| · ‖X_c‖₂, prune the smallest within each
 * output row (exactly floor(s·C) per row, ties to the lower column), or per N:M group. No weight update.
 */

import type { Mask } from '../sparsity/mask.js';
import {
  checkFinite,
  type NMPattern,
  prunedCountFor,
  pruneNM,
  pruneSmallestPerRow,
} from '../sparsity/select.js';
import { dims2, Tensor } from '../tensor/tensor.js';

/**
 * A[r,c] = |W[r,c]| · sqrt(S2[c]) for w [R, C] and S2 [C] (the squared input norms of InputStats; any common
 * scale is harmless). Products in f64, stored as f32 for selection.
 */
export function wandaScores(w: Tensor, S2: ArrayLike<number>): Tensor {
  const [R, C] = dims2(w, 'wandaScores: w');
  if (S2.length !== C)
    throw new RangeError(`wandaScores: S2 has ${S2.length} entries but w has ${C} columns`);
  checkFinite(S2, 'wandaScores: S2');
  const norm = Float64Array.from(S2, (v) => {
    if (v < 0) throw new RangeError(`wandaScores: S2 must be ≥ 0 (squared norms), got ${v}`);
    return Math.sqrt(v);
  });
  const out = new Float32Array(R * C);
  for (let r = 0; r < R; r++)
    for (let c = 0; c < C; c++) out[r * C + c] = Math.abs(w.data[r * C + c]!) * norm[c]!;
  return new Tensor(out, [R, C]);
}

/** Wanda mask of w [R, C] at sparsity s: the floor(s·C) lowest scores of every row. */
export function wandaMask(w: Tensor, S2: ArrayLike<number>, s: number): Mask {
  return pruneSmallestPerRow(wandaScores(w, S2), prunedCountFor(s, w.cols));
}

/** Wanda N:M mask: the n lowest scores of every aligned group of m in each row. */
export function wandaNMMask(w: Tensor, S2: ArrayLike<number>, pattern: NMPattern): Mask {
  return pruneNM(wandaScores(w, S2), pattern);
}
