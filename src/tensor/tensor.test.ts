import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  fromBf16,
  fromF16,
  toBf16,
  toF16,
  writeBf16,
  writeF16,
} from './dtype.js';
import { randn, sparsify } from './random.js';
import { Tensor } from './tensor.js';

test('Tensor: shape is checked against data and indexing is row-major', () => {
  const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.equal(t.get(1, 0), 4);
  assert.deepEqual([...t.transpose().data], [1, 4, 2, 5, 3, 6]);
  assert.throws(
    () => new Tensor(new Float32Array(5), [2, 3]),
    /data has 5 elements but shape \[2, 3\] needs 6/,
  );
  assert.throws(() => Tensor.zeros([2, -1]), /non-negative integers/);
  assert.throws(() => t.get(2, 0), /index 2 out of range for dim 0 of size 2/);
});

test('f16: exact values round-trip, rounding is to nearest even, range edges saturate', () => {
  for (const v of [0, 1, -2, 0.5, 65504, 2 ** -14, 2 ** -24, 3.140625]) {
    assert.equal(f16BitsToF32(f32ToF16Bits(v)), v);
  }
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // halfway between 1 and next: ties to even (1)
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // halfway, rounds up to even
  assert.equal(f16BitsToF32(f32ToF16Bits(1e6)), Number.POSITIVE_INFINITY);
  assert.equal(f16BitsToF32(f32ToF16Bits(2 ** -26)), 0);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(Number.NaN))));
  assert.equal(Object.is(f16BitsToF32(f32ToF16Bits(-0)), -0), true);
});

test('f16/bf16 arrays: relative error within half an ulp of the format', () => {
  const x = randn([10000], 5).data;
  const h = fromF16(toF16(x));
  const b = fromBf16(toBf16(x));
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (Math.abs(v) > 2 ** -14)
      assert.ok(Math.abs(h[i]! - v) <= Math.abs(v) * 2 ** -11, `f16 ${v} → ${h[i]}`);
    assert.ok(Math.abs(b[i]! - v) <= Math.abs(v) * 2 ** -8, `bf16 ${v} → ${b[i]}`);
    assert.equal(b[i], bf16BitsToF32(f32ToBf16Bits(v)));
  }
});

test('writeBf16 / writeF16: the bits of the scalar converters for every kind of f32, written at an offset', () => {
  // random bit patterns (NaNs, infinities, subnormals, ties) plus the edges of each exponent range
  const bits = new Uint32Array(20000);
  let s = 12345;
  for (let i = 0; i < bits.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    bits[i] = (s ^ (s << 13) ^ (i << 16)) >>> 0;
  }
  bits.set([
    0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffffffff, 0x7fffffff, 0x7f7fffff, 0x00018000,
  ]);
  bits.set([0x3f808000, 0x3f818000, 0x477fefff, 0x477ff000, 0x33000000, 0x387fc000], 9);
  const x = new Float32Array(bits.buffer);
  const b = new Uint16Array(x.length + 3).fill(7);
  const h = new Uint16Array(x.length + 3).fill(7);
  writeBf16(x, b, 3);
  writeF16(x, h, 3);
  assert.deepEqual([...b.subarray(0, 3), ...h.subarray(0, 3)], [7, 7, 7, 7, 7, 7]);
  for (let i = 0; i < x.length; i++) {
    const what = `of bits 0x${bits[i]!.toString(16)}`;
    // a NaN's payload may not survive a JS number: its expected bf16 comes from the bits (kept, made quiet)
    if (Number.isNaN(x[i])) assert.equal(b[3 + i], (bits[i]! >>> 16) | 0x40, `bf16 ${what}`);
    else {
      assert.equal(b[3 + i], f32ToBf16Bits(x[i]!), `bf16 ${what}`);
      assert.equal(h[3 + i], f32ToF16Bits(x[i]!), `f16 ${what}`);
    }
  }
});

test('sparsify: exactly round(n·s) zeros, deterministic per seed', () => {
  const t = randn([50, 40], 9);
  const s = sparsify(t, 0.75, 3);
  assert.equal(s.data.filter((v) => v === 0).length, 1500);
  assert.deepEqual(s.data, sparsify(t, 0.75, 3).data);
  assert.throws(() => sparsify(t, 1.5), /sparsity must be in \[0,1\]/);
});
