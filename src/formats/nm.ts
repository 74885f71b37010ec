/** N:M (semi-structured) sparsity: each group of M consecutive columns in a row keeps at most N values. */

import { dims2, Tensor } from '../tensor/tensor.js';
import {
  axpyRow,
  byteLengths,
  checkArray,
  checkDims,
  checkFormat,
  checkInt,
  matmulOut,
  matmulRhs,
} from './check.js';
import { FormatError } from './errors.js';
import type { FormatOps } from './types.js';

/**
 * A [rows, cols] matrix with at most n non-zeros in every group of m consecutive columns of a row
 * (1 ≤ n < m ≤ 16). Each row has G = ceil(cols/m) groups; group g covers columns g·m … g·m+width-1,
 * width = min(m, cols − g·m) (only the last group can be partial).
 *
 * Every group stores exactly n value slots and n position fields (a fixed stride, whatever its width):
 * - values [rows][G][n]: slot s of group g of row i is `values[(i·G + g)·n + s]`.
 * - meta [rows][G][metaBytesPerGroup]: slot s's position (0 … width−1, the column inside the group) is the
 *   `bits = ceil(log2 m)`-bit field at bit s·bits of the group's record, LSB first (record bit t is bit t%8
 *   of byte t/8); metaBytesPerGroup = ceil(n·bits/8) and unused record bits are 0.
 * - The first live = min(n, width) slots are live: positions strictly increasing and < width. A group
 *   with fewer non-zeros stores explicit zeros at its lowest free positions.
 * - Partial-group rule: when width < n (only a partial last group), slots live … n−1 are padding with
 *   value 0 and position 0, so a kernel may process all n slots of every group blindly: each reads an
 *   in-range column and adds 0 for padding.
 *
 * 2:4 costs 8 B of values + 1 B of meta per 4 weights (56.25% of dense f32); 4:8 uses 2 meta bytes/group.
 */
export interface NM {
  readonly format: 'nm';
  readonly rows: number;
  readonly cols: number;
  /** N: values kept per group, 1 ≤ n < m. */
  readonly n: number;
  /** M: columns per group, m ≤ 16. */
  readonly m: number;
  /** [rows·G·n] slot values, laid out [row][group][slot]. */
  readonly values: Float32Array;
  /** [rows·G·metaBytesPerGroup] packed positions, laid out [row][group][byte]. */
  readonly meta: Uint8Array;
}

/** Sizes derived from (cols, n, m). */
export interface NMLayout {
  /** G = ceil(cols/m): groups per row. */
  readonly groups: number;
  /** ceil(log2 m): bits per position field. */
  readonly bits: number;
  /** ceil(n·bits/8): bytes of meta per group. */
  readonly metaBytesPerGroup: number;
}

/** Groups per row, bits per position and meta bytes per group for an n:m matrix with `cols` columns. */
export function nmLayout(cols: number, n: number, m: number): NMLayout {
  const bits = 32 - Math.clz32(m - 1);
  return { groups: Math.ceil(cols / m), bits, metaBytesPerGroup: Math.ceil((n * bits) / 8) };
}

/**
 * Pack a dense w [M,K] that already satisfies n:m (see nmPruneMagnitude). Does not prune: throws
 * FormatError naming the row and group if a group holds more than n non-zeros (NaN counts as non-zero).
 */
export function nmFromDense(w: Tensor, n: number, m: number): NM {
  const [rows, cols] = dims2(w, 'nmFromDense');
  checkNM(n, m);
  const { groups, bits, metaBytesPerGroup } = nmLayout(cols, n, m);
  const values = new Float32Array(rows * groups * n);
  const meta = new Uint8Array(rows * groups * metaBytesPerGroup);
  for (let i = 0; i < rows; i++) {
    for (let g = 0; g < groups; g++) {
      const positions = groupPositions(w, i, g, n, m);
      const rec = (i * groups + g) * metaBytesPerGroup;
      positions.forEach((pos, s) => {
        values[(i * groups + g) * n + s] = w.data[i * cols + g * m + pos]!;
        writeField(meta, rec, s * bits, bits, pos);
      });
    }
  }
  return { format: 'nm', rows, cols, n, m, values, meta };
}

/** The live positions (columns inside the group, increasing) of group `group` of row `row`. */
export function nmPositions(a: NM, row: number, group: number): number[] {
  const { groups, bits, metaBytesPerGroup } = nmLayout(a.cols, a.n, a.m);
  if (!(Number.isInteger(row) && row >= 0 && row < a.rows)) {
    throw new RangeError(`nmPositions: row must be an integer in [0, ${a.rows}), got ${row}`);
  }
  if (!(Number.isInteger(group) && group >= 0 && group < groups)) {
    throw new RangeError(`nmPositions: group must be an integer in [0, ${groups}), got ${group}`);
  }
  const rec = (row * groups + group) * metaBytesPerGroup;
  const live = Math.min(a.n, groupWidth(a.cols, a.m, group));
  return Array.from({ length: live }, (_, s) => readField(a.meta, rec, s * bits, bits));
}

/**
 * A copy of w [M,K] keeping the n largest |w| in every group of m columns of each row (ties go to the
 * lower column; NaN ranks above every number so it stays visible). The result satisfies n:m.
 */
export function nmPruneMagnitude(w: Tensor, n: number, m: number): Tensor {
  const [rows, cols] = dims2(w, 'nmPruneMagnitude');
  checkNM(n, m);
  const out = new Float32Array(rows * cols);
  const rank = (v: number) => (Number.isNaN(v) ? Number.POSITIVE_INFINITY : Math.abs(v));
  const kept = new Uint8Array(m);
  for (let i = 0; i < rows; i++) {
    for (let k0 = 0; k0 < cols; k0 += m) {
      const base = i * cols + k0;
      const width = Math.min(m, cols - k0);
      kept.fill(0);
      for (let t = 0; t < Math.min(n, width); t++) {
        let best = -1; // the largest not yet kept; strict > so ties go to the lower column
        for (let j = 0; j < width; j++) {
          if (!kept[j] && (best < 0 || rank(w.data[base + j]!) > rank(w.data[base + best]!))) best = j;
        }
        kept[best] = 1;
        out[base + best] = w.data[base + best]!;
      }
    }
  }
  return new Tensor(out, [rows, cols]);
}

/** Unpack to a new dense [rows, cols] tensor. */
export function nmToDense(a: NM): Tensor {
  const out = new Float32Array(a.rows * a.cols);
  forEachLive(a, (i, k, v) => {
    out[i * a.cols + k] = v;
  });
  return new Tensor(out, [a.rows, a.cols]);
}

/**
 * Throw FormatError unless `a` is a well-formed n:m matrix: array types and lengths, live positions
 * < width and strictly increasing, padding slots (value 0, position 0) and unused meta bits 0.
 */
export function nmValidate(a: NM): void {
  checkFormat('nm', a);
  checkDims('nm', a);
  checkInt('nm', 'm', a.m, 2, 16);
  checkInt('nm', 'n', a.n, 1, a.m - 1);
  const L = nmLayout(a.cols, a.n, a.m);
  checkArray('nm', 'values', a.values, Float32Array, a.rows * L.groups * a.n, 'rows·ceil(cols/m)·n');
  const metaText = 'rows·ceil(cols/m)·metaBytesPerGroup';
  checkArray('nm', 'meta', a.meta, Uint8Array, a.rows * L.groups * L.metaBytesPerGroup, metaText);
  for (let i = 0; i < a.rows; i++) for (let g = 0; g < L.groups; g++) checkGroup(a, L, i, g);
}

/** Exact bytes of values + meta. */
export function nmNbytes(a: NM): number {
  return byteLengths(a.values, a.meta);
}

/** Reference product: a [M,K] · b [K,N] → [M,N] (b [K] → [M]). Assumes `a` is valid; reads live slots only. */
export function nmMatmul(a: NM, b: Tensor): Tensor {
  const { n, vector } = matmulRhs('nmMatmul', a.cols, b);
  const out = matmulOut(a.rows, n, vector);
  forEachLive(a, (i, k, v) => axpyRow(out.data, i, v, b.data, k, n));
  return out;
}

/** N:M's functions as one FormatOps; `fromDense(w, n, m)`. */
export const nm: FormatOps<NM, [n: number, m: number]> = {
  name: 'nm',
  fromDense: nmFromDense,
  toDense: nmToDense,
  validate: nmValidate,
  nbytes: nmNbytes,
  matmul: nmMatmul,
};

function checkNM(n: number, m: number): void {
  checkInt('nm', 'm', m, 2, 16);
  checkInt('nm', 'n', n, 1, m - 1);
}

/** Candidate columns of group g: m, or fewer for a partial last group. */
function groupWidth(cols: number, m: number, g: number): number {
  return Math.min(m, cols - g * m);
}

/** Call f(i, k, v) for every live slot: row i, dense column k, value v. */
function forEachLive(a: NM, f: (i: number, k: number, v: number) => void): void {
  const { groups, bits, metaBytesPerGroup } = nmLayout(a.cols, a.n, a.m);
  for (let i = 0; i < a.rows; i++) {
    for (let g = 0; g < groups; g++) {
      const rec = (i * groups + g) * metaBytesPerGroup;
      const live = Math.min(a.n, groupWidth(a.cols, a.m, g));
      for (let s = 0; s < live; s++) {
        f(i, g * a.m + readField(a.meta, rec, s * bits, bits), a.values[(i * groups + g) * a.n + s]!);
      }
    }
  }
}

/** The live positions for group g of row i of w: its non-zeros, topped up with the lowest zero positions. */
function groupPositions(w: Tensor, i: number, g: number, n: number, m: number): number[] {
  const base = i * w.cols + g * m;
  const width = groupWidth(w.cols, m, g);
  let nonZero = 0;
  for (let j = 0; j < width; j++) if (w.data[base + j] !== 0) nonZero++;
  if (nonZero > n) {
    throw new FormatError(
      'nm',
      'w',
      `row ${i} group ${g} (columns ${g * m}…${g * m + width - 1}) has ${nonZero} non-zeros but ` +
        `${n}:${m} allows at most ${n}; prune first, e.g. with nmPruneMagnitude(w, ${n}, ${m})`,
    );
  }
  let fillers = Math.min(n, width) - nonZero; // explicit zeros needed to fill the live slots
  const positions: number[] = [];
  for (let j = 0; j < width; j++) {
    if (w.data[base + j] !== 0) positions.push(j);
    else if (fillers > 0) {
      positions.push(j);
      fillers--;
    }
  }
  return positions;
}

/** Throw unless group g of row i has valid live positions, zero padding slots and zero unused bits. */
function checkGroup(a: NM, L: NMLayout, i: number, g: number): void {
  const { groups, bits, metaBytesPerGroup } = L;
  const rec = (i * groups + g) * metaBytesPerGroup;
  const width = groupWidth(a.cols, a.m, g);
  const live = Math.min(a.n, width);
  const where = `row ${i} group ${g}`;
  let prev = -1;
  for (let s = 0; s < a.n; s++) {
    const pos = readField(a.meta, rec, s * bits, bits);
    const at = `meta[${rec + ((s * bits) >> 3)}]: slot ${s} of ${where} holds position ${pos}`;
    if (s < live && pos >= width) {
      const limit = width === a.m ? `m = ${a.m}` : `the partial group's width ${width}`;
      throw new FormatError('nm', 'meta', `${at}, must be < ${limit}`);
    }
    if (s < live && pos <= prev) {
      throw new FormatError(
        'nm',
        'meta',
        `${at}, not greater than slot ${s - 1}'s ${prev} (must be strictly increasing)`,
      );
    }
    if (s >= live && pos !== 0) throw new FormatError('nm', 'meta', `${at} but padding slots must hold 0`);
    const v = (i * groups + g) * a.n + s;
    if (s >= live && a.values[v] !== 0) {
      throw new FormatError(
        'nm',
        'values',
        `values[${v}]=${a.values[v]} is padding slot ${s} of ${where} and must be 0`,
      );
    }
    prev = pos;
  }
  for (let t = a.n * bits; t < metaBytesPerGroup * 8; t++) {
    if (readField(a.meta, rec, t, 1) !== 0) {
      throw new FormatError(
        'nm',
        'meta',
        `meta[${rec + (t >> 3)}] of ${where} has unused bit ${t % 8} set (must be 0)`,
      );
    }
  }
}

/** Read the `bits`-wide field at bit offset `bit` of the record starting at byte `rec` (LSB first). */
function readField(meta: Uint8Array, rec: number, bit: number, bits: number): number {
  const byte = rec + (bit >> 3);
  const window = meta[byte]! | ((meta[byte + 1] ?? 0) << 8); // a field of ≤ 4 bits spans ≤ 2 bytes
  return (window >> (bit & 7)) & ((1 << bits) - 1);
}

/** Write `value` into the `bits`-wide field at bit offset `bit` of the record at byte `rec` (field must be 0). */
function writeField(meta: Uint8Array, rec: number, bit: number, bits: number, value: number): void {
  for (let t = 0; t < bits; t++) meta[rec + ((bit + t) >> 3)]! |= ((value >> t) & 1) << ((bit + t) & 7);
}
