/**
 * DSnoT (card 4; Zhang et al. 2024, zyxxmu/DSnoT `prune_DSnoT`): training-free prune-and-grow refinement of
 * an existing mask. Each row keeps its zero count; per step it regrows one pruned weight and prunes one kept
 * weight so that the signed first-moment error err_r = Σ_pruned W[r,j]·S1[j] moves toward 0. Weights keep their
 * dense values; only the mask changes.
 *
 * Candidate guard (card 4 pitfall 3, extended): a row stops when its next growth candidate is not an initially
 * pruned weight whose D has err's sign, or (unstructured) its next pruning candidate is not an initially kept
 * weight whose D has the opposite sign. The reference reads both from fixed sorted lists; on a small C they run
 * out within 50 cycles and the pruning pointer walks on into the other sign's half, which starts at the
 * HIGHEST-Wanda weight of that sign, so the reference then prunes the row's most important weights and drives
 * |err| up. At the paper's widths (C ≥ 4096) the lists never run out and both agree.
 */

import type { Mask } from '../sparsity/mask.js';
import { checkFinite, checkNM, type NMPattern } from '../sparsity/select.js';
import { dims2, type Tensor } from '../tensor/tensor.js';

/** Input statistics DSnoT reads (InputStats.columnSums / squaredNorms / withinVariance). */
export interface DsnotStats {
  /** S1 [C]: per-sequence summed inputs, averaged over sequences (sets θ's units). */
  S1: ArrayLike<number>;
  /** S2 [C]: squared input norms (the Wanda score that orders pruning candidates). */
  S2: ArrayLike<number>;
  /** V [C]: within-sequence variance (divides the growth key). */
  V: ArrayLike<number>;
}

/** Options of dsnot (defaults: the reference's main.py). */
export interface DsnotOptions {
  /** Most swaps per row (default 50). */
  maxCycles?: number;
  /** θ: a row stops once |err| ≤ θ (default 0.1, absolute, in S1's per-sequence-summed units: scales with T). */
  threshold?: number;
  /** β: growth key D/V^β (default 1; 0 = no division). */
  beta?: number;
  /** Stop a row when a swap would flip err's sign (default false unstructured; always on for N:M). */
  signCheck?: boolean;
  /** N:M mode: swaps stay inside an aligned group of M, keeping N zeros per group. */
  nm?: NMPattern;
  /** N:M: initial-mask scores [R, C] choosing the in-group weight to prune (default: the Wanda score). */
  initialScores?: Tensor;
}

/** What dsnot returns. */
export interface DsnotResult {
  mask: Mask;
  /** Swaps made in each row. */
  swaps: Uint32Array;
  /** Final err of each row, Σ_pruned W[r,j]·S1[j]. */
  err: Float64Array;
}

function stableArgsort(key: ArrayLike<number>, idx: number[]): number[] {
  return idx.sort((a, b) => key[a]! - key[b]! || a - b);
}

/**
 * Refine `initial` (a mask of dense weights w [R, C], e.g. from Wanda) with DSnoT; returns a new mask with each
 * row's zero count unchanged (and N zeros per group in N:M mode).
 */
export function dsnot(w: Tensor, initial: Mask, stats: DsnotStats, opts: DsnotOptions = {}): DsnotResult {
  const [R, C] = dims2(w, 'dsnot: w');
  if (initial.rows !== R || initial.cols !== C) {
    throw new RangeError(`dsnot: the mask is [${initial.rows}, ${initial.cols}] but w is [${R}, ${C}]`);
  }
  for (const [k, v] of Object.entries(stats)) {
    if ((v as ArrayLike<number>).length !== C) throw new RangeError(`dsnot: ${k} must have ${C} entries`);
    checkFinite(v as ArrayLike<number>, `dsnot: ${k}`);
  }
  const Tmax = opts.maxCycles ?? 50;
  const theta = opts.threshold ?? 0.1;
  const beta = opts.beta ?? 1;
  const nm = opts.nm ?? null;
  if (nm) checkNM(nm, C, 'dsnot');
  const signCheck = nm ? true : (opts.signCheck ?? false);
  const { S1, S2, V } = stats;
  // zero variance would make the growth key 0/0: add ε relative to the largest variance
  let vmax = 0;
  for (let j = 0; j < C; j++) vmax = Math.max(vmax, V[j]!);
  const eps = 1e-12 * (vmax > 0 ? vmax : 1);
  const vpow = Float64Array.from({ length: C }, (_, j) => (beta === 0 ? 1 : (V[j]! + eps) ** beta));
  const norm = Float64Array.from({ length: C }, (_, j) => Math.sqrt(S2[j]!));
  const mask = initial.clone();
  const swaps = new Uint32Array(R);
  const errs = new Float64Array(R);
  const D = new Float64Array(C);
  const A = new Float64Array(C);
  const g = new Float64Array(C);
  const all = Array.from({ length: C }, (_, j) => j);
  for (let r = 0; r < R; r++) {
    const p = mask.pruned.subarray(r * C, (r + 1) * C);
    const wasPruned = p.slice();
    let err = 0;
    for (let j = 0; j < C; j++) {
      const wv = w.data[r * C + j]!;
      D[j] = wv * S1[j]!;
      A[j] = Math.abs(wv) * norm[j]!;
      if (p[j]) err += D[j]!;
      g[j] = p[j] ? D[j]! / vpow[j]! : 0;
    }
    const sign0 = Math.sign(err);
    const G = stableArgsort(g, all.slice());
    let gLo = 0;
    let gHi = C - 1;
    const grow = (): number => (err > 0 ? G[gHi--]! : G[gLo++]!);
    let n = 0;
    if (nm) {
      const Ieff = Float64Array.from({ length: C }, (_, j) =>
        p[j] ? Number.POSITIVE_INFINITY : opts.initialScores ? opts.initialScores.data[r * C + j]! : A[j]!,
      );
      let active = true;
      for (let cycle = 0; cycle < Tmax && active && gLo <= gHi; cycle++) {
        const gj = grow();
        const g0 = gj - (gj % nm.m);
        let pj = -1;
        for (let c = g0; c < g0 + nm.m; c++) if (pj < 0 ? Ieff[c]! < Infinity : Ieff[c]! < Ieff[pj]!) pj = c;
        // guard: the grown weight must be an initially pruned one that moves err toward 0, with a kept one to swap
        if (pj < 0 || !wasPruned[gj] || !p[gj] || !(D[gj]! * err > 0)) break;
        const next = err + D[pj]! - D[gj]!;
        active = Math.sign(next) === sign0 && Math.abs(err) > theta;
        Ieff[pj] = Number.POSITIVE_INFINITY;
        if (active) {
          p[pj] = 1;
          p[gj] = 0;
          err = next;
          n++;
        }
      }
    } else {
      const kept = all.filter((j) => !p[j]);
      const Ks = stableArgsort(A, kept);
      const Pc = [
        ...Ks.filter((j) => D[j]! < 0),
        ...Ks.filter((j) => D[j] === 0),
        ...Ks.filter((j) => D[j]! > 0).reverse(),
      ];
      let pLo = 0;
      let pHi = Pc.length - 1;
      let active = true;
      for (let cycle = 0; cycle < Tmax && active && gLo <= gHi && pLo <= pHi; cycle++) {
        const gj = grow();
        const pj = err < 0 ? Pc[pHi--]! : Pc[pLo++]!;
        // guard: stop the row once either list has no candidate of the helpful sign left (the reference would
        // "regrow" a kept weight, or prune the other sign's most important weight)
        if (!wasPruned[gj] || !p[gj] || wasPruned[pj] || p[pj]) break;
        if (!(D[gj]! * err > 0 && D[pj]! * err < 0)) break;
        const next = err + D[pj]! - D[gj]!;
        active = Math.abs(err) > theta && (!signCheck || Math.sign(next) === sign0);
        if (active) {
          p[pj] = 1;
          p[gj] = 0;
          err = next;
          n++;
        }
      }
    }
    swaps[r] = n;
    errs[r] = err;
  }
  return { mask, swaps, err: errs };
}
