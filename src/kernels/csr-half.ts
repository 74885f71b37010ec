// CSR with half-precision values: y[M] = W[M,K] · x[K] (SpMV) and C[M,N] = W[M,K] · B[K,N] (SpMM), W in
// compressed sparse row form with bf16 or f16 value bits, f32 activations and accumulation, rows [r0, r1).
// TypeScript twin: src/backend/reference/csr.ts csrPanelsRef on the decoded values. Layout: the f32 CSR's
// column panels (csr.ts: rowPtr u32[panels·M + 1], colIdx u16[nnz] relative to each panel's first column)
// (byte offsets: column · 4) with values u16[nnz] (bf16 / f16 bits); x f32[K] / B f32[K,N] row-major, y f32[M] / C f32[M,N] row-major.
// Widening (_half.ts): bf16 is a 16-bit shift, f16 a shift, a mask and a multiply. f16 exports take
// `specials`: ≠ 0 maps Inf / NaN exactly; 0 is faster and exact for values with neither (the host scans them
// once).
//
// Panels (csr.ts) pay here as for f32 values; the host's width rule counts 4 bytes per entry instead of 6, so
// panels are a little wider (3 of 3680 columns at 4096×11008 90%). Same-process A/B, one panel vs panels,
// cold, 1 thread, two passes: 4096×11008 SpMV 1.73 / 2.53× (50%), 1.77 / 1.83× (70%), 1.70 / 1.80× (90%);
// SpMM N = 8 0.92–0.99× (the per-panel widening and C re-reads, with no L1 gain for B at N = 8); 4096×4096
// SpMV 1.09 / 1.18× (50%), 1.01–1.03× (70%), one panel at 90%.

import { fieldBias, gatherEvenFields, gatherOddFields, X_SCRATCH, X_SCRATCH_BYTES } from './_gather';
import { ELEM_BF16, ELEM_F16, evenHalves, halfAt, oddHalves } from './_half';
import { madd_f32x4 } from './_math';
import { csrSpmmPanelAdd, csrSpmmPanelStore } from './_spmm';

// ---- SpMV: y[i] = Σ_p values[p] · x[colIdx[p]] ------------------------------------------------------

/** y[i] for i in [r0, r1); values bf16; W [M, K] in `panels` column panels of `width` columns. */
export function csr_spmv_bf16(
  rowPtr: usize, colIdx: usize, values: usize, x: usize, y: usize, M: i32, K: i32, width: i32, panels: i32, r0: i32,
  r1: i32,
): void {
  spmvHalf(rowPtr, colIdx, values, x, y, M, K, width, panels, r0, r1, ELEM_BF16, false);
}

/** y[i] for i in [r0, r1); values f16; W [M, K] in `panels` column panels of `width` columns. */
export function csr_spmv_f16(
  rowPtr: usize, colIdx: usize, values: usize, x: usize, y: usize, M: i32, K: i32, width: i32, panels: i32,
  specials: i32, r0: i32, r1: i32,
): void {
  if (specials) spmvHalf(rowPtr, colIdx, values, x, y, M, K, width, panels, r0, r1, ELEM_F16, true);
  else spmvHalf(rowPtr, colIdx, values, x, y, M, K, width, panels, r0, r1, ELEM_F16, false);
}

/** Panel after panel (csr.ts): the first stores y, the others add to it; x in the scratch when it fits (_gather.ts). */
// @ts-ignore: decorator
@inline function spmvHalf(
  rowPtr: usize, colIdx: usize, values: usize, x: usize, y: usize, M: i32, K: i32, width: i32, panels: i32, r0: i32,
  r1: i32, elem: i32, specials: bool,
): void {
  const xBytes = <usize>K << 2;
  const panelBytes = <usize>width << 2;
  if (xBytes <= X_SCRATCH_BYTES) {
    // x at the fixed scratch address, where the host copied it (csr.ts spmv_x_scratch)
    spmvHalfPanel(rowPtr, colIdx, values, X_SCRATCH, 0, y, r0, r1, elem, specials, false);
    for (let p = 1; p < panels; p++) {
      const rp = rowPtr + ((<usize>p * <usize>M) << 2);
      spmvHalfPanel(rp, colIdx, values, X_SCRATCH, fieldBias(<usize>p * panelBytes), y, r0, r1, elem, specials, true);
    }
  } else {
    spmvHalfPanel(rowPtr, colIdx, values, x, 0, y, r0, r1, elem, specials, false);
    for (let p = 1; p < panels; p++) {
      const rp = rowPtr + ((<usize>p * <usize>M) << 2);
      spmvHalfPanel(rp, colIdx, values, x + <usize>p * panelBytes, 0, y, r0, r1, elem, specials, true);
    }
  }
}

// The f32 CSR SpMV's walk (csr.ts: one row at a time, so values and colIdx are each one sequential stream;
// eight non-zeros per step into two accumulators), with 2-byte values: one 16-byte load holds a step's 8
// values. Seen as 4 u32 lanes of (even value | odd value << 16), the even values widen with one shift and the
// odd ones with one mask (bf16; f16 adds its rebias), with no shuffle; x is gathered to match (_gather.ts), the
// even non-zeros' columns into one vector and the odd ones' into the other. The row's last < 8 non-zeros go as
// one masked step.
// x, bias, elem, specials and accumulate are constants at every call, so each combination is its own loop.
// @ts-ignore: decorator
@inline function spmvHalfPanel(
  rowPtr: usize, colIdx: usize, values: usize, x: usize, bias: u64, y: usize, r0: i32, r1: i32, elem: i32,
  specials: bool, accumulate: bool,
): void {
  let p = <usize>load<u32>(rowPtr + (<usize>r0 << 2));
  for (let i = r0; i < r1; i++) {
    const e = <usize>load<u32>(rowPtr + (<usize>i << 2), 4);
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    for (; p + 8 <= e; p += 8) {
      const ip = colIdx + (p << 1);
      const v = v128.load(values + (p << 1));
      const w0 = load<u64>(ip) + bias;
      const w1 = load<u64>(ip, 8) + bias;
      a0 = madd_f32x4(evenHalves(v, elem, specials), gatherEvenFields(x, w0, w1), a0);
      a1 = madd_f32x4(oddHalves(v, elem, specials), gatherOddFields(x, w0, w1), a1);
    }
    // the row's last e − p < 8 non-zeros as one masked step (no data-dependent branch): lanes past the row's end
    // read the next row's (or the upload's padding) entries, and both their value and their x are zeroed
    const m = TAIL_MASKS + ((e - p) << 5);
    const ip = colIdx + (p << 1);
    const v = v128.load(values + (p << 1));
    const me = v128.load(m);
    const mo = v128.load(m, 16);
    const w0 = load<u64>(ip) + bias;
    const w1 = load<u64>(ip, 8) + bias;
    a0 = madd_f32x4(v128.and(evenHalves(v, elem, specials), me), v128.and(gatherEvenFields(x, w0, w1), me), a0);
    a1 = madd_f32x4(v128.and(oddHalves(v, elem, specials), mo), v128.and(gatherOddFields(x, w0, w1), mo), a1);
    const a = f32x4.add(a0, a1);
    let s = f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
    if (accumulate) s += load<f32>(y + (<usize>i << 2));
    store<f32>(y + (<usize>i << 2), s);
    p = e;
  }
}

/** Entry n (0…7): lane masks of a step's first n of 8 non-zeros, the even ones (0, 2, 4, 6), then the odd ones. */
const TAIL_MASKS: usize = memory.data<u32>([
  0, 0, 0, 0, 0, 0, 0, 0,
  -1, 0, 0, 0, 0, 0, 0, 0,
  -1, 0, 0, 0, -1, 0, 0, 0,
  -1, -1, 0, 0, -1, 0, 0, 0,
  -1, -1, 0, 0, -1, -1, 0, 0,
  -1, -1, -1, 0, -1, -1, 0, 0,
  -1, -1, -1, 0, -1, -1, -1, 0,
  -1, -1, -1, -1, -1, -1, -1, 0,
], 16);

// ---- SpMM: C[i, :] = Σ_p values[p] · B[colIdx[p], :] ------------------------------------------------

/** C rows [r0, r1) of W · B with B [K,N] (rowStride, groupStride: as csr_spmm_f32); values bf16; `wide`: f32 scratch [nnz] (see spmmHalf). */
export function csr_spmm_bf16(
  rowPtr: usize, colIdx: usize, values: usize, wide: usize, b: usize, rowStride: usize, groupStride: usize,
  c: usize, N: i32, M: i32, width: i32, panels: i32, r0: i32, r1: i32,
): void {
  spmmHalf(rowPtr, colIdx, values, wide, b, rowStride, groupStride, c, N, M, width, panels, r0, r1, ELEM_BF16, false);
}

/** C rows [r0, r1) of W · B with B [K,N] (strides as csr_spmm_f32); values f16; `wide`: f32 scratch [nnz]. */
export function csr_spmm_f16(
  rowPtr: usize, colIdx: usize, values: usize, wide: usize, b: usize, rowStride: usize, groupStride: usize,
  c: usize, N: i32, M: i32, width: i32, panels: i32, specials: i32, r0: i32, r1: i32,
): void {
  if (specials) spmmHalf(rowPtr, colIdx, values, wide, b, rowStride, groupStride, c, N, M, width, panels, r0, r1, ELEM_F16, true);
  else spmmHalf(rowPtr, colIdx, values, wide, b, rowStride, groupStride, c, N, M, width, panels, r0, r1, ELEM_F16, false);
}

/** Rows per SpMM chunk: their values are widened, then multiplied while still in L1/L2. */
const SPMM_CHUNK_ROWS: i32 = 16;

// SpMM reuses each value for N columns, so widening is a small share of the work: panel by panel, the rows
// are taken in chunks of SPMM_CHUNK_ROWS, each chunk's values are widened to f32 into `wide` at the same
// indices (a per-call scratch of nnz f32 the host allocates; threads write disjoint parts), and the f32 CSR
// SpMM row walk (_spmm.ts, with its register-tiled column blocks) runs on those rows while the widened values
// are in cache; the first panel stores C, the others add to it.
// @ts-ignore: decorator
@inline function spmmHalf(
  rowPtr: usize, colIdx: usize, values: usize, wide: usize, b: usize, rowStride: usize, groupStride: usize,
  c: usize, N: i32, M: i32, width: i32, panels: i32, r0: i32, r1: i32, elem: i32, specials: bool,
): void {
  for (let p = 0; p < panels; p++) {
    const rp = rowPtr + ((<usize>p * <usize>M) << 2);
    const bp = b + <usize>p * <usize>width * rowStride;
    for (let c0 = r0; c0 < r1; c0 += SPMM_CHUNK_ROWS) {
      const c1 = min(c0 + SPMM_CHUNK_ROWS, r1);
      widen(values, wide, load<u32>(rp + (<usize>c0 << 2)), load<u32>(rp + (<usize>c1 << 2)), elem, specials);
      if (p == 0) csrSpmmPanelStore(rp, colIdx, wide, bp, rowStride, groupStride, c, N, c0, c1);
      else csrSpmmPanelAdd(rp, colIdx, wide, bp, rowStride, groupStride, c, N, c0, c1);
    }
  }
}

/** wide[p] = values[p] as f32 for p in [p0, p1), 8 at a time, then one at a time. */
// @ts-ignore: decorator
@inline function widen(values: usize, wide: usize, p0: u32, p1: u32, elem: i32, specials: bool): void {
  let p = <usize>p0;
  const e = <usize>p1;
  for (; p + 8 <= e; p += 8) {
    const v = v128.load(values + (p << 1));
    const ev = evenHalves(v, elem, specials); // values p, p+2, p+4, p+6
    const od = oddHalves(v, elem, specials); // values p+1, p+3, p+5, p+7
    v128.store(wide + (p << 2), v128.shuffle<f32>(ev, od, 0, 4, 1, 5));
    v128.store(wide + (p << 2), v128.shuffle<f32>(ev, od, 2, 6, 3, 7), 16);
  }
  for (; p < e; p++) store<f32>(wide + (p << 2), halfAt(values + (p << 1), elem));
}
