/** The traits table: every format's fields, byte layout and use, as data (rendered into docs/formats.md). */

import type { Bitmask } from './bitmask.js';
import type { BSR } from './bsr.js';
import type { COO } from './coo.js';
import type { CSR } from './csr.js';
import type { HalfCSR } from './csr-half.js';
import type { HalfMatrix } from './half.js';
import type { NM } from './nm.js';
import type { HalfNM } from './nm-half.js';

/** Names of all formats, dense included. */
export type FormatName = 'dense' | (CSR | HalfCSR | BSR | NM | HalfNM | Bitmask | COO | HalfMatrix)['format'];

/** One typed array of a format. */
export interface FieldTraits {
  readonly name: string;
  /**
   * Element type: `f32`, `u32`, `u8`, `u16` (half-precision bit patterns), or `u16/u32` for an index array
   * narrowed to fit (see `idxBytes`).
   */
  readonly dtype: string;
  /** Number of elements, as a formula over the terms in TRAITS_TERMS (JavaScript syntax with ceil). */
  readonly length: string;
  readonly meaning: string;
}

/** What one format stores, what it costs and when to use it. */
export interface FormatTraits {
  readonly name: FormatName;
  readonly summary: string;
  readonly fields: readonly FieldTraits[];
  /** Exact `nbytes`, as a formula over TRAITS_TERMS. */
  readonly nbytesFormula: string;
  readonly bestFor: string;
}

/** CSR's index arrays, shared by csr and the half-value CSR formats. */
const CSR_INDEX_FIELDS: FormatTraits['fields'] = [
  {
    name: 'rowPtr',
    dtype: 'u32',
    length: 'rows+1',
    meaning: 'row i is entries rowPtr[i] … rowPtr[i+1]−1',
  },
  {
    name: 'colIdx',
    dtype: 'u16/u32',
    length: 'nnz',
    meaning: 'column of each entry, strictly increasing per row',
  },
];

/** N:M's position metadata, shared by nm and the half-value N:M formats. */
const NM_META_FIELD: FieldTraits = {
  name: 'meta',
  dtype: 'u8',
  length: 'rows*groups*metaBytesPerGroup',
  meaning: '[row][group][byte]; slot s position in bits s·ceil(log2 m) …, LSB first',
};

/** The terms the length and byte formulas use. */
export const TRAITS_TERMS: Readonly<Record<string, string>> = {
  rows: 'M, rows of the logical dense matrix (a weight is out × in)',
  cols: 'K, columns of the logical dense matrix',
  nnz: 'stored entries (values.length); CSR, COO and bitmask from fromDense store exactly the non-zeros',
  idxBytes:
    'bytes per index: 2 (u16) when the indexed dimension (cols, or ceil(cols/blockCols) for BSR) is ≤ 65536, else 4 (u32)',
  nBlocks: 'stored blocks (BSR)',
  groups: 'ceil(cols/m), groups per row (N:M); the last may be partial',
  metaBytesPerGroup: 'ceil(n·ceil(log2 m)/8) (N:M): 1 for 2:4 and 1:4, 2 for 4:8 and 3:16',
};

/** Every format's traits, keyed by name. */
export const FORMAT_TRAITS: Readonly<Record<FormatName, FormatTraits>> = {
  dense: {
    name: 'dense',
    summary: 'Every element, row-major (the Tensor type).',
    fields: [{ name: 'data', dtype: 'f32', length: 'rows*cols', meaning: 'element (i, k) at i·cols + k' }],
    nbytesFormula: '4*rows*cols',
    bestFor: 'High density and the baseline every sparse format is measured against.',
  },
  csr: {
    name: 'csr',
    summary: 'Per row, the sorted column indices and values of its non-zeros.',
    fields: [
      ...CSR_INDEX_FIELDS,
      { name: 'values', dtype: 'f32', length: 'nnz', meaning: 'value of each entry' },
    ],
    nbytesFormula: '4*(rows+1) + idxBytes*nnz + 4*nnz',
    bestFor:
      'Unstructured sparsity (magnitude, Wanda, SparseGPT): 6 B per non-zero with u16 indices, so fewer bytes than dense below 2/3 density.',
  },
  csr_bf16: halfCsrTraits(
    'csr_bf16',
    "bits of each entry's value; f32 value = bits << 16",
    'Unstructured sparsity in a bf16 checkpoint: 4 B per non-zero with u16 indices (lossless for bf16 weights), fewer bytes than dense bf16 below 1/2 density and than dense f32 below 1.',
  ),
  csr_f16: halfCsrTraits(
    'csr_f16',
    "bits of each entry's value: sign, 5-bit exponent, 10-bit mantissa",
    'Unstructured sparsity in an f16 checkpoint: 4 B per non-zero with u16 indices, lossless for f16 weights.',
  ),
  bsr: {
    name: 'bsr',
    summary:
      'CSR over blockRows×blockCols tiles; a tile is stored whole (row-major) if any element is non-zero.',
    fields: [
      {
        name: 'blockRowPtr',
        dtype: 'u32',
        length: 'ceil(rows/blockRows)+1',
        meaning: 'block row bi is blocks blockRowPtr[bi] … blockRowPtr[bi+1]−1',
      },
      {
        name: 'blockColIdx',
        dtype: 'u16/u32',
        length: 'nBlocks',
        meaning: 'block column of each block, strictly increasing per block row',
      },
      {
        name: 'values',
        dtype: 'f32',
        length: 'nBlocks*blockRows*blockCols',
        meaning: 'block elements, each block row-major; edge padding is 0',
      },
    ],
    nbytesFormula: '4*(ceil(rows/blockRows)+1) + idxBytes*nBlocks + 4*nBlocks*blockRows*blockCols',
    bestFor:
      'Block-structured sparsity (block pruning, block-sparse attention): one index per r·c values and dense tiles for SIMD.',
  },
  nm: {
    name: 'nm',
    summary:
      'At most N non-zeros per M consecutive columns; every group stores N values and N packed positions.',
    fields: [
      {
        name: 'values',
        dtype: 'f32',
        length: 'rows*groups*n',
        meaning: '[row][group][slot]; explicit zeros fill groups with fewer non-zeros',
      },
      NM_META_FIELD,
    ],
    nbytesFormula: 'rows*groups*(4*n + metaBytesPerGroup)',
    bestFor:
      'N:M pruning (2:4, 4:8): a fixed stride per group, no row pointers; 2:4 is 56.25% of dense f32 bytes.',
  },
  nm_bf16: halfNmTraits(
    'nm_bf16',
    "bits of each slot's value, [row][group][slot]; f32 value = bits << 16",
    'N:M pruning of a bf16 checkpoint (lossless for bf16 weights): 2:4 is 5 B per 4 weights, 62.5% of dense bf16 and 31.25% of dense f32.',
  ),
  nm_f16: halfNmTraits(
    'nm_f16',
    "bits of each slot's value, [row][group][slot]: sign, 5-bit exponent, 10-bit mantissa",
    'N:M pruning of an f16 checkpoint (lossless for f16 weights): 2:4 is 62.5% of dense f16 bytes.',
  ),
  bitmask: {
    name: 'bitmask',
    summary: 'One presence bit per element plus the non-zeros packed row by row.',
    fields: [
      {
        name: 'mask',
        dtype: 'u8',
        length: 'rows*ceil(cols/8)',
        meaning: 'bit j of byte b in row i is column 8b+j, LSB first; padding bits 0',
      },
      {
        name: 'rowPtr',
        dtype: 'u32',
        length: 'rows+1',
        meaning: "row i's values start at rowPtr[i]; difference = popcount of its mask",
      },
      { name: 'values', dtype: 'f32', length: 'nnz', meaning: 'non-zeros, row-major, in column order' },
    ],
    nbytesFormula: 'rows*ceil(cols/8) + 4*(rows+1) + 4*nnz',
    bestFor:
      'Moderate unstructured sparsity: 1 bit per element instead of a 2 B index, fewer bytes than CSR above 1/16 density.',
  },
  coo: {
    name: 'coo',
    summary: 'One (row, column, value) triple per entry, sorted by row then column, no duplicates.',
    fields: [
      { name: 'rowIdx', dtype: 'u32', length: 'nnz', meaning: 'row of each entry, non-decreasing' },
      {
        name: 'colIdx',
        dtype: 'u32',
        length: 'nnz',
        meaning: 'column of each entry, strictly increasing within a row',
      },
      { name: 'values', dtype: 'f32', length: 'nnz', meaning: 'value of each entry' },
    ],
    nbytesFormula: '12*nnz',
    bestFor:
      'Building and exchanging matrices (cooFromEntries takes any order and sums duplicates); convert to CSR to compute.',
  },
  bf16: {
    name: 'bf16',
    summary: 'Every element as bfloat16 (the top 16 bits of its f32, rounded to nearest even), row-major.',
    fields: [
      {
        name: 'data',
        dtype: 'u16',
        length: 'rows*cols',
        meaning: 'bits of element (i, k) at i·cols + k; f32 value = bits << 16',
      },
    ],
    nbytesFormula: '2*rows*cols',
    bestFor:
      'Dense weights from bf16 checkpoints: half the bytes of f32 in memory and per decode step, 8 significant bits.',
  },
  f16: {
    name: 'f16',
    summary: 'Every element as IEEE binary16 (rounded to nearest even; subnormals, ±Inf, NaN), row-major.',
    fields: [
      {
        name: 'data',
        dtype: 'u16',
        length: 'rows*cols',
        meaning: 'bits of element (i, k) at i·cols + k: sign, 5-bit exponent, 10-bit mantissa',
      },
    ],
    nbytesFormula: '2*rows*cols',
    bestFor: 'Dense weights from f16 checkpoints: half the bytes of f32, 11 significant bits, |x| ≤ 65504.',
  },
};

/** CSR with half-precision values: CSR's index arrays, 2-byte values. */
function halfCsrTraits(name: 'csr_bf16' | 'csr_f16', valueMeaning: string, bestFor: string): FormatTraits {
  const half = name === 'csr_bf16' ? 'bfloat16' : 'IEEE binary16';
  return {
    name,
    summary: `CSR whose values are ${half} bit patterns (rounded to nearest even); same rowPtr and colIdx as csr.`,
    fields: [...CSR_INDEX_FIELDS, { name: 'values', dtype: 'u16', length: 'nnz', meaning: valueMeaning }],
    nbytesFormula: '4*(rows+1) + idxBytes*nnz + 2*nnz',
    bestFor,
  };
}

/** N:M with half-precision values: N:M's groups and meta, 2-byte slot values. */
function halfNmTraits(name: 'nm_bf16' | 'nm_f16', valueMeaning: string, bestFor: string): FormatTraits {
  const half = name === 'nm_bf16' ? 'bfloat16' : 'IEEE binary16';
  return {
    name,
    summary: `N:M whose slot values are ${half} bit patterns (rounded to nearest even); same groups and meta as nm.`,
    fields: [{ name: 'values', dtype: 'u16', length: 'rows*groups*n', meaning: valueMeaning }, NM_META_FIELD],
    nbytesFormula: 'rows*groups*(2*n + metaBytesPerGroup)',
    bestFor,
  };
}

/** The traits table as Markdown: an overview table, the terms, then one field table per format. */
export function traitsMarkdown(): string {
  const all = Object.values(FORMAT_TRAITS);
  const code = (x: string) => `\`${x}\``;
  const overview = all.map((t) => [code(t.name), t.summary, code(t.nbytesFormula), t.bestFor]);
  const lines = markdownTable(['format', 'stores', 'bytes (`nbytes`)', 'best for'], overview);
  lines.push('', 'Terms used in the formulas:', '');
  for (const [term, meaning] of Object.entries(TRAITS_TERMS)) lines.push(`- ${code(term)}: ${meaning}`);
  for (const t of all) {
    const fields = t.fields.map((f) => [code(f.name), f.dtype, code(f.length), f.meaning]);
    lines.push(
      '',
      `### ${code(t.name)}`,
      '',
      ...markdownTable(['field', 'dtype', 'length', 'meaning'], fields),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A Markdown table with padded, aligned columns (the layout `biome format` gives Markdown tables). */
function markdownTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(3, h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => `| ${cells.map((x, c) => x.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}
