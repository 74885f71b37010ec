/**
 * CSR matmul on the WebAssembly kernels (src/kernels/csr.ts): C[M,N] = W[M,K] · B[K,N], B a vector [K]
 * (SpMV) or a row-major block (SpMM); the resident copy is in column panels when K is large (csr-panels.ts).
 * Also exports the helpers the other sparse op families share.
 */

import { type CSR, csrMatmul, csrValidate } from '../../formats/csr.js';
import { FormatError } from '../../formats/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { register } from '../dispatch.js';
import { splitByPrefix } from '../pool.js';
import { type Resident, resident } from '../resident.js';
import { type HostArray, runtime, type WasmRuntime } from '../wasm.js';
import {
  type CsrArrays,
  type PanelOptions,
  type PanelPlan,
  packCsrPanels,
  panelMaxWidth,
  panelPlan,
  spmmCopyWidth,
} from './csr-panels.js';
import { MIN_PARALLEL_WORK, outputFor, packB, rhsCols } from './dense.js';
import { registerGemvInto } from './matmul.js';

/** Row ranges `[r0, r1)` a row-parallel kernel runs over, one per thread. */
export type RowRanges = Array<[number, number]>;

/**
 * Check the cheap per-call facts of `w · b` for a weight already validated when it became resident:
 * its format tag, and that b is [K] or [K,N]. Throws FormatError / RangeError naming the argument.
 */
export function checkSparseCall(
  op: string,
  format: string,
  w: { format: string; cols: number },
  b: Tensor,
): void {
  if (w?.format !== format) {
    throw new FormatError(
      format,
      'format',
      `${op}: w.format is ${JSON.stringify(w?.format)} but must be "${format}"`,
    );
  }
  if (b.rank !== 1 && b.rank !== 2) {
    throw new RangeError(`${op}: b must be [K] or [K,N], got shape [${b.shape.join(', ')}]`);
  }
  if (b.shape[0] !== w.cols) {
    throw new RangeError(`${op}: b has ${b.shape[0]} rows but w has ${w.cols} columns`);
  }
}

/** checkSparseCall for a weight in either of a half-value format's two tags (e.g. csr_bf16 / csr_f16). */
export function checkHalfSparseCall(
  op: string,
  formats: readonly [string, string],
  w: { format: string; cols: number },
  b: Tensor,
): void {
  if (w?.format !== formats[0] && w?.format !== formats[1]) {
    throw new FormatError(
      formats[0],
      'format',
      `${op}: w.format is ${JSON.stringify(w?.format)} but must be "${formats[0]}" or "${formats[1]}"`,
    );
  }
  checkSparseCall(op, w.format, w, b);
}

/**
 * Return the resident copy `r` of `w` after checking that w still has the shape it had when it was
 * uploaded (a weight changed in place needs `release(w)` first; the kernels only ever read `r`).
 */
export function sameShape<R extends { rows: number; cols: number }>(
  r: R,
  w: { format: string; rows: number; cols: number },
): R {
  if (r.rows !== w.rows || r.cols !== w.cols) {
    throw new FormatError(
      w.format,
      'rows',
      `w is ${w.rows}×${w.cols} but its resident copy is ${r.rows}×${r.cols}; call release(w) after changing a weight in place`,
    );
  }
  return r;
}

/**
 * Run a sparse kernel on b [K] or [K,N]: write b zero-padded to `kRows` rows (so block and vector kernels
 * may read whole tiles past K) and C [mRows,N] after it in one call frame (WasmRuntime.beginFrame), call
 * `run(bPtr, cPtr, N)`, return the first M rows as [M] or [M,N]. Hands the frame back whatever happens.
 */
export function runSparseMatmul(
  rt: WasmRuntime,
  M: number,
  b: Tensor,
  run: (bPtr: number, cPtr: number, N: number) => void,
  kRows = b.shape[0]!,
  mRows = M,
): Tensor {
  const N = rhsCols(b);
  const bBytes = Math.ceil((kRows * N * 4) / 64) * 64;
  const bp = rt.beginFrame(bBytes + mRows * N * 4);
  try {
    rt.f32(bp, b.size).set(b.data);
    if (kRows * N > b.data.length) rt.f32(bp + b.data.length * 4, kRows * N - b.data.length).fill(0);
    const cp = bp + bBytes;
    run(bp, cp, N);
    const out = outputFor(M, b);
    out.data.set(rt.f32(cp, M * N));
    return out;
  } finally {
    rt.endFrame(bp);
  }
}

/**
 * An in-place GEMV (matmulInto) for kernels that read x in whole groups or blocks of kRows ≥ K entries and write
 * y in whole blocks of mRows ≥ M: x [K] at xp is read where it lies when K = kRows, else copied zero-padded into
 * the runtime's call frame; y [M] at yp is written in place when M = mRows, else through the frame and copied
 * back. `scratchBytes` more bytes of the frame go to the kernel. A decode step's products then allocate nothing.
 */
export function gemvInPlace(
  rt: WasmRuntime,
  xp: number,
  yp: number,
  dims: { K: number; kRows: number; M: number; mRows: number },
  scratchBytes: number,
  run: (x: number, y: number, scratch: number) => void,
): void {
  const { K, kRows, M, mRows } = dims;
  const xBytes = kRows === K ? 0 : Math.ceil((kRows * 4) / 64) * 64;
  const yBytes = mRows === M ? 0 : Math.ceil((mRows * 4) / 64) * 64;
  const frame = rt.beginFrame(Math.max(64, xBytes + yBytes + scratchBytes));
  try {
    let x = xp;
    if (xBytes) {
      x = frame;
      rt.f32(x, kRows).fill(0);
      rt.f32(x, K).set(rt.f32(xp, K));
    }
    const y = yBytes ? frame + xBytes : yp;
    run(x, y, frame + xBytes + yBytes);
    if (yBytes) rt.f32(yp, M).set(rt.f32(y, M));
  } finally {
    rt.endFrame(frame);
  }
}

/** Copy `src` into a fresh heap block followed by `pad` zero bytes (for kernels that read whole vectors). */
export function uploadPadded(rt: WasmRuntime, src: HostArray, pad: number): number {
  const ptr = rt.alloc(src.byteLength + pad);
  rt.write(ptr, src);
  new Uint8Array(rt.memory.buffer, ptr + src.byteLength, pad).fill(0);
  return ptr;
}

/**
 * Ranges for a kernel over `rows` rows given the cumulative cost `prefix` (length rows+1, e.g. rowPtr):
 * one range when the work (`prefix[rows]·N` multiply-adds) is below MIN_PARALLEL_WORK, else one per
 * thread with about equal cost (`rowCost` adds a fixed cost per row, e.g. for empty rows).
 */
export function prefixRanges(rt: WasmRuntime, prefix: Uint32Array, N: number, rowCost = 0): RowRanges {
  const rows = prefix.length - 1;
  const work = (prefix[rows]! + rowCost * rows) * N;
  if (rt.threads === 1 || work < MIN_PARALLEL_WORK) return rows > 0 ? [[0, rows]] : [];
  return splitByPrefix(prefix, rt.threads, 1, rowCost);
}

/**
 * A CSR weight packed in kernel memory, in column panels (csr-panels.ts; one panel of width K for small K).
 */
export interface ResidentCSR extends PanelPlan {
  rows: number;
  cols: number;
  /**
   * Byte offsets of the panels' rowPtr (u32 [panels·rows + 1]), colIdx (u16 byte offsets, column · 4, relative
   * to each panel's first column: src/kernels/_gather.ts) and values (f32; u16 bits for csr_bf16 / csr_f16).
   */
  rowPtr: number;
  colIdx: number;
  values: number;
  /** Host copy of the CSR's rowPtr [rows+1] (all panels together), for splitting rows by non-zeros. */
  hostRowPtr: Uint32Array;
}

/**
 * Upload a valid CSR's arrays (the caller validates; the blocks are freed with the resident entry) in column
 * panels when K is large for its density (panelMaxWidth; `options.maxWidth` overrides it). The values go up as
 * they are: f32, or the u16 bits of a half-value CSR.
 */
export function uploadCsr(
  rt: WasmRuntime,
  w: CsrArrays<Float32Array | Uint16Array>,
  options: PanelOptions = {},
): Resident<ResidentCSR> {
  const density = w.values.length / Math.max(1, w.rows * w.cols);
  const maxWidth = options.maxWidth ?? panelMaxWidth(density, w.values.BYTES_PER_ELEMENT);
  const packed = packCsrPanels(w, panelPlan(w.cols, maxWidth));
  // 8 entries of zeros after colIdx and values: a kernel's masked last step of a row may read up to 7 past its end.
  // The kernels take column indices as byte offsets (column · 4: src/kernels/_gather.ts), which a panel's width
  // (at most PANEL_MAX_COLS) keeps within u16.
  const ptrs = [
    rt.upload(packed.rowPtr),
    uploadPadded(rt, byteOffsets(packed.colIdx), 16),
    uploadPadded(rt, packed.values, 32),
  ];
  const value: ResidentCSR = {
    rows: w.rows,
    cols: w.cols,
    width: packed.width,
    panels: packed.panels,
    rowPtr: ptrs[0]!,
    colIdx: ptrs[1]!,
    values: ptrs[2]!,
    hostRowPtr: w.rowPtr.slice(),
  };
  return { ptrs, value };
}

/** The column indices of a panel layout as the kernels read them: each times 4 (a byte offset into x). */
function byteOffsets(colIdx: Uint16Array): Uint16Array {
  const out = new Uint16Array(colIdx.length);
  for (let q = 0; q < colIdx.length; q++) out[q] = colIdx[q]! << 2;
  return out;
}

/**
 * Row ranges for a resident CSR's kernels: split by non-zeros, each row costing 2 more per panel (its
 * pointers, its partial sum's store).
 */
export function csrRanges(rt: WasmRuntime, r: ResidentCSR, N: number): RowRanges {
  return prefixRanges(rt, r.hostRowPtr, N, 2 * r.panels);
}

/** Validate `w` (once) and upload it, or return the copy already resident in `rt`. */
export function residentCsr(rt: WasmRuntime, w: CSR): ResidentCSR {
  const r = resident(rt, w, 'csr', () => {
    csrValidate(w);
    return uploadCsr(rt, w);
  });
  return sameShape(r, w);
}

/**
 * The resident copy of CSR `w` that a product with an N-column right-hand side runs on: `spmv()` (the SpMV
 * layout, shared by SpMV and narrow SpMM), or the SpMM copy under `tag` in panels of at most spmmCopyWidth
 * columns, built (validated and uploaded) by `upload` with that maxWidth on first use.
 */
export function residentForColumns<R extends ResidentCSR>(
  rt: WasmRuntime,
  w: CsrArrays<Float32Array | Uint16Array> & object,
  N: number,
  tag: string,
  spmv: () => R,
  upload: (options: PanelOptions) => Resident<R>,
): R {
  const density = w.values.length / Math.max(1, w.rows * w.cols);
  const maxWidth = N > 1 ? spmmCopyWidth(w.cols, density, w.values.BYTES_PER_ELEMENT, N) : undefined;
  return maxWidth === undefined ? spmv() : resident(rt, w, tag, () => upload({ maxWidth }));
}

/** C = W · B on a resident CSR: SpMV kernel for a vector, SpMM kernel otherwise. */
export function csrRun(rt: WasmRuntime, r: ResidentCSR, b: Tensor): Tensor {
  return runSparseMatmul(rt, r.rows, b, (bp, cp, N) => {
    if (b.rank === 1) csrSpmv(rt, r, bp, cp);
    else {
      withSpmmB(rt, bp, r.cols, N, (bIn, rowStride, groupStride) => {
        const args = [
          r.rowPtr,
          r.colIdx,
          r.values,
          bIn,
          rowStride,
          groupStride,
          cp,
          N,
          r.rows,
          r.width,
          r.panels,
        ];
        rt.parallel('csr_spmm_f32', args, csrRanges(rt, r, N));
      });
    }
  });
}

/** Right-hand sides from this many columns are packed for the CSR SpMM (withSpmmB). */
const SPMM_PACK_MIN_N = 128;

/**
 * Run an SpMM on B [kRows, N] at `bp` (kernel memory): `run(b, rowStride, groupStride)` with B packed into
 * 8-column strips from SPMM_PACK_MIN_N columns (packB: a column tile's rows of B 32 bytes apart; row-major rows
 * N·4 bytes apart fall into few L1 sets when N·4 is a large power of two), row-major (N·4, 32) below.
 */
export function withSpmmB(
  rt: WasmRuntime,
  bp: number,
  kRows: number,
  N: number,
  run: (b: number, rowStride: number, groupStride: number) => void,
): void {
  if (N < SPMM_PACK_MIN_N) {
    run(bp, N * 4, 32);
    return;
  }
  const packed = packB(rt, bp, kRows, N);
  try {
    run(packed, 32, kRows * 32);
  } finally {
    rt.free(packed);
  }
}

/**
 * Before a CSR SpMV kernel runs: when x [K] at `xp` fits in the kernels' x scratch, copy it there (once, before the
 * threads start; the kernels then gather from that fixed address, src/kernels/_gather.ts).
 */
export function stageSpmvX(rt: WasmRuntime, xp: number, K: number): void {
  let scratch = xScratch.get(rt);
  if (!scratch) {
    scratch = [rt.kernels.spmv_x_scratch!() as number, rt.kernels.spmv_x_scratch_bytes!() as number];
    xScratch.set(rt, scratch);
  }
  if (K * 4 <= scratch[1]) rt.f32(scratch[0], K).set(rt.f32(xp, K));
}

/** Each runtime's x scratch for the CSR SpMV: [address, bytes] (constants of the build, asked once). */
const xScratch = new WeakMap<WasmRuntime, [number, number]>();

/** The SpMV kernel arguments (before the row range) of a resident CSR on x at `xp`, y at `yp`. */
function csrSpmvArgs(r: ResidentCSR, xp: number, yp: number): number[] {
  return [r.rowPtr, r.colIdx, r.values, xp, yp, r.rows, r.cols, r.width, r.panels];
}

/** y = W · x on a resident CSR, x [K] at `xp`, y [M] at `yp`, rows split by non-zeros. */
function csrSpmv(rt: WasmRuntime, r: ResidentCSR, xp: number, yp: number): void {
  stageSpmvX(rt, xp, r.cols);
  rt.parallel('csr_spmv_f32', csrSpmvArgs(r, xp, yp), csrRanges(rt, r, 1));
}

/** y = W · x for a CSR W, x and y at offsets of kernel arrays (matmulInto): read and written in place. */
function csrGemvInto(w: CSR, xp: number, yp: number): void {
  const rt = runtime();
  csrSpmv(rt, residentCsr(rt, w), xp, yp);
}

/**
 * A CSR SpMV prepared for one (x, y) (see GemvPlanner): x staged into the kernels' scratch, then the bound kernel.
 * `kernel` and `args` as the format's SpMV takes them (csr_spmv_f32, or the half-value ones).
 */
export function spmvPlan(
  rt: WasmRuntime,
  K: number,
  xp: number,
  kernel: string,
  args: number[],
  ranges: RowRanges,
): () => void {
  const spmv = rt.bind(kernel, args, ranges);
  return () => {
    stageSpmvX(rt, xp, K);
    spmv();
  };
}

function csrGemvPlan(w: CSR, xp: number, yp: number): () => void {
  const rt = runtime();
  const r = residentCsr(rt, w);
  return spmvPlan(rt, r.cols, xp, 'csr_spmv_f32', csrSpmvArgs(r, xp, yp), csrRanges(rt, r, 1));
}

/**
 * W[M,K] · B with W in CSR and B [K] (→ [M]) or [K,N] (→ [M,N]), on the WebAssembly kernels.
 * The weight is validated and uploaded on first use and stays resident (call `release(w)` after
 * changing its arrays in place).
 * @example csrMatmulWasm(csrFromDense(w), x) // SpMV
 */
export function csrMatmulWasm(w: CSR, b: Tensor): Tensor {
  checkSparseCall('csrMatmulWasm', 'csr', w, b);
  const rt = runtime();
  const r = residentForColumns(
    rt,
    w,
    rhsCols(b),
    'csr-spmm',
    () => residentCsr(rt, w),
    (options) => {
      csrValidate(w);
      return uploadCsr(rt, w, options);
    },
  );
  return csrRun(rt, sameShape(r, w), b);
}

register('matmul', ['csr', 'dense'], 'fast', csrMatmulWasm);
register('matmul', ['csr', 'dense'], 'reference', csrMatmul);
registerGemvInto(csrMatmulWasm, csrGemvInto, csrGemvPlan);
