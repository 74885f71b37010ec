/**
 * SparseGPT (card 3; Frantar & Alistarh 2023, IST-DASLab/sparsegpt `fasterprune`): OBS pruning with weight
 * reconstruction. Columns are swept left to right in blocks of 128; each pruned weight's error is pushed into
 * the row's later columns through the upper Cholesky factor of the damped inverse Hessian (in-block at once,
 * to later blocks by one lazy batch update); the mask is chosen per block from the OBS saliency w²/U[j,j]²
 * (unstructured) or per N:M group from the already-updated weights. All arithmetic in f64.
 */

import { Mask } from '../sparsity/mask.js';
import { checkFinite, checkNM, checkSparsity, type NMPattern } from '../sparsity/select.js';
import { dims2, Tensor } from '../tensor/tensor.js';
import { choleskyInverse, choleskyLower } from './linalg.js';
import type { SelectionRule } from './magnitude.js';

/** Options of sparsegpt. Exactly one of `sparsity` and `nm`. */
export interface SparseGptOptions {
  /** Fraction of each block's entries to prune (unstructured). */
  sparsity?: number;
  /** N zeros in every aligned group of M columns. */
  nm?: NMPattern;
  /** Column block width B (default 128, the reference's). Must be a multiple of M for N:M. */
  blocksize?: number;
  /** Dampening as a fraction of the mean Hessian diagonal (default 0.01). */
  percdamp?: number;
  /**
   * Unstructured count rule per block: 'reference' (default: t = saliency at floor(s·R·B), prune ≤ t) or 'exact'
   * (exactly floor(s·R·B) per block, ties to the lower row-major index).
   */
  selection?: SelectionRule;
}

/** What sparsegpt returns. */
export interface SparseGptResult {
  /** The pruned and reconstructed weight [R, C] (f32). */
  weight: Tensor;
  /** Entries forced to zero: the pruned ones and the weights of dead input columns (H[j,j] = 0). */
  mask: Mask;
  /** Σ_r ½ Σ_pruned (w − q)² / U[j,j]²: the reference's loss, = ½ trace(ΔW H_d ΔWᵀ). */
  loss: number;
  /** Times the dampening was multiplied by 10 because the Cholesky failed (0 = as the reference). */
  dampingRetries: number;
}

/**
 * The upper Cholesky factor U of H_d⁻¹ (H_d⁻¹ = Uᵀ U) for the damped Hessian, after the dead-column fix.
 * Returns U [C, C] and the dead columns. On a Cholesky failure the dampening is multiplied by 10 (up to 5 times;
 * the reference raises instead).
 */
export function inverseHessianFactor(
  H: Float64Array,
  C: number,
  percdamp: number,
): { U: Float64Array; dead: number[]; retries: number; Hd: Float64Array } {
  if (H.length !== C * C) throw new RangeError(`sparsegpt: H has ${H.length} entries, expected ${C}·${C}`);
  checkFinite(H, 'sparsegpt: H');
  const base = H.slice();
  const dead: number[] = [];
  for (let j = 0; j < C; j++) {
    if (base[j * C + j] === 0) {
      base[j * C + j] = 1;
      dead.push(j);
    }
  }
  let mean = 0;
  for (let j = 0; j < C; j++) mean += base[j * C + j]!;
  mean /= C;
  for (let retries = 0; retries <= 5; retries++) {
    const damp = percdamp * 10 ** retries * mean;
    const Hd = base.slice();
    for (let j = 0; j < C; j++) Hd[j * C + j]! += damp;
    const L = Hd.slice();
    if (!choleskyLower(L, C)) continue;
    const Hinv = choleskyInverse(L, C);
    if (!choleskyLower(Hinv, C)) continue;
    // Hinv now holds its lower factor L2 (Hinv = L2 L2ᵀ); U = L2ᵀ
    const U = new Float64Array(C * C);
    for (let i = 0; i < C; i++) for (let j = 0; j <= i; j++) U[j * C + i] = Hinv[i * C + j]!;
    return { U, dead, retries, Hd };
  }
  throw new RangeError(
    'sparsegpt: the damped Hessian is not positive definite even with 10⁵× the dampening; use more calibration tokens',
  );
}

/** Prune w [R, C] with SparseGPT given the Hessian H [C, C] (e.g. InputStats.hessian(); any scale). */
export function sparsegpt(w: Tensor, H: Float64Array, opts: SparseGptOptions): SparseGptResult {
  const [R, C] = dims2(w, 'sparsegpt: w');
  const B = opts.blocksize ?? 128;
  const percdamp = opts.percdamp ?? 0.01;
  if (!Number.isInteger(B) || B < 1)
    throw new RangeError(`sparsegpt: blocksize must be a positive integer, got ${B}`);
  if (!(percdamp >= 0)) throw new RangeError(`sparsegpt: percdamp must be ≥ 0, got ${percdamp}`);
  const nm = opts.nm ?? null;
  const s = opts.sparsity ?? 0;
  if ((opts.sparsity === undefined) === (nm === null)) {
    throw new RangeError('sparsegpt: give exactly one of sparsity (a fraction) and nm (an N:M pattern)');
  }
  if (nm) {
    checkNM(nm, C, 'sparsegpt');
    if (B % nm.m !== 0) throw new RangeError(`sparsegpt: blocksize ${B} must be a multiple of M = ${nm.m}`);
  } else checkSparsity(s, 'sparsegpt: sparsity');
  checkFinite(w.data, 'sparsegpt: w');
  const exact = (opts.selection ?? 'reference') === 'exact';

  const { U, dead, retries } = inverseHessianFactor(H, C, percdamp);
  const W = Float64Array.from(w.data); // [R, C]
  const mask = new Mask(R, C);
  for (const j of dead)
    for (let r = 0; r < R; r++) {
      W[r * C + j] = 0;
      mask.pruned[r * C + j] = 1;
    }
  let loss = 0;
  for (let b = 0; b < C; b += B) {
    const e = Math.min(b + B, C);
    const n = e - b;
    const blk = new Float64Array(R * n); // w, updated in place
    for (let r = 0; r < R; r++) for (let i = 0; i < n; i++) blk[r * n + i] = W[r * C + b + i]!;
    const pruned = new Uint8Array(R * n);
    if (!nm) selectBlock(blk, U, C, b, R, n, s, exact, pruned);
    const Err = new Float64Array(R * n);
    for (let i = 0; i < n; i++) {
      if (nm && i % nm.m === 0) selectGroups(blk, U, C, b, R, n, i, nm, pruned);
      const dj = U[(b + i) * C + b + i]!;
      for (let r = 0; r < R; r++) {
        if (!pruned[r * n + i]) continue;
        const wv = blk[r * n + i]!;
        const err = wv / dj;
        loss += (0.5 * wv * wv) / (dj * dj);
        Err[r * n + i] = err;
        // in-block update of this row's later columns; column i itself becomes exactly 0
        const urow = (b + i) * C + b;
        for (let c = i; c < n; c++) blk[r * n + c]! -= err * U[urow + c]!;
        blk[r * n + i] = 0;
      }
    }
    for (let r = 0; r < R; r++) {
      for (let i = 0; i < n; i++) {
        W[r * C + b + i] = blk[r * n + i]!;
        if (pruned[r * n + i]) mask.pruned[r * C + b + i] = 1;
      }
    }
    // lazy batch update: W[:, e:] −= Err · U[b:e, e:]
    if (e < C) {
      for (let r = 0; r < R; r++) {
        const wr = r * C;
        for (let i = 0; i < n; i++) {
          const err = Err[r * n + i]!;
          if (err === 0) continue;
          const urow = (b + i) * C;
          for (let c = e; c < C; c++) W[wr + c]! -= err * U[urow + c]!;
        }
      }
    }
  }
  const out = Float32Array.from(W);
  for (let i = 0; i < out.length; i++) if (mask.pruned[i]) out[i] = 0;
  return { weight: new Tensor(out, [R, C]), mask, loss, dampingRetries: retries };
}

/** Unstructured mask of one block from the saliency at block start: reference threshold or exact count. */
function selectBlock(
  blk: Float64Array,
  U: Float64Array,
  C: number,
  b: number,
  R: number,
  n: number,
  s: number,
  exact: boolean,
  pruned: Uint8Array,
): void {
  const sal = new Float64Array(R * n);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < n; i++) sal[r * n + i] = blk[r * n + i]! ** 2 / U[(b + i) * C + b + i]! ** 2;
  }
  const k = Math.floor(s * R * n);
  const order = Array.from({ length: R * n }, (_, i) => i).sort((x, y) => sal[x]! - sal[y]! || x - y);
  if (exact) {
    for (let i = 0; i < k; i++) pruned[order[i]!] = 1;
    return;
  }
  const t = sal[order[k]!]!;
  for (let i = 0; i < R * n; i++) if (sal[i]! <= t) pruned[i] = 1;
}

/** N:M: in every row, the n lowest current saliencies of block columns [i, i + m). */
function selectGroups(
  blk: Float64Array,
  U: Float64Array,
  C: number,
  b: number,
  R: number,
  n: number,
  i: number,
  nm: NMPattern,
  pruned: Uint8Array,
): void {
  const width = Math.min(nm.m, n - i);
  const idx = Array.from({ length: width }, (_, c) => c);
  const sal = new Float64Array(width);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < width; c++) sal[c] = blk[r * n + i + c]! ** 2 / U[(b + i + c) * C + b + i + c]! ** 2;
    idx.sort((x, y) => sal[x]! - sal[y]! || x - y);
    for (let c = 0; c < nm.n; c++) pruned[r * n + i + idx[c]!] = 1;
    for (let c = 0; c < width; c++) idx[c] = c;
  }
}
