/**
 * formats layer: sparse matrix formats (CSR, BSR, N:M, bitmask, COO), CSR and N:M with half-precision values,
 * half-precision dense (bf16, f16), conversion from/to dense, traits.
 */

import { Tensor } from '../tensor/tensor.js';
import { type Bitmask, bitmask } from './bitmask.js';
import { type BSR, bsr } from './bsr.js';
import { countNonZero } from './check.js';
import { type COO, coo } from './coo.js';
import { type CSR, csr } from './csr.js';
import {
  type BF16CSR,
  csrBf16,
  csrF16,
  type F16CSR,
  type HalfCSR,
  halfCsrNonZero,
  halfCsrToDense,
} from './csr-half.js';
import { FormatError } from './errors.js';
import { bf16, f16, type HalfMatrix, halfNonZero, halfToDense } from './half.js';
import { type NM, nm } from './nm.js';
import {
  type BF16NM,
  type F16NM,
  type HalfNM,
  halfNmNonZero,
  halfNmToDense,
  nmBf16,
  nmF16,
} from './nm-half.js';

export * from './bitmask.js';
export * from './bsr.js';
export * from './choose.js';
export * from './coo.js';
export * from './csr.js';
export * from './csr-half.js';
export * from './errors.js';
export * from './half.js';
export * from './nm.js';
export * from './nm-half.js';
export * from './traits.js';
export * from './types.js';

/** Any sparse matrix; `format` tells which. */
export type SparseMatrix = CSR | BSR | NM | Bitmask | COO;

/** A weight matrix [M,K]: dense f32, dense in half precision, in a sparse format, or CSR / N:M with half values. */
export type Weight = Tensor | SparseMatrix | HalfMatrix | HalfCSR | HalfNM;

/** How to store a dense matrix; the options a format's fromDense needs. */
export type FormatSpec =
  | { format: 'dense' }
  | { format: 'csr' }
  | { format: 'csr_bf16' }
  | { format: 'csr_f16' }
  | { format: 'bsr'; blockRows: number; blockCols: number }
  | { format: 'nm'; n: number; m: number }
  | { format: 'nm_bf16'; n: number; m: number }
  | { format: 'nm_f16'; n: number; m: number }
  | { format: 'bitmask' }
  | { format: 'coo' }
  | { format: 'bf16' }
  | { format: 'f16' };

/** The type toFormat returns for a spec. */
export type WeightOf<S extends FormatSpec> = S['format'] extends 'dense'
  ? Tensor
  : S['format'] extends HalfMatrix['format']
    ? HalfMatrix & { readonly format: S['format'] }
    : Extract<SparseMatrix | BF16CSR | F16CSR | BF16NM | F16NM, { format: S['format'] }>;

/** Every stored format's functions (sparse, then half-precision dense), keyed by name. */
export const FORMATS = Object.freeze({
  csr,
  bsr,
  nm,
  bitmask,
  coo,
  csr_bf16: csrBf16,
  csr_f16: csrF16,
  nm_bf16: nmBf16,
  nm_f16: nmF16,
  bf16,
  f16,
});

/** Which format a weight is stored in. */
export function formatOf(w: Weight): 'dense' | Exclude<Weight, Tensor>['format'] {
  if (w instanceof Tensor) return 'dense';
  if (w !== null && typeof w === 'object' && Object.hasOwn(FORMATS, w.format)) return w.format;
  throw new FormatError(
    'formats',
    'format',
    `formatOf: expected a Tensor or a sparse matrix, got format ${JSON.stringify((w as { format?: unknown })?.format)}`,
  );
}

/**
 * Store a dense w [M,K] as `spec` says. `{ format: 'dense' }` returns w itself. Throws FormatError if w
 * cannot be held (e.g. an N:M group with too many non-zeros: prune first).
 *
 * ```ts
 * const a = toFormat(nmPruneMagnitude(w, 2, 4), { format: 'nm', n: 2, m: 4 });
 * ```
 */
export function toFormat<S extends FormatSpec>(w: Tensor, spec: S): WeightOf<S> {
  return convert(w, spec) as WeightOf<S>;
}

function convert(w: Tensor, spec: FormatSpec): Weight {
  switch (spec.format) {
    case 'dense':
      return w;
    case 'csr':
      return csr.fromDense(w);
    case 'csr_bf16':
      return csrBf16.fromDense(w);
    case 'csr_f16':
      return csrF16.fromDense(w);
    case 'bsr':
      return bsr.fromDense(w, spec.blockRows, spec.blockCols);
    case 'nm':
      return nm.fromDense(w, spec.n, spec.m);
    case 'nm_bf16':
      return nmBf16.fromDense(w, spec.n, spec.m);
    case 'nm_f16':
      return nmF16.fromDense(w, spec.n, spec.m);
    case 'bitmask':
      return bitmask.fromDense(w);
    case 'coo':
      return coo.fromDense(w);
    case 'bf16':
      return bf16.fromDense(w);
    case 'f16':
      return f16.fromDense(w);
    default:
      throw new FormatError(
        'formats',
        'format',
        `toFormat: unknown format ${JSON.stringify((spec as FormatSpec).format)}`,
      );
  }
}

/** A dense [M,K] tensor for any weight; a Tensor is returned as is (not copied). */
export function toDense(w: Weight): Tensor {
  if (w instanceof Tensor) return w;
  switch (w.format) {
    case 'csr':
      return csr.toDense(w);
    case 'csr_bf16':
    case 'csr_f16':
      return halfCsrToDense(w);
    case 'bsr':
      return bsr.toDense(w);
    case 'nm':
      return nm.toDense(w);
    case 'nm_bf16':
    case 'nm_f16':
      return halfNmToDense(w);
    case 'bitmask':
      return bitmask.toDense(w);
    case 'coo':
      return coo.toDense(w);
    case 'bf16':
    case 'f16':
      return halfToDense(w);
    default:
      return formatOf(w) as never;
  }
}

/**
 * Number of non-zero elements (NaN counts), without densifying. Stored explicit zeros and padding are not
 * counted, so nnz is the same for a matrix in every format.
 */
export function nnz(w: Weight): number {
  if (w instanceof Tensor) return countNonZero(w.data);
  switch (w.format) {
    case 'csr_bf16':
    case 'csr_f16':
      return halfCsrNonZero(w);
    case 'nm_bf16':
    case 'nm_f16':
      return halfNmNonZero(w);
    case 'bf16':
    case 'f16':
      return halfNonZero(w);
    default:
      return countNonZero(w.values);
  }
}

/** nnz(w) / (number of elements); 0 for an empty matrix. */
export function density(w: Weight): number {
  const size = w instanceof Tensor ? w.size : w.rows * w.cols;
  return size === 0 ? 0 : nnz(w) / size;
}

/** Bytes of w's stored arrays (values, indices, metadata): 4 per element for a dense f32 Tensor. */
export function weightNbytes(w: Weight): number {
  if (w instanceof Tensor) return 4 * w.size;
  const nbytes = FORMATS[formatOf(w) as keyof typeof FORMATS].nbytes as (a: Weight) => number;
  return nbytes(w);
}
