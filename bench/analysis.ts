/**
 * What the kernel numbers mean: speed-up ratios against the dense baselines of the same run, the
 * break-even table (lowest sparsity from which a format wins), and the targets as PASS/MISS.
 */

import { pct } from './cases.js';
import type { CaseResult } from './results.js';

/** Shape, batch and threads: the cases that compete with each other. */
export function arenaKey(c: Pick<CaseResult, 'M' | 'K' | 'N' | 'threads'>): string {
  return `${c.M}x${c.K} N=${c.N} t${c.threads}`;
}

const ok = (c: CaseResult): c is CaseResult & { medianMs: number } =>
  c.status === 'ok' && typeof c.medianMs === 'number';

/** Whether a case is sparsekit's plain dense matmul (the "sparsekit dense" baseline). */
export function isSparsekitDense(c: CaseResult): boolean {
  return c.impl === 'sparsekit' && c.format === 'dense' && c.pattern === 'dense';
}

/** Whether a case is a baseline (sparsekit dense or onnxruntime dense) rather than a contender. */
export function isBaseline(c: CaseResult): boolean {
  return isSparsekitDense(c) || c.impl === 'onnxruntime';
}

/** Median of every timed call of the given runs of one baseline (all passes pooled). */
function pooledMedian(runs: ReadonlyArray<CaseResult & { medianMs: number }>): number {
  const all = runs.flatMap((r) => r.ms ?? []);
  if (all.length === runs.reduce((n, r) => n + (r.ms?.length ?? Number.NaN), 0)) return median(all);
  return runs.reduce((t, r) => t + r.medianMs, 0) / runs.length; // old results without samples
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** The baselines of one arena, each pooled over its timing passes. */
export interface Baselines {
  /** sparsekit dense: pooled median (ms). */
  dense?: number;
  /** onnxruntime dense, its faster layout: pooled median (ms) and which layout. */
  peer?: number;
  peerLayout?: string;
}

/** Pooled baselines per arena (see arenaKey). */
export function baselines(cases: readonly CaseResult[]): Map<string, Baselines> {
  const runs = new Map<string, Array<CaseResult & { medianMs: number }>>();
  for (const c of cases) {
    if (!ok(c) || !isBaseline(c)) continue;
    const key = `${arenaKey(c)}|${c.impl === 'onnxruntime' ? c.layout : 'dense'}`;
    runs.set(key, [...(runs.get(key) ?? []), c]);
  }
  const out = new Map<string, Baselines>();
  for (const [key, list] of runs) {
    const [arena, who] = key.split('|') as [string, string];
    const b = out.get(arena) ?? {};
    const t = pooledMedian(list);
    if (who === 'dense') b.dense = t;
    else if (b.peer === undefined || t < b.peer) {
      b.peer = t;
      b.peerLayout = who;
    }
    out.set(arena, b);
  }
  return out;
}

/**
 * Fill `vsDense` and `vsOrt` (baseline time ÷ case time, > 1 = faster) for every timed case, and mark
 * the faster onnxruntime layout as `peerBaseline`. Baselines are pooled over their passes; a baseline's
 * own ratios compare pooled with pooled, so both passes of it show the same ratios. Returns the array.
 */
export function attachRatios(cases: CaseResult[]): CaseResult[] {
  const base = baselines(cases);
  const pooled = new Map<string, number>();
  for (const c of cases) {
    if (!ok(c) || !isBaseline(c)) continue;
    const key = `${arenaKey(c)}|${c.impl === 'onnxruntime' ? c.layout : 'dense'}`;
    if (!pooled.has(key)) {
      const runs = cases.filter(
        (o) =>
          ok(o) && isBaseline(o) && `${arenaKey(o)}|${o.impl === 'onnxruntime' ? o.layout : 'dense'}` === key,
      ) as Array<CaseResult & { medianMs: number }>;
      pooled.set(key, pooledMedian(runs));
    }
  }
  for (const c of cases) {
    delete c.vsDense;
    delete c.vsOrt;
    delete c.peerBaseline;
    if (!ok(c)) continue;
    const b = base.get(arenaKey(c)) ?? {};
    const t = isBaseline(c)
      ? pooled.get(`${arenaKey(c)}|${c.impl === 'onnxruntime' ? c.layout : 'dense'}`)!
      : c.medianMs;
    if (b.dense !== undefined) c.vsDense = b.dense / t;
    if (b.peer !== undefined) c.vsOrt = b.peer / t;
    if (c.impl === 'onnxruntime' && c.layout === b.peerLayout) c.peerBaseline = true;
  }
  return cases;
}

/** How much a baseline moved between its first and second pass in one arena (pass 1 ÷ pass 2 time). */
export interface DriftRow {
  arena: string;
  who: string;
  pass1Ms: number;
  pass2Ms: number;
}

/** Baselines timed twice (before and after a shape's sparse cases), with both medians. */
export function baselineDrift(cases: readonly CaseResult[]): DriftRow[] {
  const rows: DriftRow[] = [];
  for (const c of cases) {
    if (!ok(c) || !isBaseline(c) || (c.pass ?? 1) !== 1) continue;
    const again = cases.find(
      (o) =>
        ok(o) &&
        o.pass === 2 &&
        o.impl === c.impl &&
        o.layout === c.layout &&
        o.op === c.op &&
        arenaKey(o) === arenaKey(c),
    );
    if (!again) continue;
    const who = c.impl === 'onnxruntime' ? `onnxruntime ${c.layout}` : 'sparsekit dense';
    rows.push({ arena: arenaKey(c), who, pass1Ms: c.medianMs, pass2Ms: again.medianMs! });
  }
  return rows;
}

/** The break-even column a sparse case belongs to: `csr`, `bitmask`, `coo`, `bsr4x4`, `nm2:4`. */
export function formatKey(c: Pick<CaseResult, 'format' | 'block' | 'nm'>): string {
  if (c.format === 'bsr') return `bsr${c.block![0]}x${c.block![1]}`;
  if (c.format === 'nm') return `nm${c.nm![0]}:${c.nm![1]}`;
  return c.format;
}

/** One format in one arena: the lowest measured sparsity from which it wins, or null if it never does. */
export interface BreakEvenCell {
  vsDense: number | null;
  vsOrt: number | null;
  /** Highest sparsity measured (what "never" means: not even there). */
  maxSparsity: number;
}

/** One row of the break-even table. */
export interface BreakEvenRow {
  M: number;
  K: number;
  N: number;
  threads: number;
  cells: Record<string, BreakEvenCell>;
}

/**
 * Lowest measured sparsity from which `ratio > 1` holds at that point and every sparser point (so one
 * lucky point below a loss does not count), or null if the sparsest point does not win.
 */
export function lowestWinning(
  points: ReadonlyArray<{ sparsity: number; ratio: number | undefined }>,
): number | null {
  const sorted = [...points].sort((a, b) => a.sparsity - b.sparsity);
  let from: number | null = null;
  for (let i = sorted.length - 1; i >= 0; i--) {
    const r = sorted[i]!.ratio;
    if (r === undefined || !(r > 1)) break;
    from = sorted[i]!.sparsity;
  }
  return from;
}

/** The break-even table over every sparse sparsekit matmul case with a measured time. */
export function breakEven(cases: readonly CaseResult[]): BreakEvenRow[] {
  const groups = new Map<string, Map<string, CaseResult[]>>();
  for (const c of cases) {
    if (
      c.op !== 'matmul' ||
      c.impl !== 'sparsekit' ||
      c.pattern === 'dense' ||
      c.pattern === 'inputs' ||
      !ok(c)
    ) {
      continue;
    }
    const arena = arenaKey(c);
    const byFormat = groups.get(arena) ?? new Map<string, CaseResult[]>();
    groups.set(arena, byFormat);
    const f = formatKey(c);
    byFormat.set(f, [...(byFormat.get(f) ?? []), c]);
  }
  const rows: BreakEvenRow[] = [];
  for (const byFormat of groups.values()) {
    const any = [...byFormat.values()][0]![0]!;
    const cells: Record<string, BreakEvenCell> = {};
    for (const [f, list] of byFormat) {
      cells[f] = {
        vsDense: lowestWinning(list.map((c) => ({ sparsity: c.sparsity, ratio: c.vsDense }))),
        vsOrt: lowestWinning(list.map((c) => ({ sparsity: c.sparsity, ratio: c.vsOrt }))),
        maxSparsity: Math.max(...list.map((c) => c.sparsity)),
      };
    }
    rows.push({ M: any.M, K: any.K, N: any.N, threads: any.threads, cells });
  }
  return rows.sort((a, b) => a.M - b.M || a.K - b.K || a.N - b.N || a.threads - b.threads);
}

/** A break-even cell as text: `65%`, `> 95%` (never within the measured range) or `—` (not measured). */
export function breakEvenText(cell: BreakEvenCell | undefined, which: 'vsDense' | 'vsOrt'): string {
  if (!cell) return '—';
  const v = cell[which];
  return v === null ? `> ${pct(cell.maxSparsity)}` : pct(v);
}

/** Column order of the break-even table. */
export const FORMAT_ORDER = ['csr', 'csr_bf16', 'bitmask', 'coo', 'bsr4x4', 'nm2:4'];

/** Formats present in some row, in FORMAT_ORDER then alphabetical. */
export function breakEvenFormats(rows: readonly BreakEvenRow[]): string[] {
  const seen = new Set(rows.flatMap((r) => Object.keys(r.cells)));
  const known = FORMAT_ORDER.filter((f) => seen.has(f));
  return [...known, ...[...seen].filter((f) => !FORMAT_ORDER.includes(f)).sort()];
}

/** One issue target evaluated at one place (shape/threads). `pass` is null when not measured. */
export interface TargetRow {
  target: string;
  where: string;
  threshold: string;
  measured: string;
  pass: boolean | null;
}

type Find = (pred: (c: CaseResult) => boolean) => CaseResult[];

const x = (v: number) => `${v.toFixed(2)}×`;

function shapeWhere(c: CaseResult): string {
  return `${c.M}×${c.K}, ${c.threads} thread${c.threads > 1 ? 's' : ''}`;
}

/** Arenas (shape + threads at a batch) in which some case matching `pred` ran. */
function arenas(find: Find, pred: (c: CaseResult) => boolean): CaseResult[] {
  const seen = new Map<string, CaseResult>();
  for (const c of find(pred)) if (!seen.has(arenaKey(c))) seen.set(arenaKey(c), c);
  return [...seen.values()].sort((a, b) => a.M - b.M || a.K - b.K || a.threads - b.threads);
}

/** A ratio target at every arena where its case was measured. */
function ratioRows(
  find: Find,
  target: string,
  pred: (c: CaseResult) => boolean,
  ratio: (c: CaseResult) => number | undefined,
  min: number,
): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const c of arenas(find, pred)) {
    const r = ratio(c);
    rows.push({
      target,
      where: shapeWhere(c),
      threshold: `≥ ${x(min)}`,
      measured: r === undefined ? 'not measured' : x(r),
      pass: r === undefined ? null : r >= min,
    });
  }
  if (!rows.length)
    rows.push({ target, where: '—', threshold: `≥ ${x(min)}`, measured: 'not measured', pass: null });
  return rows;
}

const timed = (c: CaseResult) => ok(c);
const sk = (c: CaseResult) => c.impl === 'sparsekit';
const unstructured = (c: CaseResult) => sk(c) && c.op === 'matmul' && c.pattern === 'unstructured';

/** Every target of issue 2 ("Benchmarks"), evaluated on one run's cases (with ratios attached). */
export function evaluateTargets(cases: readonly CaseResult[]): TargetRow[] {
  const find: Find = (pred) => cases.filter((c) => timed(c) && pred(c));
  const rows: TargetRow[] = [];

  const gemm = (t: number) => find((c) => c.op === 'gemm' && isSparsekitDense(c) && c.threads === t)[0];
  const g1 = gemm(1);
  const g2 = gemm(2);
  rows.push({
    target: 'dense GEMM 1024³ on 1 thread',
    where: '1024×1024×1024, 1 thread',
    threshold: '≥ 50 GFLOP/s',
    measured: g1 ? `${g1.usefulGflops!.toFixed(1)} GFLOP/s` : 'not measured',
    pass: g1 ? g1.usefulGflops! >= 50 : null,
  });
  rows.push({
    target: 'dense GEMM 1024³ on 2 threads vs 1',
    where: '1024×1024×1024, 2 threads',
    threshold: '≥ 1.80×',
    measured:
      g1 && g2
        ? `${x(g1.medianMs! / g2.medianMs!)} (${g2.usefulGflops!.toFixed(1)} GFLOP/s)`
        : 'not measured',
    pass: g1 && g2 ? g1.medianMs! / g2.medianMs! >= 1.8 : null,
  });

  rows.push(
    ...ratioRows(
      find,
      'dense GEMV vs onnxruntime',
      (c) =>
        c.op === 'matmul' &&
        isSparsekitDense(c) &&
        (c.pass ?? 1) === 1 &&
        c.N === 1 &&
        c.M === 4096 &&
        c.K === 4096,
      (c) => c.vsOrt,
      0.8,
    ),
  );
  const csr = (n: number) => (c: CaseResult) =>
    unstructured(c) && c.format === 'csr' && c.N === n && c.sparsity === 0.9;
  rows.push(...ratioRows(find, 'CSR SpMV, 90% vs onnxruntime dense', csr(1), (c) => c.vsOrt, 4));
  rows.push(...ratioRows(find, 'CSR SpMM batch 8, 90% vs onnxruntime dense', csr(8), (c) => c.vsOrt, 3));
  rows.push(...ratioRows(find, 'CSR SpMM batch 64, 90% vs onnxruntime dense', csr(64), (c) => c.vsOrt, 1.5));

  // break-even vs onnxruntime at batch 1: the best unstructured format
  const be = breakEven(cases).filter((r) => r.N === 1);
  for (const r of be) {
    const formats = Object.entries(r.cells).filter(([f]) =>
      ['csr', 'csr_bf16', 'bitmask', 'coo'].includes(f),
    );
    const wins = formats.filter(([, cell]) => cell.vsOrt !== null).sort((a, b) => a[1].vsOrt! - b[1].vsOrt!);
    const best = wins[0];
    const max = Math.max(...formats.map(([, cell]) => cell.maxSparsity));
    rows.push({
      target: 'break-even vs onnxruntime at batch 1 (best unstructured format)',
      where: `${r.M}×${r.K}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`,
      threshold: '≤ 65%',
      measured: best ? `${pct(best[1].vsOrt!)} (${best[0]})` : `> ${pct(max)}`,
      pass: best ? best[1].vsOrt! <= 0.65 + 1e-9 : false,
    });
  }
  if (!be.length) {
    rows.push({
      target: 'break-even vs onnxruntime at batch 1 (best unstructured format)',
      where: '—',
      threshold: '≤ 65%',
      measured: 'not measured',
      pass: null,
    });
  }

  const nm = (c: CaseResult) => sk(c) && c.format === 'nm' && c.nm?.[0] === 2 && c.nm?.[1] === 4 && c.N === 1;
  rows.push(...ratioRows(find, '2:4 SpMV vs sparsekit dense GEMV', nm, (c) => c.vsDense, 1.3));
  rows.push(...ratioRows(find, '2:4 SpMV vs onnxruntime dense', nm, (c) => c.vsOrt, 1.0));

  // 50% unstructured at batch 1: the best format in each arena
  const halfTarget = '50% unstructured, best format vs onnxruntime dense, batch 1';
  const half = find((c) => unstructured(c) && c.N === 1 && c.sparsity === 0.5 && c.vsOrt !== undefined);
  const bestHalf = new Map<string, CaseResult>();
  for (const c of half) {
    const b = bestHalf.get(arenaKey(c));
    if (!b || c.vsOrt! > b.vsOrt!) bestHalf.set(arenaKey(c), c);
  }
  for (const c of [...bestHalf.values()].sort((a, b) => a.M - b.M || a.K - b.K || a.threads - b.threads)) {
    rows.push({
      target: halfTarget,
      where: shapeWhere(c),
      threshold: '≥ 1.00×',
      measured: `${x(c.vsOrt!)} (${c.format})`,
      pass: c.vsOrt! >= 1,
    });
  }
  if (!bestHalf.size)
    rows.push({ target: halfTarget, where: '—', threshold: '≥ 1.00×', measured: 'not measured', pass: null });

  const col = (c: CaseResult) => sk(c) && c.op === 'colsparse_gemv' && c.sparsity === 0.5;
  rows.push(
    ...ratioRows(
      find,
      'column-sparse GEMV, 50% inputs active vs sparsekit dense GEMV',
      col,
      (c) => c.vsDense,
      1.7,
    ),
  );
  return rows;
}
