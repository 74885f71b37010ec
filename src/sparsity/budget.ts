/**
 * Budgets: how much to prune, and where. A sparsity spec ("0.5" or "2:4"), uniform and explicit per-layer
 * sparsities, a global budget (one ranking over every prunable matrix), and OWL's outlier-weighted per-block
 * rule (Yin et al. 2024, as luuyin/OWL computes it).
 */

import { checkFinite, checkSparsity, type NMPattern } from './select.js';

/** What to prune: a fraction of entries, or an N:M pattern (N zeros in every group of M). */
export type SparsitySpec =
  | { readonly kind: 'unstructured'; readonly sparsity: number }
  | { readonly kind: 'nm'; readonly n: number; readonly m: number };

/**
 * Parse "0.5" (a fraction in [0, 1)) or "N:M" (N zeros in every aligned group of M, 1 ≤ N < M; e.g. 2:4, 4:8).
 * A number is taken as the fraction.
 */
export function parseSparsity(spec: string | number): SparsitySpec {
  const bad = () =>
    new RangeError(
      `sparsity must be a fraction in [0, 1) like 0.5, or N:M with 1 ≤ N < M like 2:4, got ${JSON.stringify(spec)}`,
    );
  if (typeof spec === 'number') {
    if (!(spec >= 0 && spec < 1)) throw bad();
    return { kind: 'unstructured', sparsity: spec };
  }
  const s = String(spec).trim();
  const nm = /^(\d+):(\d+)$/.exec(s);
  if (nm) {
    const n = Number(nm[1]);
    const m = Number(nm[2]);
    if (!(n >= 1 && n < m)) throw bad();
    return { kind: 'nm', n, m };
  }
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(s)) throw bad();
  const v = Number(s);
  if (!(v >= 0 && v < 1)) throw bad();
  return { kind: 'unstructured', sparsity: v };
}

/** The N:M pattern of a spec, or null. */
export function nmOf(spec: SparsitySpec): NMPattern | null {
  return spec.kind === 'nm' ? { n: spec.n, m: spec.m } : null;
}

/** The spec's fraction of pruned entries (N/M for N:M). */
export function sparsityOf(spec: SparsitySpec): number {
  return spec.kind === 'nm' ? spec.n / spec.m : spec.sparsity;
}

/**
 * Where sparsity goes: the same s in every matrix (uniform), one s per matrix given explicitly (per-layer), one
 * ranking over the union of all prunable matrices (global), or per block from OWL's outlier rule (owl).
 */
export type Budget =
  | { readonly kind: 'uniform' }
  | { readonly kind: 'per-layer'; readonly sparsity: ReadonlyMap<string, number> }
  | { readonly kind: 'global' }
  | { readonly kind: 'owl'; readonly lambda: number; readonly hyperM: number };

/** OWL's defaults: λ = 0.08 (argparse and README), M = 5 (the README's 70 % runs; argparse says 3). */
export const OWL_DEFAULTS = Object.freeze({ lambda: 0.08, hyperM: 5 });

/** The same sparsity for every name. */
export function uniformBudget(names: Iterable<string>, s: number): Map<string, number> {
  checkSparsity(s, 'uniformBudget: sparsity');
  const out = new Map<string, number>();
  for (const n of names) out.set(n, s);
  return out;
}

/**
 * Check an explicit per-layer budget against the prunable names: every name must have a sparsity in [0, 1), and
 * every key must be a prunable name. Returns the budget in `names` order.
 */
export function explicitBudget(
  names: Iterable<string>,
  given: ReadonlyMap<string, number>,
): Map<string, number> {
  const want = [...names];
  const known = new Set(want);
  for (const k of given.keys()) {
    if (!known.has(k)) {
      throw new RangeError(
        `per-layer sparsity names "${k}", which is not a prunable matrix (prunable: ${want.slice(0, 4).join(', ')}, …)`,
      );
    }
  }
  const out = new Map<string, number>();
  for (const n of want) {
    const s = given.get(n);
    if (s === undefined)
      throw new RangeError(`per-layer sparsity has no entry for "${n}"; give every prunable matrix one`);
    checkSparsity(s, `per-layer sparsity of "${n}"`);
    out.set(n, s);
  }
  return out;
}

/**
 * OWL's layer outlier ratio D (a percentage): of all Wanda scores of one block's prunable matrices, concatenated,
 * the share strictly greater than hyperM × their mean.
 */
export function owlOutlierRatio(blockScores: readonly ArrayLike<number>[], hyperM: number): number {
  if (!(hyperM > 0)) throw new RangeError(`owlOutlierRatio: hyperM must be > 0, got ${hyperM}`);
  let sum = 0;
  let n = 0;
  for (const a of blockScores) {
    checkFinite(a, 'owlOutlierRatio: scores');
    for (let i = 0; i < a.length; i++) sum += a[i]!;
    n += a.length;
  }
  if (n === 0) throw new RangeError('owlOutlierRatio: the block has no scores');
  const t = hyperM * (sum / n);
  let out = 0;
  for (const a of blockScores) for (let i = 0; i < a.length; i++) if (a[i]! > t) out++;
  return (100 * out) / n;
}

/**
 * OWL's per-block sparsities (unstructured): outlier ratios D scaled to a spread of exactly 2λ, centred so the
 * mean sparsity is S; blocks with more outliers get lower sparsity; a value ≤ 0 becomes 0.01 (as the reference).
 * If every D is equal the rule is 0/0: every block gets S.
 */
export function owlSparsities(D: readonly number[], S: number, lambda: number): number[] {
  checkSparsity(S, 'owlSparsities: sparsity');
  checkFinite(D, 'owlSparsities: outlier ratios');
  if (!(lambda >= 0)) throw new RangeError(`owlSparsities: lambda must be ≥ 0, got ${lambda}`);
  const lo = Math.min(...D);
  const hi = Math.max(...D);
  if (hi === lo) return D.map(() => S);
  const z = D.map((d) => ((d - lo) / (hi - lo)) * 2 * lambda);
  const mean = z.reduce((a, b) => a + b, 0) / z.length;
  return z.map((v) => {
    const s = 1 - (v - mean + (1 - S));
    return s <= 0 ? 0.01 : s;
  });
}

/** Round half to even (NumPy's round), as OWL's N:M path rounds. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * OWL's N:M per-block zero counts: D scaled to a spread of λ (no factor 2), centred, rounded half-to-even, and
 * subtracted from N. Does not keep the mean sparsity fixed (as the reference). Equal D gives N everywhere.
 */
export function owlNMZeros(D: readonly number[], n: number, m: number, lambda: number): number[] {
  checkFinite(D, 'owlNMZeros: outlier ratios');
  const lo = Math.min(...D);
  const hi = Math.max(...D);
  if (hi === lo) return D.map(() => n);
  const z = D.map((d) => ((d - lo) / (hi - lo)) * lambda);
  const mean = z.reduce((a, b) => a + b, 0) / z.length;
  return z.map((v) => Math.min(m, Math.max(0, n - roundHalfEven(v - mean))));
}
