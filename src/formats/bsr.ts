/** BSR (block sparse row): CSR over blockRows×blockCols tiles; a tile is stored whole if any element is non-zero. */

import { dims2, Tensor } from '../tensor/tensor.js';
import {
  axpyRow,
  byteLengths,
  checkArray,
  checkDims,
  checkFormat,
  checkIndexArray,
  checkInt,
  checkRowPtr,
  checkSortedIndices,
  indexArrayType,
  matmulOut,
  matmulRhs,
} from './check.js';
import { FormatError } from './errors.js';
import type { FormatOps } from './types.js';

/**
 * A [rows, cols] matrix as r×c blocks (r = blockRows, c = blockCols). Block row bi holds blocks
 * `blockColIdx[blockRowPtr[bi] … blockRowPtr[bi+1])`, block columns strictly increasing; block b's
 * elements are `values[b·r·c … (b+1)·r·c)`, row-major inside the block, so element (ii, jj) of block b
 * at (bi, bj) is the dense (bi·r + ii, bj·c + jj). rows/cols need not be multiples of r/c: edge blocks
 * are stored full size and their elements outside the matrix (padding) are 0.
 * blockColIdx is a Uint16Array when ceil(cols/c) ≤ 65536, else a Uint32Array.
 */
export interface BSR {
  readonly format: 'bsr';
  readonly rows: number;
  readonly cols: number;
  /** r ≥ 1: rows per block. */
  readonly blockRows: number;
  /** c ≥ 1: columns per block. */
  readonly blockCols: number;
  /** [ceil(rows/r)+1] offsets into blockColIdx; ends at nBlocks. */
  readonly blockRowPtr: Uint32Array;
  /** [nBlocks] block-column index of each stored block. */
  readonly blockColIdx: Uint16Array | Uint32Array;
  /** [nBlocks·r·c] block elements, each block row-major. */
  readonly values: Float32Array;
}

/** Block grid of a BSR: number of block rows and block columns (edge blocks included). */
export function bsrGrid(a: Pick<BSR, 'rows' | 'cols' | 'blockRows' | 'blockCols'>): [number, number] {
  return [Math.ceil(a.rows / a.blockRows), Math.ceil(a.cols / a.blockCols)];
}

/** Pack a dense w [M,K] as r×c blocks, keeping every block with a non-zero (or NaN) element. */
export function bsrFromDense(w: Tensor, blockRows: number, blockCols: number): BSR {
  const [rows, cols] = dims2(w, 'bsrFromDense');
  checkInt('bsr', 'blockRows', blockRows, 1, 2 ** 31);
  checkInt('bsr', 'blockCols', blockCols, 1, 2 ** 31);
  const shape = { rows, cols, blockRows, blockCols };
  const [nbr, nbc] = bsrGrid(shape);
  const kept: number[] = []; // block columns, block row by block row
  const blockRowPtr = new Uint32Array(nbr + 1);
  for (let bi = 0; bi < nbr; bi++) {
    for (let bj = 0; bj < nbc; bj++)
      if (blockHasNonZero(w, bi * blockRows, bj * blockCols, shape)) kept.push(bj);
    blockRowPtr[bi + 1] = kept.length;
  }
  const blockColIdx = new (indexArrayType(nbc))(kept);
  const size = blockRows * blockCols;
  const values = new Float32Array(kept.length * size);
  for (let bi = 0; bi < nbr; bi++) {
    for (let b = blockRowPtr[bi]!; b < blockRowPtr[bi + 1]!; b++) {
      forEachInBlock(shape, bi, blockColIdx[b]!, (ii, jj, i, k) => {
        values[b * size + ii * blockCols + jj] = w.data[i * cols + k]!;
      });
    }
  }
  return { format: 'bsr', rows, cols, blockRows, blockCols, blockRowPtr, blockColIdx, values };
}

/** Unpack to a new dense [rows, cols] tensor. */
export function bsrToDense(a: BSR): Tensor {
  const out = new Float32Array(a.rows * a.cols);
  const size = a.blockRows * a.blockCols;
  for (let bi = 0; bi < a.blockRowPtr.length - 1; bi++) {
    for (let b = a.blockRowPtr[bi]!; b < a.blockRowPtr[bi + 1]!; b++) {
      forEachInBlock(a, bi, a.blockColIdx[b]!, (ii, jj, i, k) => {
        out[i * a.cols + k] = a.values[b * size + ii * a.blockCols + jj]!;
      });
    }
  }
  return new Tensor(out, [a.rows, a.cols]);
}

/** Throw FormatError unless `a` is a well-formed BSR (arrays, blockRowPtr, sorted block columns, zero padding). */
export function bsrValidate(a: BSR): void {
  checkFormat('bsr', a);
  checkDims('bsr', a);
  checkInt('bsr', 'blockRows', a.blockRows, 1, 2 ** 31);
  checkInt('bsr', 'blockCols', a.blockCols, 1, 2 ** 31);
  const [nbr, nbc] = bsrGrid(a);
  const size = a.blockRows * a.blockCols;
  checkArray('bsr', 'blockRowPtr', a.blockRowPtr, Uint32Array, nbr + 1, 'ceil(rows/blockRows)+1');
  checkIndexArray('bsr', 'blockColIdx', a.blockColIdx, nbc, 'ceil(cols/blockCols)');
  const nBlocks = a.blockColIdx.length;
  checkArray('bsr', 'values', a.values, Float32Array, nBlocks * size, 'nBlocks·blockRows·blockCols');
  checkRowPtr('bsr', 'blockRowPtr', a.blockRowPtr, nBlocks, 'nBlocks = blockColIdx.length');
  for (let bi = 0; bi < nbr; bi++) {
    const [start, end] = [a.blockRowPtr[bi]!, a.blockRowPtr[bi + 1]!];
    const bound = 'ceil(cols/blockCols)';
    checkSortedIndices('bsr', 'blockColIdx', a.blockColIdx, start, end, nbc, bound, `block row ${bi}`);
    for (let b = start; b < end; b++) checkPadding(a, bi, b);
  }
}

/** Exact bytes of blockRowPtr + blockColIdx + values. */
export function bsrNbytes(a: BSR): number {
  return byteLengths(a.blockRowPtr, a.blockColIdx, a.values);
}

/** Reference product: a [M,K] · b [K,N] → [M,N] (b [K] → [M]). Assumes `a` is valid; padding is skipped. */
export function bsrMatmul(a: BSR, b: Tensor): Tensor {
  const { n, vector } = matmulRhs('bsrMatmul', a.cols, b);
  const out = matmulOut(a.rows, n, vector);
  const size = a.blockRows * a.blockCols;
  for (let bi = 0; bi < a.blockRowPtr.length - 1; bi++) {
    for (let p = a.blockRowPtr[bi]!; p < a.blockRowPtr[bi + 1]!; p++) {
      forEachInBlock(a, bi, a.blockColIdx[p]!, (ii, jj, i, k) => {
        axpyRow(out.data, i, a.values[p * size + ii * a.blockCols + jj]!, b.data, k, n);
      });
    }
  }
  return out;
}

/** BSR's functions as one FormatOps; `fromDense(w, blockRows, blockCols)`. */
export const bsr: FormatOps<BSR, [blockRows: number, blockCols: number]> = {
  name: 'bsr',
  fromDense: bsrFromDense,
  toDense: bsrToDense,
  validate: bsrValidate,
  nbytes: bsrNbytes,
  matmul: bsrMatmul,
};

type BlockShape = Pick<BSR, 'rows' | 'cols' | 'blockRows' | 'blockCols'>;

/** Call f(ii, jj, i, k) for each in-matrix element (ii, jj) of block (bi, bj); (i, k) is its dense position. */
function forEachInBlock(
  s: BlockShape,
  bi: number,
  bj: number,
  f: (ii: number, jj: number, i: number, k: number) => void,
): void {
  const [i0, k0] = [bi * s.blockRows, bj * s.blockCols];
  const [hi, wi] = [Math.min(s.blockRows, s.rows - i0), Math.min(s.blockCols, s.cols - k0)];
  for (let ii = 0; ii < hi; ii++) for (let jj = 0; jj < wi; jj++) f(ii, jj, i0 + ii, k0 + jj);
}

function blockHasNonZero(w: Tensor, i0: number, k0: number, s: BlockShape): boolean {
  for (let i = i0; i < Math.min(i0 + s.blockRows, s.rows); i++) {
    for (let k = k0; k < Math.min(k0 + s.blockCols, s.cols); k++)
      if (w.data[i * s.cols + k] !== 0) return true;
  }
  return false;
}

/** Throw unless every element of block b (in block row bi) that falls outside the matrix is 0. */
function checkPadding(a: BSR, bi: number, b: number): void {
  const bj = a.blockColIdx[b]!;
  const size = a.blockRows * a.blockCols;
  for (let ii = 0; ii < a.blockRows; ii++) {
    for (let jj = 0; jj < a.blockCols; jj++) {
      const [i, k] = [bi * a.blockRows + ii, bj * a.blockCols + jj];
      const p = b * size + ii * a.blockCols + jj;
      if ((i >= a.rows || k >= a.cols) && a.values[p] !== 0) {
        throw new FormatError(
          'bsr',
          'values',
          `values[${p}]=${a.values[p]} is padding (element (${ii}, ${jj}) of block ${b} at block row ${bi}, ` +
            `block column ${bj} lies outside the ${a.rows}×${a.cols} matrix) and must be 0`,
        );
      }
    }
  }
}
