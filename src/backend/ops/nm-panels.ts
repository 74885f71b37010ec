/**
 * The resident layout of an N:M weight (kernels: src/kernels/nm.ts, whose header has the measurements;
 * twin: src/backend/reference/nm.ts): W's groups split into column panels of P groups, stored panel after
 * panel, each panel an ordinary N:M matrix of its columns ([rows][Gp][n] values, [rows][Gp][mb] meta). The
 * kernels walk one panel at a time, so the slice of x they gather from stays in L1 while values and meta
 * stream past. 2:4 meta is re-coded as 8·(pair code) so the SpMV can load a group's two x values at once
 * from x expanded into pairs.
 */

import { type NM, nmLayout } from '../../formats/nm.js';
import { balancedPanel } from '../panels.js';

/** The arrays a panel layout is packed from: an N:M matrix with f32 values (NM) or half bits (HalfNM). */
export type NmArrays<V extends Float32Array | Uint16Array> = Omit<NM, 'format' | 'values'> & {
  readonly values: V;
};

/**
 * 2:4: split when K exceeds this many columns, into panels of at most this many. x's pairs take 12 bytes a
 * column, so 1024 columns are 12 KB of L1 (measured: 512 groups 0.9×, 1024 groups 0.5× of 256 groups).
 */
export const NM24_PANEL_COLS = 1024;

/** Other n:m: split when K exceeds this many columns, into panels of at most this many (8 KB of x). */
export const NM_PANEL_COLS = 2048;

/** Panel sizes in groups are rounded up to a multiple of this (the 2:4 SpMV's step). */
const PANEL_ALIGN_GROUPS = 4;

/** Where the layout splits (internal: tests lower it to exercise panels on small matrices). */
export interface NmPanelOptions {
  /** Split when K exceeds this many columns, into panels of at most this many (default per pattern above). */
  cols?: number;
}

let override: NmPanelOptions = {};

/**
 * Run `fn` with `options` for the N:M weights it first makes resident (a weight keeps the layout it was
 * uploaded with; tests use fresh weights).
 */
export function withNmPanels<T>(options: NmPanelOptions, fn: () => T): T {
  const saved = override;
  override = options;
  try {
    return fn();
  } finally {
    override = saved;
  }
}

/**
 * Groups per panel for an n:m matrix of `cols` columns: G (one panel) while cols ≤ the pattern's panel
 * width, else the fewest panels of at most that width, balanced (⌈G / ⌈G / Pmax⌉⌉ rounded up to 4 groups).
 * @example nmPanelGroups(11008, 2, 4) // 252: ten panels of 252 groups and one of 232
 */
export function nmPanelGroups(
  cols: number,
  n: number,
  m: number,
  options: NmPanelOptions = override,
): number {
  const { groups } = nmLayout(cols, n, m);
  const width = options.cols ?? (n === 2 && m === 4 ? NM24_PANEL_COLS : NM_PANEL_COLS);
  if (!Number.isInteger(width) || width < m) {
    throw new RangeError(`nmPanelGroups: cols must be an integer ≥ m = ${m}, got ${width}`);
  }
  if (cols <= width) return Math.max(1, groups);
  return balancedPanel(groups, Math.floor(width / m), PANEL_ALIGN_GROUPS);
}

/** An N:M weight in its resident layout (see the file header). */
export interface NmPanels<V extends Float32Array | Uint16Array = Float32Array | Uint16Array> {
  readonly rows: number;
  readonly cols: number;
  readonly n: number;
  readonly m: number;
  /** G = ceil(cols/m). */
  readonly groups: number;
  /** P: groups per panel (panel p covers groups [p·P, min(G, (p+1)·P))). */
  readonly panelGroups: number;
  /** Meta bytes per group (the format's, 1 for 2:4). */
  readonly metaBytesPerGroup: number;
  /** Panel p's values [rows][Gp][n] from element rows·p·P·n. */
  readonly values: V;
  /** Panel p's meta [rows][Gp][mb] from byte rows·p·P·mb; 2:4 bytes are 8·pairCode24(p0, p1). */
  readonly meta: Uint8Array;
}

/** The positions (p0, p1) of 2:4 pair code c (meta byte 8·c), in the kernels' order. */
export const PAIRS_24: ReadonlyArray<readonly [number, number]> = [
  [0, 1],
  [0, 2],
  [0, 3],
  [1, 2],
  [1, 3],
  [2, 3],
];

/** Pair code of a format 2:4 meta byte p0 | p1 << 2; the padding pair (0, 0) → 0 (its value is 0, x past K is 0). */
const PAIR_CODE_24 = new Uint8Array(16);
PAIRS_24.forEach(([p0, p1], c) => {
  PAIR_CODE_24[p0 | (p1 << 2)] = c;
});

/**
 * Pack a valid N:M matrix into panels of `panelGroups` groups (2:4 meta re-coded). One panel of a pattern
 * other than 2:4 is the matrix's own arrays, not copies.
 */
export function packNmPanels<V extends Float32Array | Uint16Array>(
  w: NmArrays<V>,
  panelGroups = nmPanelGroups(w.cols, w.n, w.m),
): NmPanels<V> {
  const { rows, cols, n, m } = w;
  const { groups, metaBytesPerGroup: mb } = nmLayout(cols, n, m);
  const is24 = n === 2 && m === 4;
  const base = { rows, cols, n, m, groups, panelGroups, metaBytesPerGroup: mb };
  if (panelGroups >= groups && !is24) return { ...base, values: w.values, meta: w.meta };
  const values = new (w.values.constructor as { new (n: number): V })(w.values.length);
  const meta = new Uint8Array(w.meta.length);
  for (let g0 = 0; g0 < groups; g0 += panelGroups) {
    const gp = Math.min(panelGroups, groups - g0);
    for (let i = 0; i < rows; i++) {
      const from = i * groups + g0;
      const to = rows * g0 + i * gp;
      values.set(w.values.subarray(from * n, (from + gp) * n), to * n);
      meta.set(w.meta.subarray(from * mb, (from + gp) * mb), to * mb);
    }
  }
  if (is24) for (let j = 0; j < meta.length; j++) meta[j] = PAIR_CODE_24[meta[j]!]! << 3;
  return { ...base, values, meta };
}
