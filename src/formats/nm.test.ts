import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor } from '../tensor/tensor.js';
import {
  nm,
  nmFromDense,
  nmLayout,
  nmNbytes,
  nmPositions,
  nmPruneMagnitude,
  nmToDense,
  nmValidate,
} from './nm.js';
import {
  assertFormatError,
  broken,
  checkMatmulShapeErrors,
  checkRoundTrip,
  roundTripCases,
  testMatrix,
} from './testing.js';

const PATTERNS = [
  [2, 4],
  [4, 8],
  [1, 4],
  [3, 16],
] as const;

describe('nm layout', () => {
  it('2:4 packs two 2-bit positions per group into one byte, LSB first', () => {
    // row 0: group 0 keeps columns 1, 3; group 1 has one non-zero so column 8 (position 0) is an explicit zero
    const a = nmFromDense(Tensor.from([0, 5, 0, 7, 0, 0, 2, 0], [1, 8]), 2, 4);
    assert.deepEqual(a.values, Float32Array.from([5, 7, 0, 2]));
    assert.deepEqual(a.meta, Uint8Array.from([1 | (3 << 2), 0 | (2 << 2)]));
    assert.deepEqual(nmPositions(a, 0, 0), [1, 3]);
    assert.deepEqual(nmPositions(a, 0, 1), [0, 2]);
  });

  it('4:8 packs four 3-bit positions into two bytes, fields crossing the byte boundary', () => {
    const a = nmFromDense(Tensor.from([0, 1, 0, 2, 3, 0, 4, 0], [1, 8]), 4, 8);
    const bits = 1 | (3 << 3) | (4 << 6) | (6 << 9); // positions 1, 3, 4, 6
    assert.deepEqual(a.meta, Uint8Array.from([bits & 0xff, bits >> 8]));
    assert.deepEqual(nmPositions(a, 0, 0), [1, 3, 4, 6]);
  });

  it('sizes: bits = ceil(log2 m), metaBytesPerGroup = ceil(n·bits/8)', () => {
    assert.deepEqual(nmLayout(8, 2, 4), { groups: 2, bits: 2, metaBytesPerGroup: 1 });
    assert.deepEqual(nmLayout(17, 4, 8), { groups: 3, bits: 3, metaBytesPerGroup: 2 });
    assert.deepEqual(nmLayout(17, 1, 4), { groups: 5, bits: 2, metaBytesPerGroup: 1 });
    assert.deepEqual(nmLayout(17, 3, 16), { groups: 2, bits: 4, metaBytesPerGroup: 2 });
    assert.deepEqual(nmLayout(5, 1, 2), { groups: 3, bits: 1, metaBytesPerGroup: 1 });
  });

  it('2:4 of a 4096-column row costs 0.5625 × dense f32', () => {
    const a = nmFromDense(nmPruneMagnitude(testMatrix(1, 4096, 1), 2, 4), 2, 4);
    assert.equal(nmNbytes(a) / (4096 * 4), 0.5625);
  });

  it('a partial last group narrower than n stores its columns then padding slots (value 0, position 0)', () => {
    // 4:8 with 10 columns: group 1 has width 2 < n = 4
    const w = Tensor.from([1, 0, 0, 0, 0, 0, 0, 2, 3, 4], [1, 10]);
    const a = nmFromDense(w, 4, 8);
    assert.deepEqual(a.values, Float32Array.from([1, 0, 0, 2, 3, 4, 0, 0]));
    assert.deepEqual(nmPositions(a, 0, 1), [0, 1]);
    assert.deepEqual(a.meta.subarray(2), Uint8Array.from([0 | (1 << 3), 0]));
    nmValidate(a);
    assert.deepEqual(nmToDense(a), w);
  });
});

describe('nmPruneMagnitude', () => {
  for (const [n, m] of PATTERNS) {
    it(`${n}:${m} keeps exactly the ${n} largest |w| of every group`, () => {
      const w = testMatrix(7, 37, 0.8, n * 31 + m);
      const p = nmPruneMagnitude(w, n, m);
      for (let i = 0; i < 7; i++) {
        for (let k0 = 0; k0 < 37; k0 += m) {
          const cols = Array.from({ length: Math.min(m, 37 - k0) }, (_, j) => i * 37 + k0 + j);
          const kept = cols.filter((c) => p.data[c] !== 0);
          const dropped = cols.filter((c) => p.data[c] === 0);
          const nonZero = cols.filter((c) => w.data[c] !== 0).length;
          assert.equal(kept.length, Math.min(n, nonZero), `row ${i} columns ${k0}…`);
          for (const c of kept) assert.equal(p.data[c], w.data[c]);
          const minKept = Math.min(...kept.map((c) => Math.abs(w.data[c]!)));
          for (const c of dropped) assert.ok(Math.abs(w.data[c]!) <= minKept);
        }
      }
    });
  }

  it('breaks ties toward the lower column', () => {
    const p = nmPruneMagnitude(Tensor.from([1, -1, 1, 0.5, 2, 2, 2, 2], [1, 8]), 2, 4);
    assert.deepEqual([...p.data], [1, -1, 0, 0, 2, 2, 0, 0]);
  });
});

describe('nmFromDense', () => {
  it('rejects a group with more than n non-zeros, naming the row and group', () => {
    const w = Tensor.zeros([2, 12]);
    for (const k of [8, 9, 11]) w.set(1, 1, k);
    assertFormatError(
      () => nmFromDense(w, 2, 4),
      'w',
      /^nm: row 1 group 2 \(columns 8…11\) has 3 non-zeros but 2:4 allows at most 2; prune first/,
    );
  });

  it('rejects patterns outside 1 ≤ n < m ≤ 16', () => {
    const w = Tensor.zeros([1, 8]);
    assertFormatError(() => nmFromDense(w, 4, 4), 'n', /n must be an integer in \[1, 3\], got 4/);
    assertFormatError(() => nmFromDense(w, 0, 4), 'n', /n must be an integer in \[1, 3\], got 0/);
    assertFormatError(() => nmFromDense(w, 2, 17), 'm', /m must be an integer in \[2, 16\], got 17/);
  });
});

for (const [n, m] of PATTERNS) {
  describe(`nm ${n}:${m} round trip`, () => {
    for (const c of roundTripCases()) {
      it(c.name, () => {
        checkRoundTrip(nm, nmPruneMagnitude(c.w, n, m), n, m);
      });
    }
  });
}

describe('nm matmul shape errors', () => {
  it('names b and both sizes', () => checkMatmulShapeErrors(nm, nmFromDense(Tensor.zeros([2, 6]), 2, 4)));
});

describe('nm validate rejects', () => {
  // 2:5 on [1,7]: groups of width 5 and 2, 3-bit positions, 1 meta byte per group (6 bits used)
  const a = nmFromDense(Tensor.from([0, 1, 0, 2, 0, 3, 4], [1, 7]), 2, 5);
  const meta = (g0: number[], g1: number[]) =>
    Uint8Array.from([g0[0]! | (g0[1]! << 3), g1[0]! | (g1[1]! << 3)]);
  // 4:8 on [1,10]: group 1 has width 2, so slots 2 and 3 are padding
  const p = nmFromDense(Tensor.from([1, 0, 0, 0, 0, 0, 0, 2, 3, 4], [1, 10]), 4, 8);
  const cases: [string, unknown, string, RegExp][] = [
    ['another format tag', broken(a, { format: 'bsr' }), 'format', /format is "bsr" but must be "nm"/],
    ['n ≥ m', broken(a, { n: 5 }), 'n', /n must be an integer in \[1, 4\], got 5/],
    ['m > 16', broken(a, { m: 17 }), 'm', /m must be an integer in \[2, 16\], got 17/],
    [
      'values of the wrong length',
      broken(a, { values: new Float32Array(3) }),
      'values',
      /values has length 3 but must be rows·ceil\(cols\/m\)·n = 4/,
    ],
    [
      'values of the wrong type',
      broken(a, { values: new Float64Array(4) }),
      'values',
      /values must be a Float32Array/,
    ],
    [
      'meta of the wrong length',
      broken(a, { meta: new Uint8Array(3) }),
      'meta',
      /meta has length 3 but must be rows·ceil\(cols\/m\)·metaBytesPerGroup = 2/,
    ],
    [
      'meta of the wrong type',
      broken(a, { meta: new Uint16Array(2) }),
      'meta',
      /meta must be a Uint8Array, got Uint16Array/,
    ],
    [
      'a position ≥ m',
      broken(a, { meta: meta([1, 5], [0, 1]) }),
      'meta',
      /meta\[0\]: slot 1 of row 0 group 0 holds position 5, must be < m = 5/,
    ],
    [
      'a position ≥ the partial width',
      broken(a, { meta: meta([1, 3], [0, 2]) }),
      'meta',
      /meta\[1\]: slot 1 of row 0 group 1 holds position 2, must be < the partial group's width 2/,
    ],
    [
      'decreasing positions',
      broken(a, { meta: meta([3, 1], [0, 1]) }),
      'meta',
      /slot 1 of row 0 group 0 holds position 1, not greater than slot 0's 3/,
    ],
    [
      'repeated positions',
      broken(a, { meta: meta([3, 3], [0, 1]) }),
      'meta',
      /holds position 3, not greater than slot 0's 3 \(must be strictly increasing\)/,
    ],
    [
      'unused meta bits set',
      broken(a, { meta: Uint8Array.from([1 | (3 << 3) | 0x80, 8]) }),
      'meta',
      /meta\[0\] of row 0 group 0 has unused bit 7 set/,
    ],
    [
      'a padding slot with a position',
      broken(p, { meta: Uint8Array.from([...p.meta.subarray(0, 3), 0x01]) }),
      'meta',
      /meta\[2\]: slot 2 of row 0 group 1 holds position 4 but padding slots must hold 0/,
    ],
    [
      'a padding slot with a value',
      broken(p, { values: Float32Array.from([1, 0, 0, 2, 3, 4, 0, 5]) }),
      'values',
      /values\[7\]=5 is padding slot 3 of row 0 group 1 and must be 0/,
    ],
  ];
  for (const [what, bad, field, pattern] of cases) {
    it(what, () => assertFormatError(() => nmValidate(bad as typeof a), field, pattern));
  }

  it('not NaN values (NaN is data)', () => {
    nmValidate(broken(a, { values: Float32Array.from([Number.NaN, 2, 3, 4]) }));
  });
});
