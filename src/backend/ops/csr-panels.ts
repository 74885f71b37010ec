/**
 * The column-panel layout of a resident CSR (kernels: src/kernels/csr.ts, csr-half.ts; twin:
 * src/backend/reference/csr.ts): W's columns split into panels of `width` columns, each panel a CSR of its
 * columns with its own row pointers and u16 column indices relative to its first column, stored panel after
 * panel (uploadCsr stores each index times 4, as the byte offset the kernels gather x by). The kernels walk one
 * panel at a time, so the slice of x they gather from stays in L1 while values and indices stream past.
 */

import { U16_INDEX_LIMIT } from '../../formats/check.js';
import { balancedPanel } from '../panels.js';

/**
 * L1 bytes a panel may fill with its slice of x (4 bytes a column) plus one row's entries of that panel (values
 * and u16 indices: (valueBytes + 2)·density bytes a column). Fitted to same-process A/B runs (src/kernels/csr.ts
 * lists them): at K = 4096 one panel stays best from 85% sparsity up, and at K = 11008 the best measured widths
 * were ≈ 3700 columns at 90%, ≈ 2800 at 70% and 2000–2800 at 50%.
 */
export const PANEL_L1_BYTES = 20480;

/**
 * Widest panel: the kernels read a column index as a u16 byte offset (column · 4) from the panel's first column
 * (src/kernels/_gather.ts), so 16384 columns.
 */
export const PANEL_MAX_COLS = U16_INDEX_LIMIT / 4;

/** Panel widths are rounded up to a multiple of this (whole 64-byte lines of x per panel). */
const PANEL_ALIGN = 16;

/** How W's columns are split: `panels` panels of `width` columns (the last may be narrower). */
export interface PanelPlan {
  readonly width: number;
  readonly panels: number;
}

/** How the layout splits (internal: tests and A/B runs set the width instead of the density rule). */
export interface PanelOptions {
  /** Widest panel in columns, at most PANEL_MAX_COLS (default: panelMaxWidth of the matrix's density). */
  maxWidth?: number;
}

/**
 * Widest panel for a CSR of `density` (non-zeros / (rows·cols)) with `valueBytes` per value (4 for f32, 2 for
 * bf16 / f16): PANEL_L1_BYTES / (4 + (valueBytes + 2)·density) columns. 2048 columns and fewer are never
 * split (a full-density f32 CSR gives 2048; SmolLM-135M has K = 576 and 1536).
 * @example panelMaxWidth(0.1, 4) // 4452: K = 4096 stays one panel, K = 11008 becomes 3 panels of 3680
 */
export function panelMaxWidth(density: number, valueBytes: number): number {
  return Math.min(PANEL_MAX_COLS, Math.floor(PANEL_L1_BYTES / (4 + (valueBytes + 2) * density)));
}

/**
 * The panels for K columns: one panel of width K up to `maxWidth`, else the fewest panels of at most
 * `maxWidth` columns, balanced (⌈K / ⌈K / maxWidth⌉⌉ rounded up to a multiple of 16, capped at maxWidth).
 * @example panelPlan(11008, 2048) // { width: 1840, panels: 6 }: five of 1840 columns and one of 1808
 */
export function panelPlan(K: number, maxWidth: number): PanelPlan {
  if (!Number.isInteger(maxWidth) || maxWidth < 1 || maxWidth > PANEL_MAX_COLS) {
    throw new RangeError(`panelPlan: maxWidth must be an integer in [1, ${PANEL_MAX_COLS}], got ${maxWidth}`);
  }
  const width = balancedPanel(K, maxWidth, PANEL_ALIGN, maxWidth);
  return { width, panels: width === K ? 1 : Math.ceil(K / width) };
}

/** A CSR [rows, cols] in column panels (see the file header). */
export interface CsrPanels<V extends Float32Array | Uint16Array> extends PanelPlan {
  readonly rows: number;
  readonly cols: number;
  /** [panels·rows + 1]: panel p's row i is entries [rowPtr[p·rows + i], rowPtr[p·rows + i + 1]). */
  readonly rowPtr: Uint32Array;
  /** [nnz] column of each entry minus its panel's first column (p·width). */
  readonly colIdx: Uint16Array;
  /** [nnz] value of each entry (f32, or the bits of a half-value CSR). */
  readonly values: V;
}

/** The CSR arrays a panel layout is packed from (a valid CSR; values f32 or half bits). */
export interface CsrArrays<V extends Float32Array | Uint16Array> {
  readonly rows: number;
  readonly cols: number;
  readonly rowPtr: Uint32Array;
  readonly colIdx: Uint16Array | Uint32Array;
  readonly values: V;
}

/**
 * Repack a valid CSR into `plan`'s panels. One panel with u16 indices is the CSR itself (its arrays, not
 * copies). A row's entries in one panel are a contiguous run of its sorted entries, so each run is found once
 * (bounds[p·rows + i]: where panel p's entries of row i start in the CSR) and copied as a block.
 */
export function packCsrPanels<V extends Float32Array | Uint16Array>(
  w: CsrArrays<V>,
  plan: PanelPlan,
): CsrPanels<V> {
  const { rows, cols } = w;
  const { width, panels } = plan;
  if (panels === 1 && w.colIdx instanceof Uint16Array) {
    return { rows, cols, width, panels, rowPtr: w.rowPtr, colIdx: w.colIdx, values: w.values };
  }
  const bounds = new Uint32Array(panels * rows);
  const rowPtr = new Uint32Array(panels * rows + 1);
  for (let i = 0; i < rows; i++) {
    let q = w.rowPtr[i]!;
    const end = w.rowPtr[i + 1]!;
    for (let p = 0; p < panels; p++) {
      bounds[p * rows + i] = q;
      while (q < end && w.colIdx[q]! < (p + 1) * width) q++;
      rowPtr[p * rows + i + 1] = q - bounds[p * rows + i]!;
    }
  }
  for (let s = 1; s < rowPtr.length; s++) rowPtr[s] = rowPtr[s]! + rowPtr[s - 1]!;
  const nnz = w.values.length;
  const colIdx = new Uint16Array(nnz);
  const values = new (w.values.constructor as { new (n: number): V })(nnz);
  for (let p = 0; p < panels; p++) {
    const first = p * width;
    for (let i = 0; i < rows; i++) {
      const from = bounds[p * rows + i]!;
      const d = rowPtr[p * rows + i]!;
      const n = rowPtr[p * rows + i + 1]! - d;
      values.set(w.values.subarray(from, from + n), d);
      for (let t = 0; t < n; t++) colIdx[d + t] = w.colIdx[from + t]! - first;
    }
  }
  return { rows, cols, width, panels, rowPtr, colIdx, values };
}

/**
 * Widest panel of a CSR's SpMM copy. SpMM reads a row of B (N floats) per entry, so the B rows of one panel's
 * columns must stay in L1 as the SpMV's x slice does: 32 KB at N = 8 for 1024 columns, where the SpMV layout's
 * panels (up to ≈ 4500 columns, x's 4 bytes a column) leave B in L2. Same process, one thread, each weight in
 * both layouts (4096² at 90% / 70%, 576×1536 at 90% / 70%; rule width → 1024 columns): N = 8 1.38 → 1.00 ms and
 * 3.79 → 2.47 ms; N = 64 1.05–1.21×; N = 256 1.14–1.37×; N = 512 1.08–1.18×. SpMV keeps its own layout: on
 * 1024-column panels it loses 0.75–0.97× (docs/kernels.md).
 */
export const SPMM_PANEL_COLS = 1024;

/** Right-hand sides narrower than this run SpMM on the SpMV layout (B's slice of a wide panel is small). */
export const SPMM_COPY_MIN_N = 8;

let spmmCopiesOn = true;

/**
 * Whether an SpMM with N ≥ SPMM_COPY_MIN_N columns may run on a second resident copy of a CSR weight (csr,
 * csr_bf16, csr_f16) whose SpMV panels are wider than SPMM_PANEL_COLS, stored in panels of at most that width
 * (default true). A weight used for both SpMV and SpMM (a model's decode and prefill) is then held twice; `false`
 * keeps one copy, and SpMM runs on the SpMV layout. Copies already made stay until `release(w)`.
 */
export function setSpmmCopies(on: boolean): void {
  if (typeof on !== 'boolean')
    throw new TypeError(`setSpmmCopies: on must be true or false, got ${String(on)}`);
  spmmCopiesOn = on;
}

/**
 * The widest panel of the SpMM copy a CSR [·, cols] of `density` with `valueBytes` per value should run an
 * N-column SpMM on, or undefined when SpMM runs on the SpMV layout (N below SPMM_COPY_MIN_N, SpMV panels
 * already at most SPMM_PANEL_COLS wide, or copies turned off).
 * @example spmmCopyWidth(4096, 0.1, 4, 8) // 1024: the SpMV layout is one 4096-column panel
 */
export function spmmCopyWidth(
  cols: number,
  density: number,
  valueBytes: number,
  N: number,
): number | undefined {
  if (!spmmCopiesOn || N < SPMM_COPY_MIN_N) return undefined;
  const spmvWidth = panelPlan(cols, panelMaxWidth(density, valueBytes)).width;
  return spmvWidth > SPMM_PANEL_COLS ? SPMM_PANEL_COLS : undefined;
}
