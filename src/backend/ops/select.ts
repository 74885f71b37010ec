/**
 * Selection ops: top-k, per-row top-k, threshold selection and top-k masks. The one selector every
 * sparsity site reuses (weights, activations, attention blocks, experts, SAE latents).
 *
 * Contract shared by every op here: results list indices in ascending order with values[i] = x[indices[i]];
 * top-k returns exactly k entries and breaks ties toward the lower index (-0 and +0 tie); scores must be
 * finite. The fast path scans for NaN/±Inf with a SIMD kernel (`first_nonfinite_f32`) before any selection
 * kernel runs, the reference scans in TypeScript; both raise the same error naming x and the first bad index.
 */

import { dims2, Tensor } from '../../tensor/tensor.js';
import { register, resolve } from '../dispatch.js';
import { splitEven } from '../pool.js';
import {
  firstNonFinite,
  type RowSelection,
  type RowThreshold,
  type Selection,
  type SelectOptions,
  thresholdRef,
  thresholdRowsRef,
  topkRef,
  topkRowsRef,
} from '../reference/select.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import { MIN_PARALLEL_WORK } from './dense.js';

export type { RowSelection, RowThreshold, Selection, SelectOptions };

/** Vectors at least this long are split into per-thread chunks for top-k and threshold selection. */
const MIN_CHUNK = 1 << 16;
/** The radix-select digits of kernels/select.ts, most significant first: shift and bucket mask. */
const DIGITS = [
  { shift: 21, bmask: 0x7ff },
  { shift: 10, bmask: 0x7ff },
  { shift: 0, bmask: 0x3ff },
] as const;

// ---------------------------------------------------------------------------------------------------------
// Validation shared by both paths

function checkTensor(op: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: x must be a Tensor`);
}

function checkK(op: string, k: number, n: number, what = 'n'): void {
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new RangeError(`${op}: k must be an integer in [0, ${what}] with ${what} = ${n}, got ${k}`);
  }
}

function checkThreshold(op: string, t: number): void {
  if (typeof t !== 'number' || Number.isNaN(t)) throw new RangeError(`${op}: t must be a number, got ${t}`);
}

/** The error for a NaN/±Inf at flat index i of x (as [row, col] when cols is given). */
function nonFiniteError(op: string, x: Tensor, i: number, cols?: number): RangeError {
  const at = cols === undefined ? `${i}` : `${Math.floor(i / cols)}, ${i % cols}`;
  return new RangeError(
    `${op}: x[${at}] is ${x.data[i]}; selection needs finite scores (replace NaN/±Inf before selecting)`,
  );
}

function scanRef(op: string, x: Tensor, cols?: number): void {
  const bad = firstNonFinite(x.data);
  if (bad >= 0) throw nonFiniteError(op, x, bad, cols);
}

function scanWasm(rt: WasmRuntime, op: string, x: Tensor, xp: number, cols?: number): void {
  const bad = rt.kernels.first_nonfinite_f32!(xp, x.size) as number;
  if (bad >= 0) throw nonFiniteError(op, x, bad, cols);
}

// ---------------------------------------------------------------------------------------------------------
// Public ops

/**
 * The k largest entries of x (any shape, taken as its flat data [n]); `largest: false` takes the smallest,
 * `abs: true` scores by |x|. Exactly k entries, indices ascending, ties to the lower index.
 * @example topk(Tensor.from([3, -7, 5, 5]), 2, { abs: true }) // { indices: [1, 2], values: [-7, 5] }
 */
export function topk(x: Tensor, k: number, opts: SelectOptions = {}): Selection {
  checkTensor('topk', x);
  checkK('topk', k, x.size);
  return resolve<TopkFn>('topk', ['dense'])(x, k, opts, 'topk');
}

/** Per-row top-k of x [R,C]: values and column indices [R,k] row-major, each row's indices ascending. */
export function topkRows(x: Tensor, k: number, opts: SelectOptions = {}): RowSelection {
  checkTensor('topkRows', x);
  const [, C] = dims2(x, 'topkRows: x');
  checkK('topkRows', k, C, 'C');
  return resolve<TopkRowsFn>('topkRows', ['dense'])(x, k, opts, 'topkRows');
}

/** Entries of x (flat [n]) with x > t, or |x| > t with `abs: true`; indices ascending. */
export function thresholdSelect(x: Tensor, t: number, opts: { abs?: boolean } = {}): Selection {
  checkTensor('thresholdSelect', x);
  checkThreshold('thresholdSelect', t);
  return resolve<ThresholdFn>('threshold', ['dense'])(x, t, opts.abs ?? false);
}

/** Per-row threshold selection of x [R,C] in CSR layout (rowPtr [R+1], column indices, values). */
export function thresholdRows(x: Tensor, t: number, opts: { abs?: boolean } = {}): RowThreshold {
  checkTensor('thresholdRows', x);
  dims2(x, 'thresholdRows: x');
  checkThreshold('thresholdRows', t);
  return resolve<ThresholdRowsFn>('thresholdRows', ['dense'])(x, t, opts.abs ?? false);
}

/** Top-k of x (flat [n]) as a mask: Uint8Array [n], 1 = kept. Pruning keeps what the mask keeps. */
export function topkMask(x: Tensor, k: number, opts: SelectOptions = {}): Uint8Array {
  checkTensor('topkMask', x);
  checkK('topkMask', k, x.size);
  const { indices } = resolve<TopkFn>('topk', ['dense'])(x, k, opts, 'topkMask');
  const mask = new Uint8Array(x.size);
  for (const i of indices) mask[i] = 1;
  return mask;
}

/** Per-row top-k of x [R,C] as a mask: Uint8Array [R,C] row-major, exactly k ones per row. */
export function topkMaskRows(x: Tensor, k: number, opts: SelectOptions = {}): Uint8Array {
  checkTensor('topkMaskRows', x);
  const [R, C] = dims2(x, 'topkMaskRows: x');
  checkK('topkMaskRows', k, C, 'C');
  const { indices } = resolve<TopkRowsFn>('topkRows', ['dense'])(x, k, opts, 'topkMaskRows');
  const mask = new Uint8Array(R * C);
  for (let r = 0; r < R; r++) for (let j = 0; j < k; j++) mask[r * C + indices[r * k + j]!] = 1;
  return mask;
}

type TopkFn = (x: Tensor, k: number, opts: SelectOptions, op: string) => Selection;
type TopkRowsFn = (x: Tensor, k: number, opts: SelectOptions, op: string) => RowSelection;
type ThresholdFn = (x: Tensor, t: number, abs: boolean) => Selection;
type ThresholdRowsFn = (x: Tensor, t: number, abs: boolean) => RowThreshold;

// ---------------------------------------------------------------------------------------------------------
// Fast paths (WebAssembly)

/** Kernel mode bits: 1 = score |x|, 2 = select the smallest. */
function modeOf({ largest = true, abs = false }: SelectOptions): number {
  return (abs ? 1 : 0) | (largest ? 0 : 2);
}

/**
 * Ranges for a kernel with per-thread scratch: range s over work items [a, b) becomes
 * [s·items + a, s·items + b), so the kernel recovers its scratch slot as r0 / items.
 * Needs one scratch slot per range.
 */
export function slottedRanges(
  ranges: ReadonlyArray<readonly [number, number]>,
  items: number,
): Array<[number, number]> {
  if (ranges.length * items >= 2 ** 31)
    throw new RangeError(`slottedRanges: ${items} work items is too many`);
  return ranges.map(([a, b], s) => [s * items + a, s * items + b]);
}

/** Chunks of a long vector for the chunked kernels: one per thread (a single chunk when short). */
function chunking(rt: WasmRuntime, n: number): { chunkLen: number; chunks: number } {
  const parts = n >= MIN_CHUNK ? rt.threads : 1;
  const chunkLen = Math.max(16, Math.ceil(n / parts / 16) * 16);
  return { chunkLen, chunks: Math.max(1, Math.ceil(n / chunkLen)) };
}

/** Order-preserving u32 key of a float (abs or signed; never flipped): the twin of the kernel's keyOf. */
function orderKey(v: number): number {
  const u = new Uint32Array(Float32Array.of(v).buffer)[0]!;
  const c = u === 0x80000000 ? 0 : u;
  return (c & 0x80000000 ? ~c : c ^ 0x80000000) >>> 0;
}

/** Key K with key(x) > K ⇔ x > t for every f32 x, even when t is not an f32 (rounding t up shifts K by one). */
function thresholdKey(t: number): number {
  const t32 = Math.fround(t);
  return (orderKey(t32) - (t32 > t ? 1 : 0)) >>> 0;
}

function topkWasm(x: Tensor, k: number, opts: SelectOptions, op: string): Selection {
  const rt = runtime();
  const n = x.size;
  const mode = modeOf(opts);
  const ptrs: number[] = [];
  const alloc = (bytes: number) => {
    const p = rt.alloc(bytes);
    ptrs.push(p);
    return p;
  };
  try {
    const xp = rt.upload(x.data);
    ptrs.push(xp);
    scanWasm(rt, op, x, xp);
    const vp = alloc(k * 4);
    const ip = alloc(k * 4);
    const { chunkLen, chunks } = chunking(rt, n);
    // Small k: one thread's single pass (kernels/select.ts topkByInsertion) beats chunked radix select.
    if (chunks === 1 || k === 0 || k === n || k <= (rt.kernels.topk_small_k!() as number)) {
      const scratch = alloc(rt.kernels.topk_rows_scratch_bytes!() as number);
      rt.parallel('topk_rows_f32', [xp, 1, n, k, mode, scratch, vp, ip], [[0, 1]]);
    } else {
      topkChunked(rt, xp, n, k, mode, chunkLen, chunks, alloc, vp, ip);
    }
    return { values: rt.f32(vp, k).slice(), indices: rt.u32(ip, k).slice() };
  } finally {
    for (const p of ptrs) rt.free(p);
  }
}

/**
 * Radix select over chunks of a long vector: each histogram pass runs per chunk in parallel, the host merges
 * the chunks' histograms to fix one more digit of the k-th key, and the compaction pass writes each chunk's
 * share at its prefix-sum offset (ties at the k-th key go to the earliest chunks first).
 */
function topkChunked(
  rt: WasmRuntime,
  xp: number,
  n: number,
  k: number,
  mode: number,
  chunkLen: number,
  chunks: number,
  alloc: (bytes: number) => number,
  vp: number,
  ip: number,
): void {
  const ranges = splitEven(chunks, rt.threads);
  const stride = (rt.kernels.select_hist_bytes!() as number) / 4; // u32 per chunk histogram
  const hist = alloc(chunks * stride * 4);
  const above = new Float64Array(chunks); // per chunk: keys known to be above the k-th key
  let tied = new Float64Array(chunks); // per chunk: keys equal to the k-th key (after the last pass)
  let t = 0;
  let kk = k;
  DIGITS.forEach(({ shift, bmask }, pass) => {
    rt.parallel('select_hist_f32', [xp, n, chunkLen, mode, pass, t, hist], ranges);
    const h = rt.u32(hist, chunks * stride);
    const at = (c: number, b: number) => h[c * stride + b]!;
    let b = bmask;
    for (; b > 0; b--) {
      let count = 0;
      for (let c = 0; c < chunks; c++) count += at(c, b);
      if (count >= kk) break;
      kk -= count;
      for (let c = 0; c < chunks; c++) above[c] += at(c, b);
    }
    t = (t | (b << shift)) >>> 0;
    tied = tied.map((_, c) => at(c, b));
  });
  // Per chunk: output offset, tie quota, output count, unused (ties go to the earliest chunks first).
  const plan = new Uint32Array(chunks * 4);
  let offset = 0;
  let ties = kk;
  for (let c = 0; c < chunks; c++) {
    const quota = Math.min(ties, tied[c]!);
    const count = above[c]! + quota;
    plan.set([offset, quota, count], 4 * c);
    offset += count;
    ties -= quota;
  }
  const pp = alloc(plan.byteLength);
  rt.write(pp, plan);
  rt.parallel('select_compact_f32', [xp, n, chunkLen, mode, t, pp, vp, ip], ranges);
}

function topkRowsWasm(x: Tensor, k: number, opts: SelectOptions, op: string): RowSelection {
  const rt = runtime();
  const [R, C] = dims2(x, `${op}: x`);
  const ptrs: number[] = [];
  try {
    const xp = rt.upload(x.data);
    ptrs.push(xp);
    scanWasm(rt, op, x, xp, C);
    const vp = rt.alloc(R * k * 4);
    ptrs.push(vp);
    const ip = rt.alloc(R * k * 4);
    ptrs.push(ip);
    if (R > 0) {
      const ranges = rt.rowRanges(R, 1, R * C, MIN_PARALLEL_WORK);
      const scratch = rt.alloc(ranges.length * (rt.kernels.topk_rows_scratch_bytes!() as number));
      ptrs.push(scratch);
      rt.parallel('topk_rows_f32', [xp, R, C, k, modeOf(opts), scratch, vp, ip], slottedRanges(ranges, R));
    }
    return { values: rt.f32(vp, R * k).slice(), indices: rt.u32(ip, R * k).slice(), rows: R, k };
  } finally {
    for (const p of ptrs) rt.free(p);
  }
}

/**
 * Threshold selection over rows of length C of x's flat data (the last row may be shorter): per-row
 * column indices and values packed CSR-style. Rows run in parallel, each writing into its own region.
 */
function thresholdWasmRows(
  rt: WasmRuntime,
  x: Tensor,
  C: number,
  t: number,
  abs: boolean,
  op: string,
  cols?: number,
): RowThreshold {
  const n = x.size;
  const R = Math.ceil(n / C);
  const ptrs: number[] = [];
  try {
    const xp = rt.upload(x.data);
    ptrs.push(xp);
    scanWasm(rt, op, x, xp, cols);
    const vp = rt.alloc(n * 4);
    ptrs.push(vp);
    const ip = rt.alloc(n * 4);
    ptrs.push(ip);
    const cp = rt.alloc(R * 4);
    ptrs.push(cp);
    const ranges = rt.rowRanges(R, 1, n, MIN_PARALLEL_WORK);
    rt.parallel('threshold_rows_f32', [xp, n, C, abs ? 1 : 0, thresholdKey(t), vp, ip, cp], ranges);
    const counts = rt.u32(cp, R);
    const rowPtr = new Uint32Array(R + 1);
    for (let r = 0; r < R; r++) rowPtr[r + 1] = rowPtr[r]! + counts[r]!;
    const values = new Float32Array(rowPtr[R]!);
    const indices = new Uint32Array(rowPtr[R]!);
    const allValues = rt.f32(vp, n);
    const allIndices = rt.u32(ip, n);
    for (let r = 0; r < R; r++) {
      const from = r * C;
      values.set(allValues.subarray(from, from + counts[r]!), rowPtr[r]!);
      indices.set(allIndices.subarray(from, from + counts[r]!), rowPtr[r]!);
    }
    return { values, indices, rowPtr };
  } finally {
    for (const p of ptrs) rt.free(p);
  }
}

function thresholdWasm(x: Tensor, t: number, abs: boolean): Selection {
  const rt = runtime();
  if (x.size === 0) return { values: new Float32Array(0), indices: new Uint32Array(0) };
  const { chunkLen } = chunking(rt, x.size);
  const { values, indices, rowPtr } = thresholdWasmRows(rt, x, chunkLen, t, abs, 'thresholdSelect');
  // Chunk-relative column indices → flat indices.
  for (let r = 1; r + 1 < rowPtr.length; r++) {
    for (let i = rowPtr[r]!; i < rowPtr[r + 1]!; i++) indices[i] = indices[i]! + r * chunkLen;
  }
  return { values, indices };
}

function thresholdRowsWasm(x: Tensor, t: number, abs: boolean): RowThreshold {
  const [R, C] = dims2(x, 'thresholdRows: x');
  if (R === 0 || C === 0) {
    return { values: new Float32Array(0), indices: new Uint32Array(0), rowPtr: new Uint32Array(R + 1) };
  }
  return thresholdWasmRows(runtime(), x, C, t, abs, 'thresholdRows', C);
}

// ---------------------------------------------------------------------------------------------------------
// References (TypeScript twins) and registration

function topkReference(x: Tensor, k: number, opts: SelectOptions, op: string): Selection {
  scanRef(op, x);
  return topkRef(x.data, k, opts);
}

function topkRowsReference(x: Tensor, k: number, opts: SelectOptions, op: string): RowSelection {
  const [R, C] = dims2(x, `${op}: x`);
  scanRef(op, x, C);
  return topkRowsRef(x.data, R, C, k, opts);
}

function thresholdReference(x: Tensor, t: number, abs: boolean): Selection {
  scanRef('thresholdSelect', x);
  return thresholdRef(x.data, t, abs);
}

function thresholdRowsReference(x: Tensor, t: number, abs: boolean): RowThreshold {
  const [R, C] = dims2(x, 'thresholdRows: x');
  scanRef('thresholdRows', x, C);
  return thresholdRowsRef(x.data, R, C, t, abs);
}

register('topk', ['dense'], 'fast', topkWasm);
register('topk', ['dense'], 'reference', topkReference);
register('topkRows', ['dense'], 'fast', topkRowsWasm);
register('topkRows', ['dense'], 'reference', topkRowsReference);
register('threshold', ['dense'], 'fast', thresholdWasm);
register('threshold', ['dense'], 'reference', thresholdReference);
register('thresholdRows', ['dense'], 'fast', thresholdRowsWasm);
register('thresholdRows', ['dense'], 'reference', thresholdRowsReference);
