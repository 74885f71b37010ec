/**
 * Calibration statistics of one linear layer's inputs (card 0.3), accumulated one sequence at a time in f64:
 * the squared-norm vector (Wanda, OWL, DSnoT, Wanda-SP), the Gram matrix XᵀX (SparseGPT's Hessian), the signed
 * column sum and the within-sequence variance (DSnoT).
 */

import { matmul } from '../backend/ops/index.js';
import { dims2, type Tensor } from '../tensor/tensor.js';

/** Which statistics to accumulate. */
export interface StatsNeeds {
  /** Σ x_j² (Wanda's ‖X_j‖₂²). */
  norms?: boolean;
  /** Σ x xᵀ [C, C] (SparseGPT). Per sequence in f32 through the GEMM kernel, summed over sequences in f64. */
  gram?: boolean;
  /** Σ x_j and the within-sequence variance (DSnoT). */
  moments?: boolean;
}

/** Statistics of the inputs x [T, C] a linear layer saw, one call per calibration sequence. */
export class InputStats {
  /** Sequences seen (the references' sample counter). */
  sequences = 0;
  /** Tokens seen. */
  tokens = 0;
  /** Σ over every token of x_j² [C], or null. */
  readonly sumSq: Float64Array | null;
  /** Σ over every token of x xᵀ [C, C] row-major, or null. */
  readonly gram: Float64Array | null;
  /** Σ over every token of x_j [C], or null. */
  readonly sum: Float64Array | null;
  /** Token-weighted average of each sequence's population variance of x_j [C] (card 0.3(d)), or null. */
  readonly variance: Float64Array | null;

  constructor(
    readonly cols: number,
    needs: StatsNeeds,
  ) {
    this.sumSq = needs.norms ? new Float64Array(cols) : null;
    this.gram = needs.gram ? new Float64Array(cols * cols) : null;
    this.sum = needs.moments ? new Float64Array(cols) : null;
    this.variance = needs.moments ? new Float64Array(cols) : null;
  }

  /** Add one sequence's inputs: x [T, C] ('tokens', default) or feature-major [C, T] ('features'). */
  observe(x: Tensor, layout: 'tokens' | 'features' = 'tokens'): void {
    const xt = layout === 'tokens' ? x.transpose() : x; // [C, T]
    const [C, T] = dims2(xt, 'InputStats.observe: x');
    if (C !== this.cols)
      throw new RangeError(`InputStats.observe: x has ${C} features, expected ${this.cols}`);
    const d = xt.data;
    if (this.sumSq) {
      for (let j = 0; j < C; j++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += d[j * T + t]! ** 2;
        this.sumSq[j]! += s;
      }
    }
    if (this.gram) {
      const g = matmul(xt, layout === 'tokens' ? x : x.transpose()).data; // [C, T] · [T, C] → [C, C]
      for (let i = 0; i < g.length; i++) this.gram[i]! += g[i]!;
    }
    if (this.sum && this.variance) {
      const seen = this.tokens;
      for (let j = 0; j < C; j++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += d[j * T + t]!;
        this.sum[j]! += s;
        const mean = s / T;
        let v = 0;
        for (let t = 0; t < T; t++) v += (d[j * T + t]! - mean) ** 2;
        this.variance[j] = (this.variance[j]! * seen + v) / (seen + T);
      }
    }
    this.sequences++;
    this.tokens += T;
  }

  private need<K extends 'sumSq' | 'gram' | 'sum'>(k: K, what: string): Float64Array {
    const a = this[k];
    if (a === null) throw new Error(`InputStats: ${what} was not accumulated (pass the matching StatsNeeds)`);
    if (this.sequences === 0) throw new Error('InputStats: no calibration sequence was observed');
    return a;
  }

  /** S2[j] = (1/N) Σ_n Σ_t x² (card 0.3(a)); ‖X_j‖₂ over all tokens = sqrt(N · S2[j]). */
  squaredNorms(): Float64Array {
    const s = this.need('sumSq', 'the squared norms');
    return s.map((v) => v / this.sequences);
  }

  /** H = (2/N) Σ x xᵀ [C, C] (card 0.3(b)). */
  hessian(): Float64Array {
    const g = this.need('gram', 'the Gram matrix');
    const f = 2 / this.sequences;
    return g.map((v) => v * f);
  }

  /** S1[j] = (1/N) Σ_n Σ_t x_j (card 0.3(c): per-sequence sums, averaged over sequences). */
  columnSums(): Float64Array {
    const s = this.need('sum', 'the column sums');
    return s.map((v) => v / this.sequences);
  }

  /** V[j] (card 0.3(d)). */
  withinVariance(): Float64Array {
    this.need('sum', 'the variance');
    return this.variance!.slice();
  }
}
