/**
 * Selectors: turn scores into a Mask at a granularity — per row, per layer, global, N:M groups, blocks, whole
 * units (channels, heads). Low score = pruned. Ties go to the lower index (the stable-sort order of the
 * reference pruners). Scores must be finite: NaN/±Inf is an error naming the entry.
 */

import { thresholdSelect, topk, topkMask, topkMaskRows } from '../backend/ops/select.js';
import { dims2, Tensor } from '../tensor/tensor.js';
import { Mask } from './mask.js';

/** Throw if any score is NaN/±Inf; `what` names the scores in the error. */
export function checkFinite(scores: ArrayLike<number>, what: string): void {
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i]!)) {
      throw new RangeError(
        `${what}: score ${i} is ${scores[i]}; selection needs finite scores (replace NaN/±Inf before selecting)`,
      );
    }
  }
}

function checkCount(what: string, k: number, n: number, unit: string): void {
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new RangeError(`${what}: k must be an integer in [0, ${n}] (${unit}), got ${k}`);
  }
}

/** The number of entries a sparsity s prunes from a group of n: floor(s·n) (the references' count). */
export function prunedCountFor(s: number, n: number): number {
  checkSparsity(s, 'sparsity');
  return Math.floor(s * n); // as the references' int(s · n), including float products like 0.29 · 100 = 28.99…
}

/** Throw unless s is a number in [0, 1). */
export function checkSparsity(s: number, what: string): void {
  if (typeof s !== 'number' || !(s >= 0 && s < 1)) {
    throw new RangeError(`${what} must be in [0, 1) (a fraction of weights to prune), got ${s}`);
  }
}

/** Prune the k smallest scores of every row of scores [R, C] (exactly k per row). */
export function pruneSmallestPerRow(scores: Tensor, k: number): Mask {
  const [R, C] = dims2(scores, 'pruneSmallestPerRow: scores');
  checkCount('pruneSmallestPerRow', k, C, 'columns per row');
  return new Mask(R, C, topkMaskRows(scores, k, { largest: false }));
}

/** Prune the k smallest scores of the whole matrix scores [R, C] (exactly k). */
export function pruneSmallestPerLayer(scores: Tensor, k: number): Mask {
  const [R, C] = dims2(scores, 'pruneSmallestPerLayer: scores');
  checkCount('pruneSmallestPerLayer', k, R * C, 'entries');
  return new Mask(R, C, topkMask(scores, k, { largest: false }));
}

/**
 * Prune the k smallest scores over the union of several matrices (exactly k in total). Ties go to the lower
 * index in the order the matrices are given, then row-major within a matrix.
 */
export function pruneSmallestGlobal(scores: readonly Tensor[], k: number): Mask[] {
  let n = 0;
  for (const s of scores) n += dims2(s, 'pruneSmallestGlobal: scores').reduce((a, b) => a * b, 1);
  checkCount('pruneSmallestGlobal', k, n, 'entries over all matrices');
  const all = new Float32Array(n);
  let off = 0;
  for (const s of scores) {
    all.set(s.data, off);
    off += s.size;
  }
  const bits = topkMask(new Tensor(all, [n]), k, { largest: false });
  off = 0;
  return scores.map((s) => {
    const m = new Mask(s.rows, s.cols, bits.slice(off, off + s.size));
    off += s.size;
    return m;
  });
}

/** Prune every entry of scores [R, C] with score ≤ t. */
export function pruneAtThreshold(scores: Tensor, t: number): Mask {
  const [R, C] = dims2(scores, 'pruneAtThreshold: scores');
  const kept = thresholdSelect(scores, t);
  const m = new Mask(R, C, new Uint8Array(R * C).fill(1));
  for (const i of kept.indices) m.pruned[i] = 0;
  return m;
}

/**
 * The references' THRESHOLD rule over a whole matrix: t = the entry at 0-based position floor(s·n) of the
 * ascending scores, prune every score ≤ t. Prunes floor(s·n) + 1 entries plus any ties at t.
 */
export function pruneReferenceThreshold(scores: Tensor, s: number): Mask {
  const [R, C] = dims2(scores, 'pruneReferenceThreshold: scores');
  const k = prunedCountFor(s, R * C);
  if (R * C === 0) return new Mask(R, C);
  const { values } = topk(scores, k + 1, { largest: false });
  let t = Number.NEGATIVE_INFINITY;
  for (const v of values) if (v > t) t = v;
  return pruneAtThreshold(scores, t);
}

/** Parsed N:M pattern: n pruned (zero) entries in every aligned group of m consecutive columns. */
export interface NMPattern {
  readonly n: number;
  readonly m: number;
}

/** Throw unless an N:M pattern is 0 ≤ n ≤ m, m ≥ 1 and the columns split into whole groups. */
export function checkNM({ n, m }: NMPattern, cols: number, what: string): void {
  if (!Number.isInteger(m) || m < 1 || !Number.isInteger(n) || n < 0 || n > m) {
    throw new RangeError(`${what}: N:M needs integers 0 ≤ N ≤ M, M ≥ 1, got ${n}:${m}`);
  }
  if (cols % m !== 0) {
    throw new RangeError(
      `${what}: ${cols} columns do not split into groups of ${m}; N:M needs the input size to be a multiple of M`,
    );
  }
}

/**
 * N:M selection: in every row of scores [R, C], each aligned group of m columns [g·m, g·m + m) gets its n
 * smallest scores pruned (ties to the lower column). C must be a multiple of m.
 */
export function pruneNM(scores: Tensor, pattern: NMPattern): Mask {
  const [R, C] = dims2(scores, 'pruneNM: scores');
  checkNM(pattern, C, 'pruneNM');
  checkFinite(scores.data, 'pruneNM: scores');
  const { n, m } = pattern;
  const mask = new Mask(R, C);
  const order = new Array<number>(m);
  const d = scores.data;
  for (let g0 = 0; g0 < R * C; g0 += m) {
    for (let i = 0; i < m; i++) order[i] = i;
    order.sort((a, b) => d[g0 + a]! - d[g0 + b]! || a - b);
    for (let i = 0; i < n; i++) mask.pruned[g0 + order[i]!] = 1;
  }
  return mask;
}

/**
 * Block selection: scores [R, C] summed over blocks of [br, bc]; the k blocks with the smallest sums are pruned
 * whole (ties to the lower block in row-major block order). R and C must be multiples of br and bc.
 */
export function pruneBlocks(scores: Tensor, br: number, bc: number, k: number): Mask {
  const [R, C] = dims2(scores, 'pruneBlocks: scores');
  if (!Number.isInteger(br) || br < 1 || !Number.isInteger(bc) || bc < 1 || R % br !== 0 || C % bc !== 0) {
    throw new RangeError(`pruneBlocks: the block [${br}, ${bc}] must tile the matrix [${R}, ${C}]`);
  }
  checkFinite(scores.data, 'pruneBlocks: scores');
  const BR = R / br;
  const BC = C / bc;
  checkCount('pruneBlocks', k, BR * BC, 'blocks');
  const sums = new Float64Array(BR * BC);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++)
      sums[Math.floor(r / br) * BC + Math.floor(c / bc)]! += scores.data[r * C + c]!;
  }
  const chosen = smallestUnits(sums, k);
  const mask = new Mask(R, C);
  for (const b of chosen) {
    const r0 = Math.floor(b / BC) * br;
    const c0 = (b % BC) * bc;
    for (let r = r0; r < r0 + br; r++) mask.pruned.fill(1, r * C + c0, r * C + c0 + bc);
  }
  return mask;
}

/**
 * The k smallest of unit scores (channels, heads, blocks; computed in f64), as ascending unit indices.
 * Ties go to the lower index.
 */
export function smallestUnits(scores: ArrayLike<number>, k: number): Uint32Array {
  checkFinite(scores, 'smallestUnits: scores');
  checkCount('smallestUnits', k, scores.length, 'units');
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[a]! - scores[b]! || a - b);
  return Uint32Array.from(order.slice(0, k)).sort();
}

/** A mask pruning whole rows of an [R, C] matrix: every row in `rows` (output channels / head rows). */
export function pruneRows(R: number, C: number, rows: Iterable<number>): Mask {
  const mask = new Mask(R, C);
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= R)
      throw new RangeError(`pruneRows: row ${r} is not in [0, ${R})`);
    mask.pruned.fill(1, r * C, (r + 1) * C);
  }
  return mask;
}

/** A mask pruning whole columns of an [R, C] matrix: every column in `cols` (input channels). */
export function pruneCols(R: number, C: number, cols: Iterable<number>): Mask {
  const mask = new Mask(R, C);
  for (const c of cols) {
    if (!Number.isInteger(c) || c < 0 || c >= C)
      throw new RangeError(`pruneCols: column ${c} is not in [0, ${C})`);
    for (let r = 0; r < R; r++) mask.pruned[r * C + c] = 1;
  }
  return mask;
}

/** Indices covered by whole units of `width` consecutive indices (e.g. heads of head_dim channels). */
export function unitIndices(units: Iterable<number>, width: number): number[] {
  const out: number[] = [];
  for (const u of units) for (let i = 0; i < width; i++) out.push(u * width + i);
  return out;
}
