import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBf16, fromF16, toBf16, toF16 } from '../tensor/dtype.js';
import { randn } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import type { HalfFormat } from './half.js';
import { density, nnz, toFormat } from './index.js';
import { nmFromDense, nmLayout, nmMatmul, nmNbytes, nmPruneMagnitude } from './nm.js';
import {
  halfNmFormat,
  halfNmFromDense,
  halfNmFromNm,
  halfNmFromParts,
  halfNmMatmul,
  halfNmNbytes,
  halfNmToDense,
  halfNmToNm,
  halfNmValues,
  nmBf16,
  nmF16,
} from './nm-half.js';
import {
  assertFormatError,
  broken,
  checkMatmulShapeErrors,
  checkRoundTrip,
  MATMUL_NS,
  representable,
  roundTripCases,
  testMatrix,
} from './testing.js';

const TYPES: HalfFormat[] = ['bf16', 'f16'];
const PATTERNS = [
  [2, 4],
  [4, 8],
  [3, 16],
] as const;

/** The FormatOps of a value type. */
const opsOf = (type: HalfFormat) => (type === 'bf16' ? nmBf16 : nmF16);

// w [1,8], 2:4: group 0 keeps columns 1, 3; group 1 has one non-zero, so column 4 (position 0) is an explicit zero
const W = Tensor.from([0, 5, 0, 7, 0, 0, 2, 0], [1, 8]);

describe('half-value nm layout', () => {
  it("keeps N:M's groups and meta and stores 2-byte value bits", () => {
    const a = halfNmFromDense(W, 2, 4, 'bf16');
    assert.equal(a.format, 'nm_bf16');
    assert.equal(halfNmValues(a), 'bf16');
    assert.deepEqual(a.values, Uint16Array.from([0x40a0, 0x40e0, 0x0000, 0x4000]));
    assert.deepEqual(a.meta, Uint8Array.from([1 | (3 << 2), 0 | (2 << 2)]));
    const h = halfNmFromDense(W, 2, 4, 'f16');
    assert.equal(h.format, 'nm_f16');
    assert.equal(halfNmValues(h), 'f16');
    assert.deepEqual(h.values, Uint16Array.from([0x4500, 0x4700, 0x0000, 0x4000]));
    assert.deepEqual(h.meta, a.meta);
  });

  it('2:4 of a 4096-column row costs 5 bytes per 4 weights: 0.3125 × dense f32, 0.625 × dense bf16', () => {
    const a = halfNmFromDense(nmPruneMagnitude(testMatrix(1, 4096, 1), 2, 4), 2, 4, 'bf16');
    assert.equal(halfNmNbytes(a), (4096 / 4) * 5);
    assert.equal(halfNmNbytes(a) / (4096 * 4), 0.3125);
  });

  it('nbytes is rows·groups·(2n + metaBytesPerGroup) exactly, partial groups and padding included', () => {
    for (const [n, m] of [...PATTERNS, [1, 4]] as const) {
      const w = nmPruneMagnitude(testMatrix(17, 21, 0.7, n + m), n, m);
      const { groups, metaBytesPerGroup } = nmLayout(21, n, m);
      for (const type of TYPES) {
        const a = halfNmFromDense(w, n, m, type);
        assert.equal(halfNmNbytes(a), 17 * groups * (2 * n + metaBytesPerGroup), `${n}:${m} ${type}`);
        assert.equal(halfNmNbytes(a), nmNbytes(nmFromDense(w, n, m)) - 17 * groups * 2 * n);
      }
    }
  });

  it('a partial last group narrower than n stores padding slots (bits 0, position 0)', () => {
    // 4:8 with 10 columns: group 1 has width 2 < n = 4
    const a = halfNmFromDense(Tensor.from([1, 0, 0, 0, 0, 0, 0, 2, 3, 4], [1, 10]), 4, 8, 'bf16');
    assert.deepEqual(a.values, Uint16Array.from([0x3f80, 0, 0, 0x4000, 0x4040, 0x4080, 0, 0]));
    assert.deepEqual(a.meta.subarray(2), Uint8Array.from([0 | (1 << 3), 0]));
    nmBf16.validate(a);
  });

  it('round-trips through f32 N:M exactly for representable values, sharing meta', () => {
    for (const type of TYPES) {
      const w = representable(nmPruneMagnitude(testMatrix(9, 33, 0.8, 5), 2, 4), type);
      const a = nmFromDense(w, 2, 4);
      const h = halfNmFromNm(a, type);
      assert.equal(h.meta, a.meta);
      assert.deepEqual(halfNmToNm(h), a);
      assert.deepEqual(halfNmToDense(h), w);
    }
  });

  it('rounds values that are not representable to nearest even, as toBf16 / toF16 do', () => {
    // ties: 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7 (goes to even 1); 1 + 3·2^-8 goes up to 1 + 2^-6
    const w = Tensor.from([1 + 2 ** -8, 0, 0, 1 + 3 * 2 ** -8], [1, 4]);
    assert.deepEqual(halfNmFromDense(w, 2, 4, 'bf16').values, Uint16Array.from([0x3f80, 0x3f82]));
    const v = Tensor.from([1 + 2 ** -11, 0, 0, 1 + 3 * 2 ** -11], [1, 4]);
    assert.deepEqual(halfNmFromDense(v, 2, 4, 'f16').values, Uint16Array.from([0x3c00, 0x3c02]));
    const p = nmPruneMagnitude(testMatrix(13, 37, 0.9, 7), 2, 4); // f32 values, almost none exact in half
    const bf = halfNmFromDense(p, 2, 4, 'bf16');
    const f = halfNmFromDense(p, 2, 4, 'f16');
    assert.deepEqual(bf.values, toBf16(nmFromDense(p, 2, 4).values));
    assert.deepEqual(f.values, toF16(nmFromDense(p, 2, 4).values));
    assert.deepEqual(halfNmToDense(bf).data, fromBf16(toBf16(p.data)));
    assert.deepEqual(halfNmToDense(f).data, fromF16(toF16(p.data)));
  });

  it('f16 keeps ±Inf and NaN, overflows to Inf and underflows to an explicit zero; bf16 keeps them too', () => {
    // groups: [Inf, 0, NaN, 0] [0, -Inf, 0, 70000] [1e-8, 0, 0, 0]
    const w = Tensor.from([Infinity, 0, Number.NaN, 0, 0, -Infinity, 0, 70000, 1e-8, 0, 0, 0], [1, 12]);
    const h = halfNmFromDense(w, 2, 4, 'f16');
    assert.deepEqual(h.values, Uint16Array.from([0x7c00, 0x7e00, 0xfc00, 0x7c00, 0x0000, 0x0000]));
    nmF16.validate(h);
    const back = [...halfNmToDense(h).data];
    assert.deepEqual(back, [Infinity, 0, Number.NaN, 0, 0, -Infinity, 0, Infinity, 0, 0, 0, 0]);
    assert.equal(nnz(h), 4, 'NaN and ±Inf count as non-zeros; 1e-8 became an explicit zero');
    const b = halfNmFromDense(w, 2, 4, 'bf16');
    assert.deepEqual(b.values.subarray(0, 3), Uint16Array.from([0x7f80, 0x7fc0, 0xff80]));
    assert.deepEqual([...halfNmToDense(b).data].slice(0, 6), [Infinity, 0, Number.NaN, 0, 0, -Infinity]);
  });

  it('nnz and density count bits that are not ±0, like every other format', () => {
    // 1×4 2:4 with live positions 0, 1: -0 (an explicit zero) and NaN
    const a = halfNmFromParts(
      1,
      4,
      2,
      4,
      Uint16Array.from([0x8000, 0x7fc0]),
      Uint8Array.from([0 | (1 << 2)]),
      'bf16',
    );
    assert.equal(nnz(a), 1);
    assert.equal(density(a), 0.25);
    assert.ok(Number.isNaN(halfNmToDense(a).data[1]));
  });

  it('toFormat builds it from a spec', () => {
    const a = toFormat(W, { format: 'nm_bf16', n: 2, m: 4 });
    const b = toFormat(W, { format: 'nm_f16', n: 2, m: 4 });
    assert.deepEqual([a.format, a.n, a.m], ['nm_bf16', 2, 4]);
    assert.deepEqual([b.format, b.n, b.m], ['nm_f16', 2, 4]);
  });

  it('rejects a value type that is not half, and an unpruned group (as nmFromDense)', () => {
    assert.throws(() => halfNmFormat('f32' as never), /halfNm: values must be "bf16" or "f16", got "f32"/);
    assert.throws(() => halfNmFromDense(W, 2, 4, 'f32' as never), RangeError);
    assertFormatError(
      () => halfNmFromDense(Tensor.from([1, 2, 3, 0], [1, 4]), 2, 4, 'bf16'),
      'w',
      /row 0 group 0 \(columns 0…3\) has 3 non-zeros but 2:4 allows at most 2; prune first/,
    );
  });
});

for (const type of TYPES) {
  for (const [n, m] of PATTERNS) {
    describe(`nm_${type} ${n}:${m} round trip`, () => {
      for (const c of roundTripCases()) {
        it(c.name, () => {
          const w = representable(nmPruneMagnitude(c.w, n, m), type);
          if (type === 'bf16') checkRoundTrip(nmBf16, w, n, m);
          else checkRoundTrip(nmF16, w, n, m);
        });
      }
    });
  }
}

describe('halfNmMatmul', () => {
  it('equals nmMatmul on the widened matrix, bit for bit (N = 1, 3, 8 and a vector)', () => {
    for (const type of TYPES) {
      for (const [n, m] of PATTERNS) {
        const a = halfNmFromDense(nmPruneMagnitude(testMatrix(19, 45, 0.8, n * m), n, m), n, m, type);
        const wide = halfNmToNm(a);
        for (const N of MATMUL_NS) {
          const b = randn([45, N], 10 + N);
          assert.deepEqual(halfNmMatmul(a, b), nmMatmul(wide, b), `${type} ${n}:${m} N=${N}`);
        }
        const x = randn([45], 9);
        assert.deepEqual(halfNmMatmul(a, x), nmMatmul(wide, x), `${type} ${n}:${m} vector`);
      }
    }
  });

  it('shape errors name this format, b and both sizes', () => {
    checkMatmulShapeErrors(nmBf16, nmBf16.fromDense(W, 2, 4));
    checkMatmulShapeErrors(nmF16, nmF16.fromDense(W, 2, 4));
  });
});

describe('half-value nm validate rejects, naming the format', () => {
  for (const type of TYPES) {
    const ops = opsOf(type);
    const f = `nm_${type}`;
    // 2:5 on [1,7]: groups of width 5 and 2, 3-bit positions, 1 meta byte per group (6 bits used)
    const a = halfNmFromDense(Tensor.from([0, 1, 0, 2, 0, 3, 4], [1, 7]), 2, 5, type);
    const meta = (g0: number[], g1: number[]) =>
      Uint8Array.from([g0[0]! | (g0[1]! << 3), g1[0]! | (g1[1]! << 3)]);
    // 4:8 on [1,10]: group 1 has width 2, so slots 2 and 3 are padding
    const p = halfNmFromDense(Tensor.from([1, 0, 0, 0, 0, 0, 0, 2, 3, 4], [1, 10]), 4, 8, type);
    const five = type === 'bf16' ? 0x40a0 : 0x4500;
    const cases: [string, unknown, string, RegExp][] = [
      [
        'the f32 N:M tag',
        broken(a, { format: 'nm' }),
        'format',
        /format is "nm" but must be "nm_bf16" or "nm_f16"/,
      ],
      ['n ≥ m', broken(a, { n: 5 }), 'n', new RegExp(`^${f}: n must be an integer in \\[1, 4\\], got 5`)],
      ['m > 16', broken(a, { m: 17 }), 'm', new RegExp(`^${f}: m must be an integer in \\[2, 16\\], got 17`)],
      [
        'f32 values',
        broken(a, { values: new Float32Array(4) }),
        'values',
        new RegExp(`^${f}: values must be a Uint16Array, got Float32Array`),
      ],
      [
        'values of the wrong length',
        broken(a, { values: new Uint16Array(3) }),
        'values',
        new RegExp(`^${f}: values has length 3 but must be rows·ceil\\(cols/m\\)·n = 4`),
      ],
      [
        'meta of the wrong type',
        broken(a, { meta: new Uint16Array(2) }),
        'meta',
        new RegExp(`^${f}: meta must be a Uint8Array, got Uint16Array`),
      ],
      [
        'a position ≥ m',
        broken(a, { meta: meta([1, 5], [0, 1]) }),
        'meta',
        new RegExp(`^${f}: meta\\[0\\]: slot 1 of row 0 group 0 holds position 5, must be < m = 5`),
      ],
      [
        'decreasing positions',
        broken(a, { meta: meta([3, 1], [0, 1]) }),
        'meta',
        new RegExp(
          `^${f}: meta\\[0\\]: slot 1 of row 0 group 0 holds position 1, not greater than slot 0's 3`,
        ),
      ],
      [
        'unused meta bits set',
        broken(a, { meta: Uint8Array.from([1 | (3 << 3) | 0x80, 8]) }),
        'meta',
        new RegExp(`^${f}: meta\\[0\\] of row 0 group 0 has unused bit 7 set`),
      ],
      [
        'a padding slot with a position',
        broken(p, { meta: Uint8Array.from([...p.meta.subarray(0, 3), 0x01]) }),
        'meta',
        new RegExp(
          `^${f}: meta\\[2\\]: slot 2 of row 0 group 1 holds position 4 but padding slots must hold 0`,
        ),
      ],
      [
        'a padding slot with a value',
        broken(p, { values: Uint16Array.from([...p.values.subarray(0, 7), five]) }),
        'values',
        new RegExp(`^${f}: values\\[7\\]=5 is padding slot 3 of row 0 group 1 and must be 0`),
      ],
    ];
    for (const [what, bad, field, pattern] of cases) {
      it(`${f}: ${what}`, () => assertFormatError(() => ops.validate(bad as never), field, pattern));
    }

    it(`${f}: the other value type's tag`, () => {
      const other = opsOf(type === 'bf16' ? 'f16' : 'bf16');
      const want = type === 'bf16' ? 'nm_f16' : 'nm_bf16';
      assertFormatError(
        () => other.validate(a as never),
        'format',
        new RegExp(`^${want}: format is "${f}" but must be "${want}"`),
      );
    });

    it(`${f}: not NaN values or a -0 padding slot (NaN is data, -0 is zero)`, () => {
      ops.validate(
        broken(a, { values: Uint16Array.from([type === 'bf16' ? 0x7fc0 : 0x7e00, 0, 0, 0]) }) as never,
      );
      ops.validate(broken(p, { values: Uint16Array.from([...p.values.subarray(0, 7), 0x8000]) }) as never);
    });
  }
});
