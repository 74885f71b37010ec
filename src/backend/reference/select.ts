/**
 * TypeScript twins of the selection kernels (src/kernels/select.ts): a readable sort-based definition of
 * top-k and threshold selection that the radix-select kernels must reproduce exactly.
 */

/** Which entries top-k keeps: the largest (default) or smallest, of x or of |x|. */
export interface SelectOptions {
  /** Keep the largest scores (default true); false keeps the smallest. */
  largest?: boolean;
  /** Score entries by |x| instead of x (default false). */
  abs?: boolean;
}

/** Selected entries of a vector: indices ascending, values[i] = x[indices[i]]. */
export interface Selection {
  values: Float32Array;
  indices: Uint32Array;
}

/** Per-row top-k of x [R,C]: values and column indices [R,k] row-major, each row's indices ascending. */
export interface RowSelection extends Selection {
  rows: number;
  k: number;
}

/** Per-row threshold selection of x [R,C] in CSR layout: row r's entries are [rowPtr[r], rowPtr[r+1]). */
export interface RowThreshold extends Selection {
  rowPtr: Uint32Array;
}

/** Index of the first NaN or ±Inf in data, or -1. */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

/**
 * Top-k of data[start, start + n): the k entries with the highest score (x or |x|, negated when
 * `largest` is false), ties to the lower index; returned with indices (relative to start) ascending.
 * -0 and +0 tie (they compare equal).
 */
export function topkRef(
  data: Float32Array,
  k: number,
  { largest = true, abs = false }: SelectOptions = {},
  start = 0,
  n = data.length - start,
): Selection {
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = abs ? Math.abs(data[start + i]!) : data[start + i]!;
    score[i] = largest ? v : -v;
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => score[b]! - score[a]! || a - b);
  const indices = Uint32Array.from(order.slice(0, k)).sort();
  const values = new Float32Array(k);
  for (let i = 0; i < k; i++) values[i] = data[start + indices[i]!]!;
  return { values, indices };
}

/** Per-row top-k of data [R,C]. */
export function topkRowsRef(
  data: Float32Array,
  R: number,
  C: number,
  k: number,
  opts: SelectOptions = {},
): RowSelection {
  const values = new Float32Array(R * k);
  const indices = new Uint32Array(R * k);
  for (let r = 0; r < R; r++) {
    const row = topkRef(data, k, opts, r * C, C);
    values.set(row.values, r * k);
    indices.set(row.indices, r * k);
  }
  return { values, indices, rows: R, k };
}

/** Entries of data[start, start + n) whose score (x, or |x| with abs) is > t; indices relative to start. */
export function thresholdRef(
  data: Float32Array,
  t: number,
  abs = false,
  start = 0,
  n = data.length - start,
): Selection {
  const picked: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = data[start + i]!;
    if ((abs ? Math.abs(v) : v) > t) picked.push(i);
  }
  const indices = Uint32Array.from(picked);
  const values = new Float32Array(indices.length);
  for (let i = 0; i < indices.length; i++) values[i] = data[start + indices[i]!]!;
  return { values, indices };
}

/** Per-row threshold selection of data [R,C] (column indices). */
export function thresholdRowsRef(
  data: Float32Array,
  R: number,
  C: number,
  t: number,
  abs = false,
): RowThreshold {
  const rows = Array.from({ length: R }, (_, r) => thresholdRef(data, t, abs, r * C, C));
  const rowPtr = new Uint32Array(R + 1);
  for (let r = 0; r < R; r++) rowPtr[r + 1] = rowPtr[r]! + rows[r]!.indices.length;
  const values = new Float32Array(rowPtr[R]!);
  const indices = new Uint32Array(rowPtr[R]!);
  for (let r = 0; r < R; r++) {
    values.set(rows[r]!.values, rowPtr[r]!);
    indices.set(rows[r]!.indices, rowPtr[r]!);
  }
  return { values, indices, rowPtr };
}
