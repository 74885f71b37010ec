import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor } from '../tensor/tensor.js';
import { csr, csrFromDense, csrFromParts, csrNbytes, csrToDense, csrValidate } from './csr.js';
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

describe('csr layout', () => {
  it('packs a tiny matrix into the documented arrays', () => {
    const a = csrFromDense(W);
    assert.deepEqual(a.rowPtr, Uint32Array.from([0, 1, 1, 3]));
    assert.deepEqual(a.colIdx, Uint16Array.from([1, 0, 2]));
    assert.deepEqual(a.values, Float32Array.from([2, 3, 4]));
    assert.equal(csrNbytes(a), 4 * 4 + 2 * 3 + 4 * 3);
  });

  it('narrows colIdx to u16 up to cols = 65536 and widens to u32 beyond', () => {
    assert.ok(csrFromDense(testMatrix(2, 65536, 0.01)).colIdx instanceof Uint16Array);
    assert.ok(csrFromDense(testMatrix(2, 65537, 0.01)).colIdx instanceof Uint32Array);
  });

  it('keeps NaN (it is data) and drops -0', () => {
    const a = csrFromDense(Tensor.from([Number.NaN, -0, 1], [1, 3]));
    csrValidate(a);
    assert.deepEqual(a.colIdx, Uint16Array.from([0, 2]));
    assert.ok(Number.isNaN(csrToDense(a).data[0]));
  });

  it('csrFromParts accepts valid arrays and rejects malformed ones', () => {
    const a = csrFromParts(
      3,
      4,
      Uint32Array.from([0, 1, 1, 3]),
      Uint16Array.from([1, 0, 2]),
      Float32Array.from([2, 3, 4]),
    );
    assert.deepEqual(csrToDense(a), W);
    assertFormatError(
      () =>
        csrFromParts(
          3,
          4,
          Uint32Array.from([0, 1, 1, 3]),
          Uint16Array.from([1, 2, 0]),
          Float32Array.from([2, 3, 4]),
        ),
      'colIdx',
      /^csr: colIdx\[2\]=0 is not greater than colIdx\[1\]=2 in row 2/,
    );
  });
});

describe('csr round trip', () => {
  for (const c of roundTripCases([[3, 70000]]))
    it(c.name, () => {
      checkRoundTrip(csr, c.w);
    });
});

describe('csr matmul shape errors', () => {
  it('names b and both sizes', () => {
    assert.throws(() => csr.matmul(csrFromDense(W), Tensor.zeros([5, 2])), {
      message: 'csrMatmul: b has 5 rows but a has 4 columns',
    });
    checkMatmulShapeErrors(csr, csrFromDense(W));
  });
});

describe('csr validate rejects', () => {
  const a = csrFromDense(W);
  const u32 = (xs: number[]) => Uint32Array.from(xs);
  const u16 = (xs: number[]) => Uint16Array.from(xs);
  const cases: [string, unknown, string, RegExp][] = [
    ['another format tag', broken(a, { format: 'coo' }), 'format', /format is "coo" but must be "csr"/],
    ['negative rows', broken(a, { rows: -1 }), 'rows', /rows must be an integer/],
    ['fractional cols', broken(a, { cols: 2.5 }), 'cols', /cols must be an integer/],
    [
      'rowPtr of the wrong type',
      broken(a, { rowPtr: Int32Array.from([0, 1, 1, 3]) }),
      'rowPtr',
      /must be a Uint32Array, got Int32Array/,
    ],
    [
      'rowPtr of the wrong length',
      broken(a, { rowPtr: u32([0, 1, 3]) }),
      'rowPtr',
      /rowPtr has length 3 but must be rows\+1 = 4/,
    ],
    [
      'rowPtr not starting at 0',
      broken(a, { rowPtr: u32([1, 1, 1, 3]) }),
      'rowPtr',
      /rowPtr\[0\]=1 but must be 0/,
    ],
    [
      'rowPtr decreasing',
      broken(a, { rowPtr: u32([0, 2, 1, 3]) }),
      'rowPtr',
      /rowPtr\[2\]=1 is less than rowPtr\[1\]=2/,
    ],
    [
      'rowPtr not ending at nnz',
      broken(a, { rowPtr: u32([0, 1, 1, 2]) }),
      'rowPtr',
      /rowPtr\[3\]=2 but must equal nnz/,
    ],
    [
      'colIdx too wide for cols ≤ 65536',
      broken(a, { colIdx: u32([1, 0, 2]) }),
      'colIdx',
      /must be a Uint16Array because cols = 4/,
    ],
    [
      'colIdx not an index array',
      broken(a, { colIdx: [1, 0, 2] }),
      'colIdx',
      /must be a Uint16Array .* got Array/,
    ],
    [
      'colIdx shorter than values',
      broken(a, { colIdx: u16([1, 0]) }),
      'colIdx',
      /colIdx has length 2 but must be nnz/,
    ],
    [
      'colIdx out of range',
      broken(a, { colIdx: u16([1, 4, 5]) }),
      'colIdx',
      /colIdx\[1\]=4 is out of range in row 2 \(must be < cols = 4\)/,
    ],
    [
      'colIdx unsorted',
      broken(a, { colIdx: u16([1, 2, 0]) }),
      'colIdx',
      /colIdx\[2\]=0 is not greater than colIdx\[1\]=2 in row 2/,
    ],
    [
      'colIdx duplicated',
      broken(a, { colIdx: u16([1, 2, 2]) }),
      'colIdx',
      /colIdx\[2\]=2 is not greater than colIdx\[1\]=2/,
    ],
    [
      'values of the wrong type',
      broken(a, { values: Float64Array.from([2, 3, 4]) }),
      'values',
      /values must be a Float32Array, got Float64Array/,
    ],
    [
      'a missing values array',
      broken(a, { values: undefined }),
      'values',
      /values must be a Float32Array, got undefined/,
    ],
  ];
  for (const [what, bad, field, pattern] of cases) {
    it(what, () => assertFormatError(() => csrValidate(bad as typeof a), field, pattern));
  }

  it('not NaN values (NaN is data)', () => {
    csrValidate(broken(a, { values: Float32Array.from([Number.NaN, 3, 4]) }));
  });

  it('a u32 colIdx only when cols > 65536', () => {
    const wide = csrFromDense(testMatrix(1, 65537, 0.001));
    assertFormatError(
      () => csrValidate(broken(wide, { colIdx: Uint16Array.from(wide.colIdx) })),
      'colIdx',
      /must be a Uint32Array because cols = 65537 is > 65536/,
    );
  });
});
