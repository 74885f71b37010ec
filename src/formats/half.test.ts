import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { f32ToBf16Bits, f32ToF16Bits } from '../tensor/dtype.js';
import { randn } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import {
  bf16,
  f16,
  type HalfFormat,
  type HalfMatrix,
  halfFromBits,
  halfFromDense,
  halfMatmul,
  halfNbytes,
  halfToDense,
  halfValidate,
} from './half.js';
import { density, nnz } from './index.js';
import {
  assertFormatError,
  broken,
  checkMatmulShapeErrors,
  checkRoundTrip,
  representable,
  roundTripCases,
  testMatrix,
} from './testing.js';

const FORMATS: HalfFormat[] = ['bf16', 'f16'];

/** The bit pattern of one value after halfFromDense. */
function bitsOf(value: number, format: HalfFormat): number {
  return halfFromDense(Tensor.from([value], [1, 1]), format).data[0]!;
}

describe('half round trip', () => {
  for (const format of FORMATS) {
    for (const { name, w } of roundTripCases([[3, 4096]])) {
      it(`${format} ${name}: exact for representable values, nbytes, matmul`, () => {
        if (format === 'bf16') checkRoundTrip(bf16, representable(w, format));
        else checkRoundTrip(f16, representable(w, format));
      });
    }
  }
});

describe('halfFromDense rounding', () => {
  it('matches the scalar conversions of src/tensor/dtype.ts on every element', () => {
    const w = randn([7, 300], 5);
    for (let i = 0; i < w.size; i += 50) w.data[i] = w.data[i]! * 1e-6; // f16 subnormals
    w.data[1] = 70000; // beyond f16's range
    w.data[2] = Number.NaN;
    w.data[3] = Number.NEGATIVE_INFINITY;
    const b = halfFromDense(w, 'bf16');
    const h = halfFromDense(w, 'f16');
    for (let i = 0; i < w.size; i++) {
      assert.equal(b.data[i], f32ToBf16Bits(w.data[i]!), `bf16 element ${i}`);
      assert.equal(h.data[i], f32ToF16Bits(w.data[i]!), `f16 element ${i}`);
    }
  });

  it('bf16 rounds half to even and keeps NaN a NaN', () => {
    assert.equal(bitsOf(1 + 2 ** -8, 'bf16'), 0x3f80); // tie between 1 and 1+2^-7: even (1)
    assert.equal(bitsOf(1 + 3 * 2 ** -8, 'bf16'), 0x3f82); // tie between 1+2^-7 and 1+2^-6: even
    assert.equal(bitsOf(-2, 'bf16'), 0xc000);
    assert.ok(Number.isNaN(halfToDense(halfFromDense(Tensor.from([Number.NaN], [1, 1]), 'bf16')).data[0]));
  });

  it('f16 rounds half to even, overflows to Inf, keeps subnormals', () => {
    assert.equal(bitsOf(1 + 2 ** -11, 'f16'), 0x3c00); // tie: even (1)
    assert.equal(bitsOf(65504, 'f16'), 0x7bff); // largest finite
    assert.equal(bitsOf(65520, 'f16'), 0x7c00); // tie with 65536 rounds up to Inf
    assert.equal(bitsOf(-1e6, 'f16'), 0xfc00);
    assert.equal(bitsOf(2 ** -24, 'f16'), 0x0001); // smallest subnormal
    assert.equal(bitsOf(2 ** -25, 'f16'), 0x0000); // tie between 0 and 2^-24: even (0)
    assert.equal(bitsOf(3 * 2 ** -25, 'f16'), 0x0002); // tie between 2^-24 and 2^-23: even
    const back = halfToDense(halfFromDense(Tensor.from([2 ** -24, 1023 * 2 ** -24], [1, 2]), 'f16'));
    assert.deepEqual([...back.data], [2 ** -24, 1023 * 2 ** -24]);
  });

  it('halves the bytes of dense f32', () => {
    const a = halfFromDense(testMatrix(64, 96, 1), 'bf16');
    assert.equal(halfNbytes(a), 64 * 96 * 2);
  });

  it('rejects an unknown format and a tensor that is not rank 2', () => {
    assert.throws(
      () => halfFromDense(testMatrix(2, 2, 1), 'f32' as HalfFormat),
      /halfFromDense: format must be "bf16" or "f16", got "f32"/,
    );
    assert.throws(() => halfFromDense(randn([4], 1), 'bf16'), /halfFromDense: t: expected a rank-2 tensor/);
  });
});

describe('halfFromBits', () => {
  it('wraps the bits without copying and decodes them as the format says', () => {
    const bits = Uint16Array.from([0x3f80, 0xc000, 0x3c00, 0x0001]);
    const b = halfFromBits(bits, 2, 2, 'bf16');
    assert.equal(b.data, bits);
    assert.deepEqual([...halfToDense(b).data], [1, -2, 0.0078125, 9.183549615799121e-41]);
    const h = halfFromBits(bits, 1, 4, 'f16');
    assert.deepEqual([...halfToDense(h).data], [1.875, -2, 1, 2 ** -24]);
  });

  it('rejects a length that is not rows·cols, naming data', () => {
    assertFormatError(
      () => halfFromBits(new Uint16Array(5), 2, 3, 'f16'),
      'data',
      /data has length 5 but must be rows·cols = 6/,
    );
  });
});

describe('halfValidate', () => {
  const a = halfFromDense(testMatrix(3, 5, 1), 'bf16');
  it('accepts a well-formed matrix', () => {
    halfValidate(a);
    bf16.validate(a);
  });
  it('rejects a wrong tag, a mismatched FormatOps, a wrong array type and bad dims', () => {
    assertFormatError(() => halfValidate(broken(a, { format: 'f32' })), 'format', /must be "bf16" or "f16"/);
    assertFormatError(() => f16.validate(a as never), 'format', /format is "bf16" but must be "f16"/);
    assertFormatError(
      () => halfValidate(broken(a, { data: new Float32Array(15) })),
      'data',
      /data must be a Uint16Array, got Float32Array/,
    );
    assertFormatError(() => halfValidate(broken(a, { rows: -1 })), 'rows', /rows must be an integer/);
  });
});

describe('half matmul and counts', () => {
  it('rejects a right operand of the wrong shape', () => {
    checkMatmulShapeErrors(bf16 as never, halfFromDense(testMatrix(4, 6, 1), 'bf16') as HalfMatrix);
    checkMatmulShapeErrors(f16 as never, halfFromDense(testMatrix(4, 6, 1), 'f16') as HalfMatrix);
  });

  it('propagates f16 Inf and NaN like the dense product', () => {
    const a = halfFromBits(Uint16Array.from([0x7c00, 0x3c00, 0x7e00, 0x3c00]), 2, 2, 'f16');
    const y = halfMatmul(a, Tensor.from([1, 2], [2]));
    assert.equal(y.data[0], Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(y.data[1]));
  });

  it('nnz and density count the non-zero bit patterns (-0 is zero, NaN is not)', () => {
    const a = halfFromBits(Uint16Array.from([0x0000, 0x8000, 0x7e00, 0x0001]), 2, 2, 'f16');
    assert.equal(nnz(a), 2);
    assert.equal(density(a), 0.5);
  });
});
