/** The public matmul: C = W · B for a weight W in any format and a dense right-hand side B. */

import { type Tensor, Tensor as TensorClass } from '../../tensor/tensor.js';
import { resolve } from '../dispatch.js';

/** Anything with a dense shape: a dense Tensor or a sparse format object ({ format, rows, cols, … }). */
export type MatmulWeight = Tensor | { readonly format: string; readonly rows: number; readonly cols: number };

/** The format name dispatch uses for a weight. */
export function weightFormat(w: MatmulWeight): string {
  return w instanceof TensorClass ? 'dense' : w.format;
}

function weightDims(w: MatmulWeight): [number, number] {
  if (w instanceof TensorClass) {
    if (w.rank !== 2)
      throw new RangeError(`matmul: w must be rank 2 [M,K], got shape [${w.shape.join(', ')}]`);
    return [w.shape[0]!, w.shape[1]!];
  }
  return [w.rows, w.cols];
}

/**
 * C = W · B. W is [M,K] dense or sparse; B is a vector [K] (→ [M]) or a block [K,N] (→ [M,N]).
 * Runs the fast kernel registered for W's format, or its reference under the fallback policy.
 * @example matmul(csrFromDense(w), x) // SpMV
 */
export function matmul(w: MatmulWeight, b: Tensor): Tensor {
  const [, K] = weightDims(w);
  if (!(b instanceof TensorClass)) throw new TypeError('matmul: b must be a Tensor');
  if (b.rank !== 1 && b.rank !== 2) {
    throw new RangeError(`matmul: b must be [K] or [K,N], got shape [${b.shape.join(', ')}]`);
  }
  if (b.shape[0] !== K) {
    throw new RangeError(
      `matmul: b has ${b.shape[0]} rows but w has ${K} columns (b must be [${K}] or [${K},N])`,
    );
  }
  const fn = resolve<(w: MatmulWeight, b: Tensor) => Tensor>('matmul', [weightFormat(w), 'dense']);
  // A [K,1] block (a decode step's feature-major activations) runs the format's matrix-vector kernel, not its
  // N-column one: the data are the same, and SpMV is up to 2× faster than SpMM with N = 1.
  if (b.rank === 2 && b.shape[1] === 1 && !(w instanceof TensorClass)) {
    const [M] = weightDims(w);
    return fn(w, b.reshape([K])).reshape([M, 1]);
  }
  return fn(w, b);
}
