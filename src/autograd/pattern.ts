/**
 * Where a sparse matrix's value slots sit in the dense matrix: its pattern as CSR (row pointers, columns) plus
 * the value slot of each position, and the transposed pattern. Padding slots (N:M partial groups, BSR edge
 * blocks) are not positions. Built once per matrix structure; values are read through `slot`.
 */

import type { SparsePattern } from '../backend/ops/sddmm.js';
import { bitmaskBytesPerRow } from '../formats/bitmask.js';
import { bsrGrid } from '../formats/bsr.js';
import type { SparseMatrix } from '../formats/index.js';
import { nmLayout, nmPositions } from '../formats/nm.js';

/** A pattern whose position p holds the matrix value `values[slot[p]]`. */
export interface SlotPattern extends SparsePattern {
  /** [nnz] index into the matrix's `values` of each position. */
  readonly slot: Uint32Array;
}

/** Build a SlotPattern from per-row lists of [column, slot]. */
function fromRows(
  rows: number,
  cols: number,
  perRow: (i: number, push: (c: number, s: number) => void) => void,
): SlotPattern {
  const rowPtr = new Uint32Array(rows + 1);
  const colList: number[] = [];
  const slotList: number[] = [];
  for (let i = 0; i < rows; i++) {
    perRow(i, (c, s) => {
      colList.push(c);
      slotList.push(s);
    });
    rowPtr[i + 1] = colList.length;
  }
  return { rows, cols, rowPtr, colIdx: Uint32Array.from(colList), slot: Uint32Array.from(slotList) };
}

/** The positions of a sparse matrix's value slots, row by row, columns increasing. */
export function slotPattern(w: SparseMatrix): SlotPattern {
  switch (w.format) {
    case 'csr':
      return fromRows(w.rows, w.cols, (i, push) => {
        for (let p = w.rowPtr[i]!; p < w.rowPtr[i + 1]!; p++) push(w.colIdx[p]!, p);
      });
    case 'coo': {
      let p = 0;
      return fromRows(w.rows, w.cols, (i, push) => {
        for (; p < w.rowIdx.length && w.rowIdx[p] === i; p++) push(w.colIdx[p]!, p);
      });
    }
    case 'bitmask': {
      const bpr = bitmaskBytesPerRow(w.cols);
      return fromRows(w.rows, w.cols, (i, push) => {
        let s = w.rowPtr[i]!;
        for (let k = 0; k < w.cols; k++) if ((w.mask[i * bpr + (k >> 3)]! >> (k & 7)) & 1) push(k, s++);
      });
    }
    case 'nm': {
      const { groups } = nmLayout(w.cols, w.n, w.m);
      return fromRows(w.rows, w.cols, (i, push) => {
        for (let g = 0; g < groups; g++) {
          const pos = nmPositions(w, i, g);
          for (let s = 0; s < pos.length; s++) push(g * w.m + pos[s]!, (i * groups + g) * w.n + s);
        }
      });
    }
    case 'bsr': {
      const r = w.blockRows;
      const c = w.blockCols;
      const [nbr] = bsrGrid(w);
      return fromRows(w.rows, w.cols, (i, push) => {
        const bi = Math.floor(i / r);
        const ii = i - bi * r;
        if (bi >= nbr) return;
        for (let b = w.blockRowPtr[bi]!; b < w.blockRowPtr[bi + 1]!; b++) {
          const k0 = w.blockColIdx[b]! * c;
          for (let jj = 0; jj < c && k0 + jj < w.cols; jj++) push(k0 + jj, (b * r + ii) * c + jj);
        }
      });
    }
    default:
      throw new TypeError(
        `slotPattern: format ${JSON.stringify((w as { format: unknown }).format)} is not a trainable sparse format (csr, bsr, nm, bitmask, coo)`,
      );
  }
}

/**
 * The transposed pattern [cols, rows] (CSR of Wᵀ): row k lists the rows i with a position (i, k), increasing,
 * and `slot` still indexes the original matrix's values.
 */
export function transposePattern(p: SlotPattern): SlotPattern {
  const nnz = p.colIdx.length;
  const rowPtr = new Uint32Array(p.cols + 1);
  for (let q = 0; q < nnz; q++) rowPtr[p.colIdx[q]! + 1]!++;
  for (let k = 0; k < p.cols; k++) rowPtr[k + 1]! += rowPtr[k]!;
  const next = rowPtr.slice(0, p.cols);
  const colIdx = new Uint32Array(nnz);
  const slot = new Uint32Array(nnz);
  for (let i = 0; i < p.rows; i++) {
    for (let q = p.rowPtr[i]!; q < p.rowPtr[i + 1]!; q++) {
      const at = next[p.colIdx[q]!]!++;
      colIdx[at] = i;
      slot[at] = p.slot[q]!;
    }
  }
  return { rows: p.cols, cols: p.rows, rowPtr, colIdx, slot };
}
