import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor } from '../tensor/tensor.js';
import { csrFromDense, csrNbytes } from './csr.js';
import {
  csrBf16,
  csrF16,
  exactInHalf,
  halfCsrFromCsr,
  halfCsrFromDense,
  halfCsrFromParts,
  halfCsrNbytes,
  halfCsrToCsr,
  halfCsrToDense,
} from './csr-half.js';
import type { HalfFormat } from './half.js';
import { density, nnz, toFormat } from './index.js';
import {
  assertFormatError,
  broken,
  checkMatmulShapeErrors,
  checkRoundTrip,
  representable,
  roundTripCases,
  testMatrix,
} from './testing.js';

const TYPES: HalfFormat[] = ['bf16', 'f16'];

// w [3,4]: row 1 empty; every value exact in bf16 and f16
const W = Tensor.from([0, 2, 0, 0, 0, 0, 0, 0, -0.375, 0, 4, 0], [3, 4]);

describe('half-value csr layout', () => {
  it('keeps CSR index arrays and stores 2-byte value bits', () => {
    const a = halfCsrFromDense(W, 'bf16');
    assert.equal(a.format, 'csr_bf16');
    assert.deepEqual(a.rowPtr, Uint32Array.from([0, 1, 1, 3]));
    assert.deepEqual(a.colIdx, Uint16Array.from([1, 0, 2]));
    assert.deepEqual(a.values, Uint16Array.from([0x4000, 0xbec0, 0x4080]));
    const h = halfCsrFromDense(W, 'f16');
    assert.equal(h.format, 'csr_f16');
    assert.deepEqual(h.values, Uint16Array.from([0x4000, 0xb600, 0x4400]));
    assert.equal(halfCsrNbytes(a), 4 * 4 + 2 * 3 + 2 * 3);
  });

  it('costs 4 bytes per kept weight against CSR f32 values 6 (u16 indices)', () => {
    const w = representable(testMatrix(64, 256, 0.3, 3), 'bf16');
    const a = csrFromDense(w);
    const b = halfCsrFromDense(w, 'bf16');
    const n = a.values.length;
    assert.equal(csrNbytes(a) - 4 * 65, 6 * n);
    assert.equal(halfCsrNbytes(b) - 4 * 65, 4 * n);
  });

  it('round-trips through f32 CSR exactly for representable values, sharing the index arrays', () => {
    for (const type of TYPES) {
      const w = representable(testMatrix(9, 33, 0.4, 5), type);
      const a = csrFromDense(w);
      const h = halfCsrFromCsr(a, type);
      assert.equal(h.rowPtr, a.rowPtr);
      assert.deepEqual(halfCsrToCsr(h), a);
      assert.deepEqual(halfCsrToDense(h), w);
    }
  });

  it('rounds values that are not representable to nearest even', () => {
    const w = Tensor.from([1 + 2 ** -8, 0, 1 + 3 * 2 ** -8], [1, 3]);
    assert.deepEqual(halfCsrFromDense(w, 'bf16').values, Uint16Array.from([0x3f80, 0x3f82]));
  });

  it('nnz and density count bits that are not ±0, like every other format', () => {
    const a = halfCsrFromParts(
      1,
      4,
      Uint32Array.from([0, 3]),
      Uint16Array.from([0, 1, 3]),
      Uint16Array.from([0x8000, 0x3f80, 0x7fc0]), // -0 (explicit zero), 1, NaN
      'bf16',
    );
    assert.equal(nnz(a), 2);
    assert.equal(density(a), 0.5);
    assert.ok(Number.isNaN(halfCsrToDense(a).data[3]));
  });

  it('toFormat builds it from a spec', () => {
    assert.equal(toFormat(W, { format: 'csr_bf16' }).format, 'csr_bf16');
    assert.equal(toFormat(W, { format: 'csr_f16' }).format, 'csr_f16');
  });
});

describe('exactInHalf', () => {
  it('is true exactly when every value survives the 2-byte round trip', () => {
    const w = testMatrix(5, 40, 0.5, 2);
    assert.equal(exactInHalf(w.data, 'bf16'), false);
    assert.equal(exactInHalf(representable(w, 'bf16').data, 'bf16'), true);
    assert.equal(exactInHalf(representable(w, 'f16').data, 'f16'), true);
    assert.equal(exactInHalf(Float32Array.from([Number.NaN, -0, 2 ** -133]), 'bf16'), true); // bf16's smallest subnormal
    assert.equal(exactInHalf(Float32Array.from([1e-45]), 'bf16'), false); // f32's smallest subnormal
    assert.equal(exactInHalf(Float32Array.from([1e-45]), 'f16'), false); // below f16's smallest subnormal
    assert.equal(exactInHalf(Float32Array.from([70000]), 'f16'), false); // beyond f16's range
  });
});

describe('half-value csr round trip', () => {
  for (const type of TYPES) {
    for (const { name, w } of roundTripCases([[3, 70000]])) {
      it(`${type} ${name}`, () => {
        const r = representable(w, type);
        if (type === 'bf16') checkRoundTrip(csrBf16, r);
        else checkRoundTrip(csrF16, r);
      });
    }
  }
});

describe('half-value csr matmul shape errors', () => {
  it('names b and both sizes', () => {
    checkMatmulShapeErrors(csrBf16, csrBf16.fromDense(W));
    checkMatmulShapeErrors(csrF16, csrF16.fromDense(W));
  });
});

describe('half-value csr validate rejects', () => {
  const a = csrBf16.fromDense(W);
  it('f32 values', () => {
    assertFormatError(
      () => csrBf16.validate(broken(a, { values: new Float32Array(3) })),
      'values',
      /^csr_bf16: values must be a Uint16Array, got Float32Array/,
    );
  });
  it('an unknown tag, or the other value type', () => {
    assertFormatError(() => csrBf16.validate(broken(a, { format: 'csr' })), 'format', /must be "csr_bf16"/);
    assertFormatError(
      () => csrF16.validate(a as never),
      'format',
      /format is "csr_bf16" but must be "csr_f16"/,
    );
  });
  it('unsorted columns and a bad rowPtr, like csr', () => {
    assertFormatError(
      () => csrBf16.validate(broken(a, { colIdx: Uint16Array.from([1, 2, 0]) })),
      'colIdx',
      /^csr_bf16: colIdx\[2\]=0 is not greater than colIdx\[1\]=2 in row 2/,
    );
    assertFormatError(
      () => csrBf16.validate(broken(a, { rowPtr: Uint32Array.from([0, 1, 1, 2]) })),
      'rowPtr',
      /csr_bf16: rowPtr/,
    );
  });
});
