/** Mask: which entries of a [rows, cols] matrix are pruned (forced to zero), with counted density. */

import { dims2, type Tensor } from '../tensor/tensor.js';

/**
 * A pruning mask over a [rows, cols] matrix. `pruned[r·cols + c] = 1` means W[r, c] is forced to exactly 0
 * (the convention of every reference pruner). Density and sparsity are counted from the bits every time they
 * are read, never carried as a separate number, so what a mask reports is what it holds.
 *
 * ```ts
 * const m = Mask.fromZeros(w);   // the zeros w already has
 * m.sparsity;                    // counted: pruned / (rows · cols)
 * const pruned = m.apply(w);     // a copy of w with every pruned entry 0
 * ```
 */
export class Mask {
  readonly rows: number;
  readonly cols: number;
  /** [rows · cols] row-major, 1 = pruned. */
  readonly pruned: Uint8Array;

  constructor(rows: number, cols: number, pruned?: Uint8Array) {
    if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
      throw new RangeError(`Mask: rows and cols must be non-negative integers, got [${rows}, ${cols}]`);
    }
    const n = rows * cols;
    if (pruned !== undefined && pruned.length !== n) {
      throw new RangeError(`Mask: pruned has ${pruned.length} entries but [${rows}, ${cols}] needs ${n}`);
    }
    this.rows = rows;
    this.cols = cols;
    this.pruned = pruned ?? new Uint8Array(n);
  }

  /** The mask of the entries of w [R, C] that are exactly zero. */
  static fromZeros(w: Tensor): Mask {
    const [R, C] = dims2(w, 'Mask.fromZeros: w');
    const m = new Mask(R, C);
    for (let i = 0; i < w.data.length; i++) if (w.data[i] === 0) m.pruned[i] = 1;
    return m;
  }

  /** Entries in the matrix. */
  get size(): number {
    return this.rows * this.cols;
  }

  /** Pruned entries, counted. */
  get prunedCount(): number {
    let n = 0;
    for (let i = 0; i < this.pruned.length; i++) n += this.pruned[i]!;
    return n;
  }

  /** Kept entries, counted. */
  get keptCount(): number {
    return this.size - this.prunedCount;
  }

  /** pruned / size (0 for an empty matrix). */
  get sparsity(): number {
    return this.size === 0 ? 0 : this.prunedCount / this.size;
  }

  /** kept / size (1 for an empty matrix). */
  get density(): number {
    return 1 - this.sparsity;
  }

  /** Pruned entries of each row [rows]. */
  rowCounts(): Uint32Array {
    const out = new Uint32Array(this.rows);
    const C = this.cols;
    for (let r = 0; r < this.rows; r++) {
      let n = 0;
      for (let c = 0; c < C; c++) n += this.pruned[r * C + c]!;
      out[r] = n;
    }
    return out;
  }

  isPruned(r: number, c: number): boolean {
    return this.pruned[r * this.cols + c] === 1;
  }

  /** A copy of this mask. */
  clone(): Mask {
    return new Mask(this.rows, this.cols, this.pruned.slice());
  }

  /** Entries pruned by this mask or by `other` (same shape). */
  union(other: Mask): Mask {
    this.checkSame(other, 'Mask.union');
    const out = this.clone();
    for (let i = 0; i < out.pruned.length; i++) out.pruned[i]! |= other.pruned[i]!;
    return out;
  }

  /** A copy of w [rows, cols] with every pruned entry set to 0. */
  apply(w: Tensor): Tensor {
    const out = w.clone();
    this.applyInPlace(out);
    return out;
  }

  /** Set every pruned entry of w [rows, cols] to 0, in place; returns w. */
  applyInPlace(w: Tensor): Tensor {
    const [R, C] = dims2(w, 'Mask.apply: w');
    if (R !== this.rows || C !== this.cols) {
      throw new RangeError(`Mask.apply: w is [${R}, ${C}] but the mask is [${this.rows}, ${this.cols}]`);
    }
    for (let i = 0; i < this.pruned.length; i++) if (this.pruned[i]) w.data[i] = 0;
    return w;
  }

  private checkSame(other: Mask, what: string): void {
    if (!(other instanceof Mask) || other.rows !== this.rows || other.cols !== this.cols) {
      throw new RangeError(`${what}: masks must have the same shape [${this.rows}, ${this.cols}]`);
    }
  }
}

/** Counted density over several masks: kept / total entries (what "model sparsity" reports). */
export function totalDensity(masks: Iterable<Mask>): { kept: number; total: number; density: number } {
  let kept = 0;
  let total = 0;
  for (const m of masks) {
    kept += m.keptCount;
    total += m.size;
  }
  return { kept, total, density: total === 0 ? 1 : kept / total };
}

/** Counted zeros of a dense matrix (what a saved, pruned weight holds). */
export function countZeros(w: Tensor): number {
  let n = 0;
  for (let i = 0; i < w.data.length; i++) if (w.data[i] === 0) n++;
  return n;
}
