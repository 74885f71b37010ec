import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor } from '../tensor/tensor.js';
import {
  coo,
  cooFromDense,
  cooFromEntries,
  cooNbytes,
  cooToCsr,
  cooToDense,
  cooValidate,
  csrToCoo,
} from './coo.js';
import { csrFromDense, csrValidate } from './csr.js';
import {
  assertFormatError,
  broken,
  checkMatmulShapeErrors,
  checkRoundTrip,
  roundTripCases,
  testMatrix,
} from './testing.js';

// w [3,4]: row 1 empty
const W = Tensor.from([0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 4, 0], [3, 4]);

describe('coo layout', () => {
  it('packs a tiny matrix into the documented arrays', () => {
    const a = cooFromDense(W);
    assert.deepEqual(a.rowIdx, Uint32Array.from([0, 2, 2]));
    assert.deepEqual(a.colIdx, Uint32Array.from([1, 0, 2]));
    assert.deepEqual(a.values, Float32Array.from([2, 3, 4]));
    assert.equal(cooNbytes(a), 12 * 3);
  });
});

describe('cooFromEntries', () => {
  it('sorts by row then column and sums duplicates, keeping sums that cancel as explicit zeros', () => {
    const a = cooFromEntries(3, 4, [2, 0, 2, 2, 1, 1], [2, 1, 0, 2, 3, 3], [4, 2, 3, 0.5, 1, -1]);
    cooValidate(a);
    assert.deepEqual(a.rowIdx, Uint32Array.from([0, 1, 2, 2]));
    assert.deepEqual(a.colIdx, Uint32Array.from([1, 3, 0, 2]));
    assert.deepEqual(a.values, Float32Array.from([2, 0, 3, 4.5]));
  });

  it('rejects mismatched lengths and out-of-range or fractional indices', () => {
    assertFormatError(
      () => cooFromEntries(3, 4, [0], [1, 2], [1, 2]),
      'rowIdx',
      /entries must have equal lengths, got rowIdx 1, colIdx 2, values 2/,
    );
    assertFormatError(
      () => cooFromEntries(3, 4, [0, 3], [1, 2], [1, 2]),
      'rowIdx',
      /rowIdx\[1\]=3 must be an integer in \[0, rows = 3\)/,
    );
    assertFormatError(
      () => cooFromEntries(3, 4, [0, 1], [1, 2.5], [1, 2]),
      'colIdx',
      /colIdx\[1\]=2.5 must be an integer in \[0, cols = 4\)/,
    );
  });
});

describe('coo ⇄ csr', () => {
  for (const [r, c] of [
    [17, 17],
    [3, 70000],
  ] as const) {
    it(`${r}×${c} converts both ways with the same entries`, () => {
      const w = testMatrix(r, c, 0.5);
      const viaCoo = cooToCsr(cooFromDense(w));
      csrValidate(viaCoo);
      assert.deepEqual(viaCoo, csrFromDense(w));
      const back = csrToCoo(viaCoo);
      cooValidate(back);
      assert.deepEqual(back, cooFromDense(w));
    });
  }

  it('keeps explicit zeros', () => {
    const a = cooFromEntries(2, 2, [1, 1], [0, 0], [1, -1]);
    const c = cooToCsr(a);
    assert.deepEqual(c.values, Float32Array.from([0]));
    assert.deepEqual(csrToCoo(c), a);
    assert.deepEqual(cooToDense(a), Tensor.zeros([2, 2]));
  });
});

describe('coo round trip', () => {
  for (const c of roundTripCases()) {
    it(c.name, () => {
      checkRoundTrip(coo, c.w);
    });
  }
});

describe('coo matmul shape errors', () => {
  it('names b and both sizes', () => checkMatmulShapeErrors(coo, cooFromDense(W)));
});

describe('coo validate rejects', () => {
  const a = cooFromDense(W);
  const u32 = (xs: number[]) => Uint32Array.from(xs);
  const cases: [string, unknown, string, RegExp][] = [
    ['another format tag', broken(a, { format: 'csr' }), 'format', /format is "csr" but must be "coo"/],
    ['rows not a number', broken(a, { rows: '3' }), 'rows', /rows must be an integer/],
    [
      'rowIdx of the wrong type',
      broken(a, { rowIdx: Uint16Array.from([0, 2, 2]) }),
      'rowIdx',
      /rowIdx must be a Uint32Array, got Uint16Array/,
    ],
    [
      'colIdx of the wrong type',
      broken(a, { colIdx: Int32Array.from([1, 0, 2]) }),
      'colIdx',
      /colIdx must be a Uint32Array, got Int32Array/,
    ],
    [
      'rowIdx of the wrong length',
      broken(a, { rowIdx: u32([0, 2]) }),
      'rowIdx',
      /rowIdx has length 2 but must be nnz = values.length = 3/,
    ],
    [
      'colIdx of the wrong length',
      broken(a, { colIdx: u32([1, 0, 2, 3]) }),
      'colIdx',
      /colIdx has length 4 but must be nnz/,
    ],
    [
      'values of the wrong type',
      broken(a, { values: [2, 3, 4] }),
      'values',
      /values must be a Float32Array, got Array/,
    ],
    [
      'rowIdx out of range',
      broken(a, { rowIdx: u32([0, 2, 3]) }),
      'rowIdx',
      /rowIdx\[2\]=3 is out of range \(must be < rows = 3\)/,
    ],
    [
      'colIdx out of range',
      broken(a, { colIdx: u32([1, 0, 4]) }),
      'colIdx',
      /colIdx\[2\]=4 is out of range \(must be < cols = 4\)/,
    ],
    [
      'rows out of order',
      broken(a, { rowIdx: u32([2, 0, 2]), colIdx: u32([0, 1, 2]) }),
      'rowIdx',
      /rowIdx\[1\]=0 is less than rowIdx\[0\]=2: entry 1 \(0, 1\) after entry 0 \(2, 0\)/,
    ],
    [
      'columns out of order',
      broken(a, { colIdx: u32([1, 2, 0]) }),
      'colIdx',
      /colIdx\[2\]=0 is less than colIdx\[1\]=2 in row 2/,
    ],
    [
      'a duplicate entry',
      broken(a, { colIdx: u32([1, 2, 2]) }),
      'colIdx',
      /duplicate entry 2 \(2, 2\) after entry 1 \(2, 2\)/,
    ],
  ];
  for (const [what, bad, field, pattern] of cases) {
    it(what, () => assertFormatError(() => cooValidate(bad as typeof a), field, pattern));
  }

  it('not NaN values (NaN is data)', () => {
    cooValidate(broken(a, { values: Float32Array.from([Number.NaN, 3, 4]) }));
  });
});
