/**
 * Which format runs a weight fastest: measure its pattern (density, N:M groups, 4×4 block fill) and apply
 * a rule whose thresholds come from the kernels benchmark's break-even table (BENCHMARKS.md, batch 1).
 */

import { dims2, type Tensor } from '../tensor/tensor.js';
import type { FormatSpec } from './index.js';

/** What the rule looks at in a dense [rows, cols] weight. */
export interface WeightPattern {
  rows: number;
  cols: number;
  /** Non-zeros / elements (NaN counts as a non-zero). */
  density: number;
  /**
   * The tightest N:M the weight satisfies for M in 4, 8, 16 (N = the most non-zeros in any aligned group of
   * M columns; a partial last group counts its own non-zeros), the smallest M among equal N/M; null when
   * cols < 4 or the matrix is empty.
   */
  nm: { n: number; m: number } | null;
  /** Stored 4×4 blocks / all 4×4 blocks (edge blocks included): BSR 4×4's fill. */
  blockDensity: number;
}

/**
 * The rule's thresholds. Sources: `bench/results/kernels.json` (the full kernels run in BENCHMARKS.md),
 * break-even table, batch-1 rows (decode is one GEMV per layer), sparsekit dense as the baseline. Each
 * threshold is the worst row over the shapes (4096×4096, 4096×11008) and thread counts (1, 2) measured, so
 * the chosen format beats dense on every row measured. `bench/format-rule.test.ts` re-derives them from
 * that file and fails when a new run moves them.
 */
export const FORMAT_RULE = Object.freeze({
  /**
   * CSR from this sparsity: csr vs dense breaks even at 50% in all four batch-1 rows (4096² t1, t2; 4096×11008
   * t1, t2) since the SpMV gathers x from a fixed address (session 6): 1.18×, 1.31×, 1.17×, 1.47× at 50% in the
   * committed run (1.08–1.35× in session 6's). Before that change the 50% cells sat within noise of 1.0×
   * (0.68–1.39×, 0.94–1.29×, 1.07–1.17× in three runs) and the rule started at 60%.
   */
  csrMinSparsity: 0.5,
  /**
   * BSR 4×4 up to this block fill: bsr4x4 vs dense breaks even at 50% (the lowest measured) in every batch-1 row
   * of the committed run (1.44×, 2.12×, 1.34×, 1.65× at 50%). Session 6's run had one bimodal two-thread cell
   * (0.62–0.94 ms, then 3.77–5.38 ms, against dense's 1.8) whose median fell on the slow half, and the rule
   * stopped at 40% until this run.
   */
  bsrMaxBlockDensity: 0.5,
  /** BSR block size: the only one the kernels suite measures. */
  block: 4,
  /** N:M up to this N/M: nm2:4 vs dense breaks even at 50% (the only point measured) in every row. */
  nmMaxDensity: 0.5,
  /**
   * N:M before CSR when N/M ≤ density × this (the groups hold at least 80% of N on average: a weight pruned to
   * N:M, not an unstructured one that happens to satisfy a loose N:16).
   */
  nmFullGroups: 1.25,
});

/** Measure a dense w [rows, cols]: density, tightest N:M, 4×4 block fill. One pass per candidate M. */
export function weightPattern(w: Tensor): WeightPattern {
  const [rows, cols] = dims2(w, 'weightPattern: w');
  const d = w.data;
  let nonZero = 0;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) nonZero++;
  const size = rows * cols;
  let nm: WeightPattern['nm'] = null;
  for (const m of [4, 8, 16]) {
    if (cols < m || size === 0) break;
    let n = 0;
    for (let i = 0; i < rows; i++) {
      for (let k0 = 0; k0 < cols; k0 += m) {
        let c = 0;
        const end = i * cols + Math.min(cols, k0 + m);
        for (let p = i * cols + k0; p < end; p++) if (d[p] !== 0) c++;
        if (c > n) n = c;
      }
    }
    if (nm === null || n / m < nm.n / nm.m) nm = { n, m };
  }
  return { rows, cols, density: size === 0 ? 0 : nonZero / size, nm, blockDensity: blockFill(w) };
}

function blockFill(w: Tensor): number {
  const [rows, cols] = [w.rows, w.cols];
  const b = FORMAT_RULE.block;
  const [br, bc] = [Math.ceil(rows / b), Math.ceil(cols / b)];
  if (br * bc === 0) return 0;
  const stored = new Uint8Array(br * bc);
  for (let i = 0; i < rows; i++) {
    const row = ((i / b) | 0) * bc;
    for (let k = 0; k < cols; k++) if (w.data[i * cols + k] !== 0) stored[row + ((k / b) | 0)] = 1;
  }
  let n = 0;
  for (const s of stored) n += s;
  return n / (br * bc);
}

/** A format and the reason the rule gave for it (shown by `sparsekit inspect`). */
export interface FormatChoice {
  spec: FormatSpec;
  reason: string;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/**
 * The format that runs `p` fastest at batch 1, by FORMAT_RULE, first match wins:
 * 1. 4×4 block fill ≤ FORMAT_RULE.bsrMaxBlockDensity (50%) → BSR 4×4 (whole zero blocks are skipped; beats CSR at equal sparsity);
 * 2. sparsity ≥ FORMAT_RULE.csrMinSparsity (50%) → CSR;
 * 3. an N:M pattern with N/M ≤ 50% → N:M (reached only while the CSR threshold is above 50%);
 * 4. otherwise dense, in `dense` storage (f32, or bf16/f16 when the checkpoint holds the weight so).
 * Bitmask and COO are never chosen: in every batch-1 row CSR breaks even at a lower or equal sparsity than bitmask,
 * and COO runs the CSR kernels on a converted copy.
 *
 * ```ts
 * chooseFormat(weightPattern(nmPruneMagnitude(w, 2, 4))).spec; // { format: 'nm', n: 2, m: 4 }
 * ```
 */
export function chooseFormat(p: WeightPattern, dense: 'dense' | 'bf16' | 'f16' = 'dense'): FormatChoice {
  const R = FORMAT_RULE;
  const sparsity = 1 - p.density;
  if (p.blockDensity <= R.bsrMaxBlockDensity) {
    return {
      spec: { format: 'bsr', blockRows: R.block, blockCols: R.block },
      reason: `${pct(p.blockDensity)} of 4×4 blocks hold a non-zero (≤ ${pct(R.bsrMaxBlockDensity)})`,
    };
  }
  const nm = p.nm && p.nm.n >= 1 && p.nm.n / p.nm.m <= R.nmMaxDensity ? p.nm : null;
  const nmChoice = (n: number, m: number): FormatChoice => ({
    spec: { format: 'nm', n, m },
    reason: `at most ${n} non-zeros in every ${m} columns (N/M ≤ ${pct(R.nmMaxDensity)})`,
  });
  // a weight pruned to N:M (its groups nearly full) runs as N:M even where CSR would also break even: the
  // N:M kernels read fewer bytes and gather nothing (2:4 ran 1.4-1.6x dense, CSR at 50% about 1.1x)
  if (nm && nm.n / nm.m <= p.density * R.nmFullGroups) return nmChoice(nm.n, nm.m);
  if (sparsity >= R.csrMinSparsity - 1e-12) {
    return { spec: { format: 'csr' }, reason: `sparsity ${pct(sparsity)} ≥ ${pct(R.csrMinSparsity)}` };
  }
  if (nm) return nmChoice(nm.n, nm.m);
  return {
    spec: { format: dense },
    reason: `sparsity ${pct(sparsity)}: below every sparse format's break-even`,
  };
}
