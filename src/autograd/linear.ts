/**
 * Matrix products on the tape: `linear` (x · Wᵀ + b for a dense or sparse weight W [M,K]) and `matmul` of
 * two Vars. Every product, forward and backward, runs through the public `matmul` (WebAssembly GEMM or the
 * sparse format's kernel); a sparse weight's gradient comes from the SDDMM kernel at its kept entries only.
 */

import { matmul as kernelMatmul, sddmm } from '../backend/ops/index.js'; // the index registers every format's kernels
import { release } from '../backend/resident.js';
import { type CSR, csrFromParts } from '../formats/csr.js';
import type { SparseMatrix } from '../formats/index.js';
import { Tensor } from '../tensor/tensor.js';
import { type SlotPattern, slotPattern, transposePattern } from './pattern.js';
import { transposeData } from './shape.js';
import { accumulate, accumulateFresh, record, Var } from './tape.js';

/** A [M,K] · b [K,N] → [M,N] where `a` is a temporary: its kernel-resident copy is freed right away. */
export function gemmTemp(a: Tensor, b: Tensor): Tensor {
  try {
    return kernelMatmul(a, b);
  } finally {
    release(a);
  }
}

/** Options of {@link sparseParam}. */
export interface SparseParamOptions {
  name?: string;
  /** Also compute the dense gradient dW [M,K] on every backward (RigL's regrowth). Default false. */
  denseGrad?: boolean;
}

/**
 * A trainable sparse weight W [M,K]: the matrix (CSR, BSR, N:M, bitmask or COO, its structure fixed) and
 * `values`, a Var that shares the matrix's `values` array, so an optimizer step on it updates the matrix.
 * Padding slots (N:M partial groups, BSR edge padding) are masked and stay zero.
 */
export interface SparseWeight {
  readonly matrix: SparseMatrix;
  readonly values: Var;
  /** Position → value slot, row-major (the SDDMM pattern). */
  readonly pattern: SlotPattern;
  /** The same positions for Wᵀ (rows are W's columns). */
  readonly transposed: SlotPattern;
  /** Compute `denseGradient` on backward. */
  denseGrad: boolean;
  /** dW [M,K] for every entry, accumulated like a grad, when `denseGrad` (zero it with the grads). */
  denseGradient: Tensor | null;
  /** CSR of Wᵀ [K,M]; its values are refreshed from `values` when `values.version` moved (see Var.changed). */
  readonly csrT: CSR;
  /** `values.version` that csrT's values were copied at (-1: never). */
  csrTVersion: number;
}

/** Wrap a sparse matrix as a trainable weight (its `values` array is shared, not copied). */
export function sparseParam(matrix: SparseMatrix, options: SparseParamOptions = {}): SparseWeight {
  const pattern = slotPattern(matrix);
  const transposed = transposePattern(pattern);
  const values = new Var(new Tensor(matrix.values, [matrix.values.length]), true, options.name ?? '');
  const live = new Uint8Array(matrix.values.length);
  for (const s of pattern.slot) live[s] = 1;
  values.setMask(live);
  values.dependents.push(matrix);
  const colIdx = matrix.rows <= 65536 ? Uint16Array.from(transposed.colIdx) : transposed.colIdx;
  const csrT = csrFromParts(
    matrix.cols,
    matrix.rows,
    transposed.rowPtr,
    colIdx,
    new Float32Array(colIdx.length),
  );
  return {
    matrix,
    values,
    pattern,
    transposed,
    denseGrad: options.denseGrad ?? false,
    denseGradient: null,
    csrT,
    csrTVersion: -1,
  };
}

/** True for a {@link SparseWeight}. */
export function isSparseWeight(w: unknown): w is SparseWeight {
  return typeof w === 'object' && w !== null && 'matrix' in w && 'values' in w && 'csrT' in w;
}

function weightDims(w: Var | SparseWeight): [number, number] {
  if (isSparseWeight(w)) return [w.matrix.rows, w.matrix.cols];
  if (w.shape.length !== 2) throw new RangeError(`linear: w must be [M,K], got [${w.shape.join(', ')}]`);
  return [w.shape[0]!, w.shape[1]!];
}

/**
 * y [..., M] = x [..., K] · Wᵀ (+ b [M]). W [M,K] is a dense Var or a {@link SparseWeight}.
 * Backward: dX = dY · W (dense GEMM) or Wᵀ · dYᵀ on the CSR of Wᵀ (sparse kernel); dW = dYᵀ · X (dense
 * GEMM) or, for a sparse weight, only its kept entries by SDDMM (plus the dense dW when `denseGrad`).
 */
export function linear(x: Var, w: Var | SparseWeight, b: Var | null = null): Var {
  const [M, K] = weightDims(w);
  const xs = x.shape;
  if (xs.length < 1 || xs[xs.length - 1] !== K) {
    throw new RangeError(`linear: x must be [..., ${K}] (W is [${M}, ${K}]), got [${xs.join(', ')}]`);
  }
  if (b !== null && (b.shape.length !== 1 || b.shape[0] !== M)) {
    throw new RangeError(`linear: bias must be [${M}], got [${b.shape.join(', ')}]`);
  }
  const T = x.size / K;
  const xt = new Tensor(transposeData(x.value.data, T, K), [K, T]); // Xᵀ [K,T]
  const weight = isSparseWeight(w) ? w.matrix : w.value;
  const yt = kernelMatmul(weight, xt); // Yᵀ [M,T]
  const y = transposeData(yt.data, M, T);
  if (b !== null) for (let t = 0; t < T; t++) for (let m = 0; m < M; m++) y[t * M + m]! += b.value.data[m]!;
  const inputs = isSparseWeight(w) ? [x, w.values] : [x, w];
  if (b !== null) inputs.push(b);
  return record(new Tensor(y, [...xs.slice(0, -1), M]), inputs, (g) => {
    const dy = new Tensor(g.data, [T, M]);
    const dyt = new Tensor(transposeData(g.data, T, M), [M, T]);
    if (b?.requiresGrad) {
      const db = new Float64Array(M);
      for (let t = 0; t < T; t++) for (let m = 0; m < M; m++) db[m]! += g.data[t * M + m]!;
      accumulate(b, Float32Array.from(db));
    }
    if (isSparseWeight(w)) {
      const dxt = sparseBackward(w, x, xt, dyt, T);
      if (dxt) accumulateFresh(x, transposeData(dxt.data, K, T));
    } else {
      if (x.requiresGrad) accumulateFresh(x, gemmTemp(dy, w.value)); // dX = dY·W
      if (w.requiresGrad) accumulateFresh(w, gemmTemp(dyt, new Tensor(x.value.data, [T, K]))); // dW = dYᵀ·X
    }
  });
}

/**
 * Copy W's values into its CSR of Wᵀ when they changed since the last copy (an optimizer step or any edit
 * followed by `values.changed()`, the same call that makes the forward re-upload W), and drop the stale
 * resident copy. Unchanged values cost nothing: the CSR of Wᵀ stays resident across backwards.
 */
function refreshTransposed(w: SparseWeight): void {
  const { matrix, transposed, csrT, values } = w;
  if (w.csrTVersion === values.version) return;
  const v = matrix.values;
  for (let q = 0; q < transposed.slot.length; q++) csrT.values[q] = v[transposed.slot[q]!]!;
  release(csrT); // its resident copy holds the previous values
  w.csrTVersion = values.version;
}

/**
 * The sparse weight's share of a linear backward, all operands feature-major: xt = Xᵀ [K,T], dyt = dYᵀ [M,T].
 * Accumulates dW at the kept entries (SDDMM) and the dense dW when asked; returns dXᵀ [K,T] = Wᵀ·dYᵀ (CSR of
 * Wᵀ) when x wants a gradient, else null.
 */
function sparseBackward(w: SparseWeight, x: Var, xt: Tensor, dyt: Tensor, T: number): Tensor | null {
  const { matrix, pattern, csrT } = w;
  let dxt: Tensor | null = null;
  if (x.requiresGrad) {
    refreshTransposed(w);
    dxt = kernelMatmul(csrT, dyt); // dXᵀ [K,T] = Wᵀ · dYᵀ
  }
  if (w.values.requiresGrad) {
    const kept = sddmm(pattern, dyt, xt); // dW at each position
    const g = new Float32Array(matrix.values.length);
    for (let p = 0; p < kept.length; p++) g[pattern.slot[p]!] = kept[p]!;
    accumulateFresh(w.values, g);
  }
  if (w.denseGrad) {
    const dw = gemmTemp(dyt, new Tensor(transposeData(xt.data, matrix.cols, T), [T, matrix.cols]));
    if (w.denseGradient === null) w.denseGradient = dw;
    else for (let i = 0; i < dw.size; i++) w.denseGradient.data[i]! += dw.data[i]!;
  }
  return dxt;
}

/**
 * Feature-major linear: yᵀ [M,T] = W [M,K] · xᵀ [K,T] (+ b [M] on every column), for activations kept as
 * [features, tokens] (as src/nn does). No activation is transposed: forward is one kernel product, and a
 * sparse weight's backward is dXᵀ = Wᵀ·dYᵀ on the CSR of Wᵀ plus the SDDMM at the kept entries, both on the
 * feature-major operands as they are. A dense weight's backward is dXᵀ = Wᵀ·dYᵀ and dW = dYᵀ·X (GEMMs, with
 * W and xᵀ transposed for them).
 */
export function linearT(xt: Var, w: Var | SparseWeight, b: Var | null = null): Var {
  const [M, K] = weightDims(w);
  if (xt.shape.length !== 2 || xt.shape[0] !== K) {
    throw new RangeError(
      `linearT: xt must be [${K}, T] (feature-major; W is [${M}, ${K}]), got [${xt.shape.join(', ')}]`,
    );
  }
  if (b !== null && (b.shape.length !== 1 || b.shape[0] !== M)) {
    throw new RangeError(`linearT: bias must be [${M}], got [${b.shape.join(', ')}]`);
  }
  const T = xt.shape[1]!;
  const yt = kernelMatmul(isSparseWeight(w) ? w.matrix : w.value, xt.value); // Yᵀ [M,T]
  if (b !== null) {
    for (let m = 0; m < M; m++) {
      const bm = b.value.data[m]!;
      for (let t = m * T; t < (m + 1) * T; t++) yt.data[t]! += bm;
    }
  }
  const inputs = isSparseWeight(w) ? [xt, w.values] : [xt, w];
  if (b !== null) inputs.push(b);
  return record(yt, inputs, (dyt) => {
    if (b?.requiresGrad) {
      const db = new Float32Array(M);
      for (let m = 0; m < M; m++) {
        let s = 0;
        for (let t = m * T; t < (m + 1) * T; t++) s += dyt.data[t]!;
        db[m] = s;
      }
      accumulate(b, db);
    }
    if (isSparseWeight(w)) {
      const dxt = sparseBackward(w, xt, xt.value, dyt, T);
      if (dxt) accumulateFresh(xt, dxt);
      return;
    }
    if (xt.requiresGrad) {
      accumulateFresh(xt, gemmTemp(new Tensor(transposeData(w.value.data, M, K), [K, M]), dyt));
    }
    if (w.requiresGrad) {
      accumulateFresh(w, gemmTemp(dyt, new Tensor(transposeData(xt.value.data, K, T), [T, K])));
    }
  });
}

/** a [M,K] · b [K,N] → [M,N] for two Vars (both dense). */
export function matmul(a: Var, b: Var): Var {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) {
    throw new RangeError(
      `matmul: need a [M,K] and b [K,N], got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
    );
  }
  const [M, K] = a.shape as [number, number];
  const N = b.shape[1]!;
  const out = gemmTemp(a.value, b.value);
  return record(out, [a, b], (g) => {
    if (a.requiresGrad)
      accumulateFresh(a, gemmTemp(g, new Tensor(transposeData(b.value.data, K, N), [N, K])));
    if (b.requiresGrad)
      accumulateFresh(b, gemmTemp(new Tensor(transposeData(a.value.data, M, K), [K, M]), g));
  });
}
