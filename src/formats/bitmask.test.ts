import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor } from '../tensor/tensor.js';
import { bitmask, bitmaskFromDense, bitmaskNbytes, bitmaskValidate } from './bitmask.js';
import {
  assertFormatError,
  broken,
  checkMatmulShapeErrors,
  checkRoundTrip,
  roundTripCases,
} from './testing.js';

// w [2,10]: row 0 has columns 0, 3, 9; row 1 is empty
// biome-ignore format: one matrix row per line
const W = Tensor.from([
  1, 0, 0, 2, 0, 0, 0, 0, 0, 3,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
], [2, 10]);

describe('bitmask layout', () => {
  it('packs a tiny matrix into the documented arrays', () => {
    const a = bitmaskFromDense(W);
    // row 0: byte 0 has bits 0 and 3, byte 1 has bit 1 (column 9); row 1: all zero
    assert.deepEqual(a.mask, Uint8Array.from([0b1001, 0b10, 0, 0]));
    assert.deepEqual(a.rowPtr, Uint32Array.from([0, 3, 3]));
    assert.deepEqual(a.values, Float32Array.from([1, 2, 3]));
    assert.equal(bitmaskNbytes(a), 4 + 4 * 3 + 4 * 3);
  });
});

describe('bitmask round trip', () => {
  for (const c of roundTripCases()) {
    it(c.name, () => {
      checkRoundTrip(bitmask, c.w);
    });
  }
});

describe('bitmask matmul shape errors', () => {
  it('names b and both sizes', () => checkMatmulShapeErrors(bitmask, bitmaskFromDense(W)));
});

describe('bitmask validate rejects', () => {
  const a = bitmaskFromDense(W);
  const u8 = (xs: number[]) => Uint8Array.from(xs);
  const u32 = (xs: number[]) => Uint32Array.from(xs);
  const cases: [string, unknown, string, RegExp][] = [
    ['another format tag', broken(a, { format: 'csr' }), 'format', /format is "csr" but must be "bitmask"/],
    ['negative cols', broken(a, { cols: -3 }), 'cols', /cols must be an integer/],
    [
      'mask of the wrong type',
      broken(a, { mask: Int8Array.from(a.mask) }),
      'mask',
      /mask must be a Uint8Array, got Int8Array/,
    ],
    [
      'mask of the wrong length',
      broken(a, { mask: u8([9, 2, 0]) }),
      'mask',
      /mask has length 3 but must be rows·ceil\(cols\/8\) = 4/,
    ],
    [
      'rowPtr of the wrong length',
      broken(a, { rowPtr: u32([0, 3]) }),
      'rowPtr',
      /rowPtr has length 2 but must be rows\+1 = 3/,
    ],
    [
      'rowPtr not starting at 0',
      broken(a, { rowPtr: u32([1, 3, 3]) }),
      'rowPtr',
      /rowPtr\[0\]=1 but must be 0/,
    ],
    [
      'rowPtr decreasing',
      broken(a, { rowPtr: u32([0, 4, 3]) }),
      'rowPtr',
      /rowPtr\[2\]=3 is less than rowPtr\[1\]=4/,
    ],
    [
      'rowPtr not ending at nnz',
      broken(a, { rowPtr: u32([0, 2, 2]) }),
      'rowPtr',
      /rowPtr\[2\]=2 but must equal nnz = values.length = 3/,
    ],
    [
      'padding bits set',
      broken(a, { mask: u8([9, 2 | 0x40, 0, 0]) }),
      'mask',
      /mask\[1\]=0b1000010 in row 0 has padding bits set \(bits 2…7 lie past cols = 10/,
    ],
    [
      'a popcount that disagrees with rowPtr',
      broken(a, { rowPtr: u32([0, 2, 3]) }),
      'rowPtr',
      /rowPtr\[1\]−rowPtr\[0\] = 2 but row 0's mask has 3 bits set/,
    ],
    [
      'values of the wrong type',
      broken(a, { values: Float64Array.from(a.values) }),
      'values',
      /values must be a Float32Array, got Float64Array/,
    ],
  ];
  for (const [what, bad, field, pattern] of cases) {
    it(what, () => assertFormatError(() => bitmaskValidate(bad as typeof a), field, pattern));
  }

  it('not NaN values (NaN is data)', () => {
    bitmaskValidate(broken(a, { values: Float32Array.from([Number.NaN, 2, 3]) }));
  });
});
