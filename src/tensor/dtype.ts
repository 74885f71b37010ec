/** Storage dtypes and f32 ⇄ f16 / bf16 conversion (compute is always f32). */

export type DType = 'f32' | 'f16' | 'bf16';

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Round one f32 to the nearest IEEE binary16 bit pattern (round-half-to-even, overflow to ±Inf, NaN kept). */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let out = m >>> shift;
    if (rest > half || (rest === half && (out & 1) === 1)) out += 1;
    return sign | out;
  }
  let out = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1) === 1)) out += 1;
  return sign | out;
}

/** Decode one binary16 bit pattern to a number. */
export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Round one f32 to the nearest bfloat16 bit pattern (round-half-to-even, NaN kept quiet). */
export function f32ToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Decode one bfloat16 bit pattern to a number. */
export function bf16BitsToF32(bits: number): number {
  u32Scratch[0] = (bits & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** Encode an f32 array as f16 bits. */
export function toF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  writeF16(src, out, 0);
  return out;
}

/** dst[at, at + src.length) ← src encoded as f16 bits (toF16 with no new array). */
export function writeF16(src: Float32Array, dst: Uint16Array, at: number): void {
  for (let i = 0; i < src.length; i++) dst[at + i] = f32ToF16Bits(src[i]!);
}

/** Decode f16 bits to f32. */
export function fromF16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]!);
  return out;
}

/** Encode an f32 array as bf16 bits. */
export function toBf16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  writeBf16(src, out, 0);
  return out;
}

/** dst[at, at + src.length) ← src encoded as bf16 bits (toBf16 with no new array). */
export function writeBf16(src: Float32Array, dst: Uint16Array, at: number): void {
  const bits = new Int32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i]!;
    const hi = x >>> 16;
    // NaN stays quiet; else round half to even: (x + 0x7fff + lsb) >> 16 in small integers (wraps at 0xffff)
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) dst[at + i] = hi | 0x40;
    else dst[at + i] = hi + (((x & 0xffff) + 0x7fff + (hi & 1)) >>> 16);
  }
}

/** Decode bf16 bits to f32 (exact: bf16 is the top half of an f32). */
export function fromBf16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** Bytes per element of a storage dtype. */
export function dtypeBytes(dtype: DType): number {
  return dtype === 'f32' ? 4 : 2;
}
