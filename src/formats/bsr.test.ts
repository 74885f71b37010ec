import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor } from '../tensor/tensor.js';
import { bsr, bsrFromDense, bsrNbytes, bsrValidate } from './bsr.js';
import {
  assertFormatError,
  broken,
  checkMatmulShapeErrors,
  checkRoundTrip,
  roundTripCases,
  testMatrix,
} from './testing.js';

// w [3,5] in 2×2 blocks: a 2×3 block grid whose last block row and block column are partial
// biome-ignore format: one matrix row per line
const W = Tensor.from([
  1, 0, 0, 0, 0,
  0, 0, 0, 0, 2,
  0, 0, 3, 0, 0,
], [3, 5]);

describe('bsr layout', () => {
  it('packs a tiny matrix into the documented arrays, padding edge blocks with zeros', () => {
    const a = bsrFromDense(W, 2, 2);
    assert.deepEqual(a.blockRowPtr, Uint32Array.from([0, 2, 3]));
    assert.deepEqual(a.blockColIdx, Uint16Array.from([0, 2, 1]));
    // block (0,0) = [1 0; 0 0], block (0,2) = [0 pad; 2 pad], block (1,1) = [3 0; pad pad]
    assert.deepEqual(a.values, Float32Array.from([1, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0]));
    assert.equal(bsrNbytes(a), 4 * 3 + 2 * 3 + 4 * 12);
  });

  it('keeps a whole block for a single non-zero', () => {
    const w = Tensor.zeros([16, 16]);
    w.set(5, 7, 9);
    const a = bsrFromDense(w, 4, 4);
    assert.deepEqual(a.blockColIdx, Uint16Array.from([2]));
    assert.equal(a.values.length, 16);
  });

  it('rejects block sizes below 1', () => {
    assertFormatError(() => bsrFromDense(W, 0, 2), 'blockRows', /blockRows must be an integer in \[1,/);
    assertFormatError(() => bsrFromDense(W, 2, 1.5), 'blockCols', /blockCols must be an integer in \[1,/);
  });
});

for (const [r, c] of [
  [1, 4],
  [4, 4],
  [16, 16],
  [3, 2],
] as const) {
  describe(`bsr ${r}×${c} round trip`, () => {
    for (const tc of roundTripCases()) {
      it(tc.name, () => {
        checkRoundTrip(bsr, tc.w, r, c);
      });
    }
  });
}

describe('bsr matmul shape errors', () => {
  it('names b and both sizes', () => checkMatmulShapeErrors(bsr, bsrFromDense(W, 2, 2)));
});

describe('bsr validate rejects', () => {
  const a = bsrFromDense(W, 2, 2);
  const u32 = (xs: number[]) => Uint32Array.from(xs);
  const u16 = (xs: number[]) => Uint16Array.from(xs);
  const f32 = (xs: number[]) => Float32Array.from(xs);
  const cases: [string, unknown, string, RegExp][] = [
    ['another format tag', broken(a, { format: 'csr' }), 'format', /format is "csr" but must be "bsr"/],
    ['blockRows 0', broken(a, { blockRows: 0 }), 'blockRows', /blockRows must be an integer in \[1,/],
    [
      'blockRowPtr of the wrong length',
      broken(a, { blockRowPtr: u32([0, 3]) }),
      'blockRowPtr',
      /length 2 but must be ceil\(rows\/blockRows\)\+1 = 3/,
    ],
    [
      'blockRowPtr not starting at 0',
      broken(a, { blockRowPtr: u32([1, 2, 3]) }),
      'blockRowPtr',
      /blockRowPtr\[0\]=1 but must be 0/,
    ],
    [
      'blockRowPtr decreasing',
      broken(a, { blockRowPtr: u32([0, 3, 2]) }),
      'blockRowPtr',
      /blockRowPtr\[2\]=2 is less than blockRowPtr\[1\]=3/,
    ],
    [
      'blockRowPtr not ending at nBlocks',
      broken(a, { blockRowPtr: u32([0, 2, 2]) }),
      'blockRowPtr',
      /blockRowPtr\[2\]=2 but must equal nBlocks/,
    ],
    [
      'blockColIdx too wide',
      broken(a, { blockColIdx: u32([0, 2, 1]) }),
      'blockColIdx',
      /must be a Uint16Array because ceil\(cols\/blockCols\) = 3/,
    ],
    [
      'blockColIdx out of range',
      broken(a, { blockColIdx: u16([0, 3, 1]) }),
      'blockColIdx',
      /blockColIdx\[1\]=3 is out of range in block row 0/,
    ],
    [
      'blockColIdx unsorted',
      broken(a, { blockColIdx: u16([2, 0, 1]) }),
      'blockColIdx',
      /blockColIdx\[1\]=0 is not greater than blockColIdx\[0\]=2 in block row 0/,
    ],
    [
      'values of the wrong length',
      broken(a, { values: a.values.subarray(0, 8) }),
      'values',
      /values has length 8 but must be nBlocks·blockRows·blockCols = 12/,
    ],
    [
      'values of the wrong type',
      broken(a, { values: Float64Array.from(a.values) }),
      'values',
      /values must be a Float32Array/,
    ],
    [
      'non-zero padding past the last column',
      broken(a, { values: f32([1, 0, 0, 0, 0, 9, 2, 0, 3, 0, 0, 0]) }),
      'values',
      /values\[5\]=9 is padding \(element \(0, 1\) of block 1 at block row 0, block column 2 lies outside the 3×5 matrix\)/,
    ],
    [
      'non-zero padding past the last row',
      broken(a, { values: f32([1, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, Number.NaN]) }),
      'values',
      /values\[11\]=NaN is padding \(element \(1, 1\) of block 2 at block row 1/,
    ],
  ];
  for (const [what, bad, field, pattern] of cases) {
    it(what, () => assertFormatError(() => bsrValidate(bad as typeof a), field, pattern));
  }

  it('a u32 blockColIdx only when there are more than 65536 block columns', () => {
    const wide = bsrFromDense(testMatrix(1, 65537, 0.001), 1, 1);
    assert.ok(wide.blockColIdx instanceof Uint32Array);
    assert.ok(bsrFromDense(testMatrix(1, 65537, 0.001), 1, 2).blockColIdx instanceof Uint16Array);
  });
});
