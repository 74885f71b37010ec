// CSR SpMV / SpMM: C[M,N] = W[M,K] · B[K,N] for W in compressed sparse row form, stored in column panels, rows
// [r0, r1) only. TypeScript twin: src/backend/reference/csr.ts csrPanelsRef (the packing: src/backend/ops/
// csr-panels.ts). Layout (all byte offsets into memory): W's columns are split into `panels` panels of `width`
// columns (the last may be narrower; a single panel of width K when K is small), stored panel after panel.
// Panel p is a CSR of W[:, p·width, min(K, (p+1)·width)) with its own row pointers: rowPtr u32[panels·M + 1],
// panel p's row i = entries [rowPtr[p·M + i], rowPtr[p·M + i + 1]); colIdx u16[nnz], the byte offset (column · 4)
// relative to the panel's first column, so a panel is at most 16384 columns wide; values f32[nnz]. x f32[K] / B f32[K,N] row-major, y f32[M] / C f32[M,N] row-major.
//
// Why panels: W streams from DRAM while x (or B) is gathered at random. Once x is larger than L1 (48 KB here)
// the stream evicts it and every gather may miss. Panel by panel, only x's panel (width·4 bytes) is gathered,
// and a thread's rows of one panel are still one contiguous run of values and of colIdx, so each stays one
// sequential stream (the panels restart it `panels` times per call, not once per row). The first panel
// stores y[i] (C[i, :]), later panels add to it. The host picks the width from the density
// (src/backend/ops/csr-panels.ts panelMaxWidth: x's slice plus one row's entries of the panel in ≈ 20 KB).
//
// Measured A/B, one process, relaxed build, 4096 rows, uniform random sparsity, weight copies cycled through
// > 256 MB (cold), medians, the same matrix as one panel (old) and in panels (new), speed-up old/new, two
// passes (pass 1 / pass 2), 1 thread, on a machine shared with other jobs (load 2–11):
//   4096×11008 (3–4 panels of 2752–3680)  50%          70%          90%
//     SpMV f32                            2.30 / 1.93  2.16 / 2.19  2.31 / 2.23   (90%: 1.7 → 3.9 G nnz/s)
//     SpMV bf16 values                    1.73 / 2.53  1.77 / 1.83  1.70 / 1.80
//     SpMM N = 64                         1.55 / 1.53  1.37 / 1.30  1.21 / 1.17
//     SpMM N = 8                          1.01 / 0.99  0.99 / 1.01  1.04 / 1.09   (quiet machine)
//     SpMM N = 8, bf16 values             0.97 / 0.99  0.93 / 0.92  0.95 / 0.98
//   4096×4096 (2 panels of 2048 at 50–70%; one panel at 90%)
//     SpMV f32                            1.29 / 1.34  1.35 / 1.29  one panel
//     SpMV bf16 values (70%: 2 panels)    1.09 / 1.18  1.03 / 1.01  one panel
//     SpMM N = 8 / 64                     0.81–1.05    1.00–1.04    one panel
// 2 threads gave the same ratios within noise (4096×11008 SpMV 1.84–2.28, N = 64 1.10–1.56, N = 8 0.92–1.07).
// Fixed widths at 4096×11008: SpMV is best at 3680 columns (90%) and 1840–2816 (50–70%), and slower at 1024
// (1.73× at 90%); at 4096×4096 90% two panels of 2048 are 0.90–0.96× (x's 16 KB still stays in L1 there).
// SpMM prefers narrow panels: N = 8 gains 1.20–1.32× at 1024 columns (any K, 70–90%) and N = 64 1.5× at
// 512–1024, which one layout with SpMV's widths cannot give. Tried and dropped: SpMM sweeping all rows once
// per ≈ 1024-column sub-panel of SpMV's panels (a u32 start per row and sub-panel, so B's slice stays in L1)
// was 0.47–0.57× at N = 8 and 0.96–1.15× at N = 64 against whole panels: the weights, read in strided pieces,
// cost more than B's locality gains (session 4: the same with 32–512-row blocks, weights from cache, was
// 0.42–0.58×, so each row piece's data-dependent exit is the cost; a 1024-column cap for K > 2048 gave SpMM
// 1.3× but SpMV 0.74–0.82× at 90% on sparsify(randn) rows: docs/kernels.md). One panel (K ≤ 2048 at any density, so the
// SmolLM-135M shapes) runs the same loop as before: 0.97–1.04× of the previous kernel, bit-identical.

import { fieldBias, gatherFields, X_SCRATCH, X_SCRATCH_BYTES } from './_gather';
import { madd_f32x4 as madd } from './_math';
import { csrSpmmPanelAdd, csrSpmmPanelStore } from './_spmm';

/**
 * Where the host copies x before a CSR SpMV call whose x fits (K·4 ≤ spmv_x_scratch_bytes()): once per call, before
 * the threads start. A copy by every thread made the threads write the same lines at once (on two threads a
 * 4096² SpMV at 90% took longer than on one).
 */
export function spmv_x_scratch(): usize {
  return X_SCRATCH;
}

/** Bytes at spmv_x_scratch(). */
export function spmv_x_scratch_bytes(): usize {
  return X_SCRATCH_BYTES;
}

// ---- SpMV: y[i] = Σ_p values[p] · x[colIdx[p]] ------------------------------------------------------

/**
 * y[i] for i in [r0, r1) of W [M, K] stored in `panels` column panels of `width` columns. When K·4 ≤
 * spmv_x_scratch_bytes(), x must also be at spmv_x_scratch() (the host copies it there).
 */
export function csr_spmv_f32(
  rowPtr: usize, colIdx: usize, values: usize, x: usize, y: usize, M: i32, K: i32, width: i32, panels: i32, r0: i32,
  r1: i32,
): void {
  const xBytes = <usize>K << 2;
  const panelBytes = <usize>width << 2;
  if (xBytes <= X_SCRATCH_BYTES) {
    // x at the fixed scratch address, where the host copied it (csr.ts spmv_x_scratch)
    csrSpmvPanel(rowPtr, colIdx, values, X_SCRATCH, 0, y, r0, r1, false);
    for (let p = 1; p < panels; p++) {
      const rp = rowPtr + ((<usize>p * <usize>M) << 2);
      csrSpmvPanel(rp, colIdx, values, X_SCRATCH, fieldBias(<usize>p * panelBytes), y, r0, r1, true);
    }
  } else {
    csrSpmvPanel(rowPtr, colIdx, values, x, 0, y, r0, r1, false);
    for (let p = 1; p < panels; p++) {
      const rp = rowPtr + ((<usize>p * <usize>M) << 2);
      csrSpmvPanel(rp, colIdx, values, x + <usize>p * panelBytes, 0, y, r0, r1, true);
    }
  }
}

// One row at a time, eight non-zeros per step into two accumulators (values as v128 loads, x gathered lane by lane:
// load32_zero + load32_lane at byte offsets read four to a u64, see _gather.ts), then the row's last < 8 as one
// masked step. Rows are read in memory order, so values and colIdx are each one sequential stream. Measured
// same-process, cold, one thread, relaxed build (CPU-time medians): against the previous kernel, which advanced two
// rows together (four streams), 2.5–2.7× faster at 70% on SmolLM-135M's 1536×576, 576×1536 and 576×576 (e.g. 217 →
// 85 µs), 3.2× on 4096×4096 at 90% (1419 → 448 µs); 16 per step (4 accumulators), 4 per step (1 accumulator) and
// scalar loops with 4 accumulators were all within 5% of this or slower.
/**
 * One panel: y[i] (+)= Σ values · x[colIdx] over row i's entries; x + bias's field is the panel's first column
 * (x and bias are constants at each call, so each pair is its own loop).
 */
// @ts-ignore: decorator
@inline function csrSpmvPanel(
  rowPtr: usize, colIdx: usize, values: usize, x: usize, bias: u64, y: usize, r0: i32, r1: i32, accumulate: bool,
): void {
  let p = <usize>load<u32>(rowPtr + (<usize>r0 << 2));
  for (let i = r0; i < r1; i++) {
    const e = <usize>load<u32>(rowPtr + (<usize>i << 2), 4);
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    for (; p + 8 <= e; p += 8) {
      const ip = colIdx + (p << 1);
      a0 = madd(v128.load(values + (p << 2)), gatherFields(x, load<u64>(ip) + bias), a0);
      a1 = madd(v128.load(values + (p << 2), 16), gatherFields(x, load<u64>(ip, 8) + bias), a1);
    }
    // the row's last e − p < 8 non-zeros as one masked step (no data-dependent branch): lanes past the row's end
    // read the next row's (or the upload's padding) entries, and both their value and their x are zeroed
    const m = TAIL_MASKS + ((e - p) << 5);
    const ip = colIdx + (p << 1);
    const m0 = v128.load(m);
    const m1 = v128.load(m, 16);
    const g0 = gatherFields(x, load<u64>(ip) + bias);
    const g1 = gatherFields(x, load<u64>(ip, 8) + bias);
    a0 = madd(v128.and(v128.load(values + (p << 2)), m0), v128.and(g0, m0), a0);
    a1 = madd(v128.and(v128.load(values + (p << 2), 16), m1), v128.and(g1, m1), a1);
    const a = f32x4.add(a0, a1);
    let s = f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
    if (accumulate) s += load<f32>(y + (<usize>i << 2));
    store<f32>(y + (<usize>i << 2), s);
    p = e;
  }
}

/** Entry n (0…7): lane masks of a step's first n of 8 non-zeros, in order (two vectors of 4). */
const TAIL_MASKS: usize = memory.data<u32>([
  0, 0, 0, 0, 0, 0, 0, 0,
  -1, 0, 0, 0, 0, 0, 0, 0,
  -1, -1, 0, 0, 0, 0, 0, 0,
  -1, -1, -1, 0, 0, 0, 0, 0,
  -1, -1, -1, -1, 0, 0, 0, 0,
  -1, -1, -1, -1, -1, 0, 0, 0,
  -1, -1, -1, -1, -1, -1, 0, 0,
  -1, -1, -1, -1, -1, -1, -1, 0,
], 16);

// ---- SpMM: C[i, :] = Σ_p values[p] · B[colIdx[p], :] ------------------------------------------------

/**
 * C rows [r0, r1) of W · B with B [K,N], W [M, K] stored in `panels` column panels of `width` columns. B's
 * element (k, j) is at b + k·rowStride + (j >> 3)·groupStride + (j & 7)·4: row-major B has rowStride N·4 and
 * groupStride 32; B packed into 8-column strips (gemm_pack_b_f32) rowStride 32 and groupStride K·32.
 */
export function csr_spmm_f32(
  rowPtr: usize, colIdx: usize, values: usize, b: usize, rowStride: usize, groupStride: usize, c: usize, N: i32,
  M: i32, width: i32, panels: i32, r0: i32, r1: i32,
): void {
  csrSpmmPanelStore(rowPtr, colIdx, values, b, rowStride, groupStride, c, N, r0, r1);
  for (let p = 1; p < panels; p++) {
    const rp = rowPtr + ((<usize>p * <usize>M) << 2);
    csrSpmmPanelAdd(rp, colIdx, values, b + <usize>p * <usize>width * rowStride, rowStride, groupStride, c, N, r0, r1);
  }
}
