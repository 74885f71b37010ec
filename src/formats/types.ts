/** The contract every sparse format file implements, bundled as one `FormatOps` object per format. */

import type { Tensor } from '../tensor/tensor.js';

/** Fields every sparse format shares: a `format` tag and the logical dense shape [rows, cols] = [M, K]. */
export interface SparseBase {
  readonly format: string;
  /** M: rows of the logical dense matrix (a weight's output features). */
  readonly rows: number;
  /** K: columns of the logical dense matrix (a weight's input features). */
  readonly cols: number;
}

/**
 * One format's functions. `Options` are the extra `fromDense` arguments (e.g. `[blockRows, blockCols]`).
 *
 * ```ts
 * const a = csr.fromDense(w); // w [M,K]
 * csr.validate(a);            // throws FormatError if a is malformed
 * const y = csr.matmul(a, x); // x [K,N] → y [M,N]
 * ```
 */
export interface FormatOps<X extends SparseBase, Options extends unknown[] = []> {
  /** The `format` tag of the objects this format produces. */
  readonly name: X['format'];
  /** Pack a dense [M,K] tensor. */
  fromDense(w: Tensor, ...options: Options): X;
  /** Unpack to a new dense [M,K] tensor. */
  toDense(a: X): Tensor;
  /** Throw FormatError unless every layout rule holds. */
  validate(a: X): void;
  /** Exact bytes of all the object's arrays. */
  nbytes(a: X): number;
  /** Reference product: a [M,K] · b [K,N] → [M,N]; b rank 1 [K] → [M]. */
  matmul(a: X, b: Tensor): Tensor;
}
