import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor } from '../tensor/tensor.js';
import {
  density,
  FORMATS,
  FormatError,
  type FormatSpec,
  formatOf,
  nmPruneMagnitude,
  nnz,
  toDense,
  toFormat,
  weightNbytes,
} from './index.js';
import { testMatrix } from './testing.js';

const SPECS: FormatSpec[] = [
  { format: 'dense' },
  { format: 'csr' },
  { format: 'bsr', blockRows: 4, blockCols: 4 },
  { format: 'nm', n: 2, m: 4 },
  { format: 'bitmask' },
  { format: 'coo' },
  { format: 'csr_bf16' },
  { format: 'csr_f16' },
  { format: 'nm_bf16', n: 2, m: 4 },
  { format: 'nm_f16', n: 2, m: 4 },
  { format: 'bf16' },
  { format: 'f16' },
];

// 17×19 with 30% non-zeros then 2:4-pruned: N:M groups hold explicit zeros, BSR edge blocks hold padding.
// Rounded to bf16 (8 significant bits, exponents well inside f16's range) so bf16 and f16 hold it exactly.
const W = toDense(toFormat(nmPruneMagnitude(testMatrix(17, 19, 0.3), 2, 4), { format: 'bf16' }));

describe('FORMATS', () => {
  it('lists the five sparse formats, CSR and N:M with half values and the two half-precision ones under their own names', () => {
    assert.deepEqual(Object.keys(FORMATS), [
      'csr',
      'bsr',
      'nm',
      'bitmask',
      'coo',
      'csr_bf16',
      'csr_f16',
      'nm_bf16',
      'nm_f16',
      'bf16',
      'f16',
    ]);
    for (const [key, ops] of Object.entries(FORMATS)) assert.equal(ops.name, key);
  });
});

describe('toFormat / toDense / formatOf', () => {
  for (const spec of SPECS) {
    it(`${spec.format}: round-trips and reports its format`, () => {
      const a = toFormat(W, spec);
      assert.equal(formatOf(a), spec.format);
      assert.deepEqual(toDense(a), W);
    });
  }

  it('dense is the identity (no copy)', () => {
    assert.equal(toFormat(W, { format: 'dense' }), W);
    assert.equal(toDense(W), W);
  });

  it('passes format errors through', () => {
    assert.throws(() => toFormat(testMatrix(4, 8, 1), { format: 'nm', n: 2, m: 4 }), FormatError);
  });

  it('formatOf rejects objects that are not weights', () => {
    assert.throws(
      () => formatOf({ format: 'csc' } as never),
      /formatOf: expected a Tensor or a sparse matrix, got format "csc"/,
    );
  });
});

describe('nnz / density', () => {
  it('count actual non-zeros, the same in every format', () => {
    let expected = 0;
    for (const v of W.data) if (v !== 0) expected++;
    for (const spec of SPECS) {
      const a = toFormat(W, spec);
      assert.equal(nnz(a), expected, spec.format);
      assert.equal(density(a), expected / (17 * 19), spec.format);
    }
  });

  it('density of an empty matrix is 0', () => {
    assert.equal(density(Tensor.zeros([0, 5])), 0);
    assert.equal(density(toFormat(Tensor.zeros([3, 0]), { format: 'csr' })), 0);
  });
});

describe('weightNbytes', () => {
  it('counts every stored array of each format: values, indices and metadata', () => {
    for (const spec of SPECS) {
      const a = toFormat(W, spec);
      // the bytes of the typed arrays the object holds (a Tensor's f32 data)
      const arrays = Object.values(a instanceof Tensor ? { data: a.data } : a).filter(ArrayBuffer.isView);
      const held = arrays.reduce((s, v) => s + (v as ArrayBufferView).byteLength, 0);
      assert.equal(weightNbytes(a), held, spec.format);
    }
    assert.equal(weightNbytes(W), 4 * 17 * 19);
    assert.equal(weightNbytes(toFormat(W, { format: 'bf16' })), 2 * 17 * 19);
  });
});
