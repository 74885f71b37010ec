/**
 * N:M matmul on the WebAssembly kernels (src/kernels/nm.ts): C[M,N] = W[M,K] · B[K,N] with W keeping at
 * most n of every m columns, its values f32 (nm) or bf16 / f16 (nm_bf16, nm_f16: resident at 2 bytes a value,
 * widened as the kernels read them). The weight is resident in column panels (nm-panels.ts). 2:4 runs its own
 * kernels (the SpMV on x expanded into pairs); any other n:m (m ≤ 16) runs the generic ones. B is
 * zero-padded to G·m rows so the kernels read whole groups.
 */

import { type NM, nmMatmul, nmValidate } from '../../formats/nm.js';
import { type HalfNM, halfNmMatmul, halfNmValidate, halfNmValues } from '../../formats/nm-half.js';
import type { Tensor } from '../../tensor/tensor.js';
import { register } from '../dispatch.js';
import { resident } from '../resident.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import {
  checkHalfSparseCall,
  checkSparseCall,
  gemvInPlace,
  runSparseMatmul,
  sameShape,
  uploadPadded,
} from './csr.js';
import { MIN_PARALLEL_WORK, packB } from './dense.js';
import { planBuffer, registerGemvInto } from './matmul.js';
import { packNmPanels } from './nm-panels.js';
import { slottedRanges } from './select.js';

/** An N:M weight packed in kernel memory. */
export interface ResidentNM {
  rows: number;
  cols: number;
  n: number;
  m: number;
  /** Groups per row, ceil(cols/m). */
  groups: number;
  /** Groups per column panel (`groups` when W is one panel). */
  panelGroups: number;
  /** Byte offsets of the panels' values (f32, or half bits) and meta (u8, followed by 8 zero bytes); see nm-panels.ts. */
  values: number;
  meta: number;
  /** How the values are stored: the suffix of the kernels that read them. */
  type: 'f32' | 'bf16' | 'f16';
}

/** Validate `w` (once) and upload it, or return the copy already resident in `rt`. */
export function residentNm(rt: WasmRuntime, w: NM | HalfNM): ResidentNM {
  const r = resident(rt, w, w.format, () => {
    if (w.format === 'nm') nmValidate(w);
    else halfNmValidate(w);
    const p = packNmPanels<Float32Array | Uint16Array>(w);
    const ptrs = [rt.upload(p.values), uploadPadded(rt, p.meta, 8)];
    const value: ResidentNM = {
      rows: w.rows,
      cols: w.cols,
      n: w.n,
      m: w.m,
      groups: p.groups,
      panelGroups: p.panelGroups,
      values: ptrs[0]!,
      meta: ptrs[1]!,
      type: w.format === 'nm' ? 'f32' : halfNmValues(w),
    };
    return { ptrs, value };
  });
  return sameShape(r, w);
}

/**
 * W[M,K] · B with W in N:M form and B [K] (→ [M]) or [K,N] (→ [M,N]), on the WebAssembly kernels.
 * The weight is validated and uploaded on first use and stays resident (`release(w)` after changing it).
 * @example nmMatmulWasm(nmFromDense(nmPruneMagnitude(w, 2, 4), 2, 4), x)
 */
export function nmMatmulWasm(w: NM, b: Tensor): Tensor {
  checkSparseCall('nmMatmulWasm', 'nm', w, b);
  const rt = runtime();
  return nmRun(rt, residentNm(rt, w), b);
}

/**
 * W[M,K] · B with W an N:M matrix with bf16 or f16 values and B [K] (→ [M]) or [K,N] (→ [M,N]), on the
 * WebAssembly kernels: nmMatmulWasm's walks with each value widened to f32 as it is read, so the weight
 * streams at 2 bytes a value (2:4: 5 bytes per 4 weights, 62.5% of dense bf16).
 * @example halfNmMatmulWasm(halfNmFromDense(nmPruneMagnitude(w, 2, 4), 2, 4, 'bf16'), x)
 */
export function halfNmMatmulWasm(w: HalfNM, b: Tensor): Tensor {
  checkHalfNmCall('halfNmMatmulWasm', w, b);
  const rt = runtime();
  return nmRun(rt, residentNm(rt, w), b);
}

/** The TypeScript twin of halfNmMatmulWasm: the same checks, then the format's reference product. */
export function halfNmMatmulRef(w: HalfNM, b: Tensor): Tensor {
  checkHalfNmCall('halfNmMatmulRef', w, b);
  return halfNmMatmul(w, b);
}

function checkHalfNmCall(op: string, w: HalfNM, b: Tensor): void {
  checkHalfSparseCall(op, ['nm_bf16', 'nm_f16'], w, b);
}

/** W · B on a resident N:M weight (any value type). */
function nmRun(rt: WasmRuntime, r: ResidentNM, b: Tensor): Tensor {
  const t = r.type;
  const is24 = r.n === 2 && r.m === 4;
  const { rows: M, groups: G, panelGroups: P } = r;
  return runSparseMatmul(
    rt,
    M,
    b,
    (bp, cp, N) => {
      const work = M * G * r.n * N;
      const ranges = rt.rowRanges(M, 1, work, MIN_PARALLEL_WORK);
      if (b.rank === 1 && is24) {
        const xe = rt.alloc(r.groups * PAIRS_BYTES);
        try {
          spmv24(rt, r, bp, cp, xe, ranges);
        } finally {
          rt.free(xe);
        }
      } else if (b.rank === 1)
        rt.parallel(`nm_spmv_${t}`, [r.values, r.meta, bp, cp, M, G, P, r.n, r.m], ranges);
      else {
        // B packed into 8-column strips (see kernels/nm.ts: a tile's rows of B 32 bytes apart, not N·4)
        const packed = packB(rt, bp, G * r.m, N);
        // 2:4: each thread decodes a block of rows into its own scratch slot (kernels/nm.ts nm24SpmmPanel)
        const slotBytes = is24 ? (rt.kernels.nm24_spmm_scratch_bytes!(P) as number) : 0;
        const scratch = is24 ? rt.alloc(ranges.length * slotBytes) : -1;
        try {
          if (is24) {
            const args = [r.values, r.meta, packed, cp, N, M, G, P, scratch];
            rt.parallel(`nm24_spmm_${t}`, args, slottedRanges(ranges, M));
          } else rt.parallel(`nm_spmm_${t}`, [r.values, r.meta, packed, cp, N, M, G, P, r.n, r.m], ranges);
        } finally {
          rt.free(packed);
          if (scratch >= 0) rt.free(scratch);
        }
      }
    },
    G * r.m,
  );
}

/** Bytes of one 2:4 group's x pairs (kernels/nm.ts nm24_expand_x). */
const PAIRS_BYTES = 48;

/** 2:4 SpMV: x [G·4] at xp expanded into its pairs at xe (48 bytes a group, on this thread), then the rows. */
function spmv24(
  rt: WasmRuntime,
  r: ResidentNM,
  xp: number,
  yp: number,
  xe: number,
  ranges: ReadonlyArray<readonly [number, number]>,
): void {
  rt.parallel('nm24_expand_x', [xp, xe], [[0, r.groups]]);
  rt.parallel(`nm24_spmv_${r.type}`, [r.values, r.meta, xe, yp, r.rows, r.groups, r.panelGroups], ranges);
}

/**
 * y = W · x for an N:M W, x [K] and y [M] at offsets of kernel arrays (matmulInto): read and written in place,
 * with the 2:4 pairs (and x zero-padded to whole groups when K is not a multiple of m) in the runtime's call
 * frame, so a decode step's products allocate nothing. Before, each product allocated a heap block for x's pairs
 * and an output array: a decode step of SmolLM-135M's shapes at 2:4, with every kernel replaced by a no-op so that
 * only the JavaScript is timed, took 1.28 ms and now takes 0.59 ms (docs/kernels.md).
 */
function nmGemvInto(w: NM | HalfNM, xp: number, yp: number): void {
  const rt = runtime();
  const r = residentNm(rt, w);
  const { rows: M, groups: G } = r;
  const is24 = r.n === 2 && r.m === 4;
  const dims = { K: r.cols, kRows: G * r.m, M, mRows: M };
  gemvInPlace(rt, xp, yp, dims, is24 ? G * PAIRS_BYTES : 0, (x, y, xe) => {
    const ranges = rt.rowRanges(M, 1, M * G * r.n, MIN_PARALLEL_WORK);
    if (is24) spmv24(rt, r, x, y, xe, ranges);
    else rt.parallel(`nm_spmv_${r.type}`, [r.values, r.meta, x, y, M, G, r.panelGroups, r.n, r.m], ranges);
  });
}

/**
 * nmGemvInto prepared for one (w, x, y) (see GemvPlanner) when x needs no padding (K a whole number of groups):
 * 2:4 expands x's pairs into a plan buffer, then the bound SpMV.
 */
function nmGemvPlan(w: NM | HalfNM, xp: number, yp: number): (() => void) | undefined {
  const rt = runtime();
  const r = residentNm(rt, w);
  const { rows: M, groups: G } = r;
  if (G * r.m !== r.cols) return undefined;
  const ranges = rt.rowRanges(M, 1, M * G * r.n, MIN_PARALLEL_WORK);
  if (!(r.n === 2 && r.m === 4))
    return rt.bind(`nm_spmv_${r.type}`, [r.values, r.meta, xp, yp, M, G, r.panelGroups, r.n, r.m], ranges);
  const xe = planBuffer(rt, G * PAIRS_BYTES);
  const expand = rt.bind('nm24_expand_x', [xp, xe], [[0, G]]);
  const spmv = rt.bind(`nm24_spmv_${r.type}`, [r.values, r.meta, xe, yp, M, G, r.panelGroups], ranges);
  return () => {
    expand();
    spmv();
  };
}

register('matmul', ['nm', 'dense'], 'fast', nmMatmulWasm);
registerGemvInto(nmMatmulWasm, nmGemvInto, nmGemvPlan);
for (const format of ['nm_bf16', 'nm_f16'] as const) {
  register('matmul', [format, 'dense'], 'fast', halfNmMatmulWasm);
  register('matmul', [format, 'dense'], 'reference', halfNmMatmulRef);
}
registerGemvInto(halfNmMatmulWasm, nmGemvInto, nmGemvPlan);
register('matmul', ['nm', 'dense'], 'reference', nmMatmul);
