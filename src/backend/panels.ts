import { kernelOffset } from './resident.js';
import type { WasmRuntime } from './wasm.js';

/**
 * Panel-major copies of dense weights for the GEMV kernels (src/kernels/gemv.ts explains why): a row-major
 * W [M,K] with long rows is stored as column panels of at most `GEMV_PANEL_COLS` columns, panel after panel,
 * panel p holding rows 0..M−1 of its columns contiguous. The kernel then still reads W as one sequential
 * stream per thread while x's panel stays in L1.
 */

/** Widest panel: 2048 f32 of x (8 KB) stay in L1 beside W's stream (measured, see gemv.ts). */
export const GEMV_PANEL_COLS = 2048;

let panelCols = GEMV_PANEL_COLS;

/**
 * Run `fn` with panels of at most `cols` columns for the weights it first uses (tests exercise the panel
 * kernels on small matrices this way); a weight keeps the layout it was made resident with.
 */
export function withGemvPanelCols<T>(cols: number, fn: () => T): T {
  const saved = panelCols;
  panelCols = cols;
  try {
    return fn();
  } finally {
    panelCols = saved;
  }
}

/**
 * Size of each panel when `n` columns (or groups) are split into the fewest panels of at most `max`, balanced:
 * n itself when n ≤ max, else ⌈n / ⌈n / max⌉⌉ rounded up to a multiple of `align` and capped at `cap`. The
 * GEMV, CSR and N:M panel layouts all split this way.
 * @example balancedPanel(11008, 2048, 16) // 1840: five panels of 1840 columns and one of 1808
 */
export function balancedPanel(n: number, max: number, align: number, cap = n): number {
  if (n <= max) return n;
  const balanced = Math.ceil(n / Math.ceil(n / max));
  return Math.min(cap, Math.ceil(balanced / align) * align);
}

/**
 * Panel width for rows of K columns, or 0 when rows are short enough to read row-major (K ≤ maxCols):
 * balanced panels of at most maxCols, in multiples of `align` (the kernels' block width).
 */
export function gemvPanelWidth(K: number, align: number, maxCols = panelCols): number {
  return K <= maxCols ? 0 : balancedPanel(K, maxCols, align);
}

/**
 * `src` [M,K] row-major → `out` panel-major with panels of P columns (the last K mod P wide when that is
 * not 0): out[M·c0 + i·width + j] = src[i·K + c0 + j] for the panel at column c0 of width `width`.
 */
export function packPanels<A extends Float32Array | Uint16Array>(
  src: A,
  M: number,
  K: number,
  P: number,
  out: A,
): A {
  if (!(P > 0) || src.length < M * K || out.length < M * K) {
    throw new RangeError(
      `packPanels: need P > 0 and M·K = ${M * K} elements, got P = ${P}, ${src.length} → ${out.length}`,
    );
  }
  for (let c0 = 0; c0 < K; c0 += P) {
    const width = Math.min(P, K - c0);
    const base = M * c0;
    for (let i = 0; i < M; i++) out.set(src.subarray(i * K + c0, i * K + c0 + width), base + i * width);
  }
  return out;
}

/**
 * A panel-major copy of `data` [rows, cols] in `rt`'s kernel memory for the GEMV kernels (panels in multiples of
 * `align` columns), or undefined when the GEMV should read the row-major data instead: rows no longer than one
 * panel, or data that is already a kernel array (a second copy would double the weight's memory). The caller
 * owns the block at `ptr`.
 */
export function gemvPanelCopy(
  rt: WasmRuntime,
  data: Float32Array | Uint16Array,
  rows: number,
  cols: number,
  align: number,
): { ptr: number; panel: number } | undefined {
  const panel = gemvPanelWidth(cols, align);
  if (panel === 0 || kernelOffset(rt, data) !== undefined) return undefined;
  const n = rows * cols;
  const ptr = rt.alloc(n * data.BYTES_PER_ELEMENT);
  const out = data instanceof Float32Array ? rt.f32(ptr, n) : new Uint16Array(rt.memory.buffer, ptr, n);
  packPanels(data, rows, cols, panel, out);
  return { ptr, panel };
}
