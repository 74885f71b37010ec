/** Layout rules: reshape, permute (any axis order), transpose, slicing and concatenation along an axis. */

import { type Shape, sizeOf, Tensor } from '../tensor/tensor.js';
import { transposeData } from '../tensor/transpose.js';
import { accumulate, record, type Var } from './tape.js';

export { transposeData };

/** Same data, new shape with the same number of elements (one dim may be −1). */
export function reshape(x: Var, shape: Shape): Var {
  const known = shape.filter((d) => d !== -1);
  const free = shape.length - known.length;
  const resolved =
    free === 1 ? shape.map((d) => (d === -1 ? x.size / Math.max(1, sizeOf(known)) : d)) : [...shape];
  if (free > 1 || sizeOf(resolved) !== x.size || !resolved.every(Number.isInteger)) {
    throw new RangeError(`reshape: cannot view [${x.shape.join(', ')}] as [${shape.join(', ')}]`);
  }
  return record(new Tensor(x.value.data, resolved), [x], (g) => accumulate(x, g));
}

/** Strides of a row-major shape. */
function strides(shape: Shape): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** out = x with axes reordered: out.shape[i] = x.shape[axes[i]]; `inverse` scatters back instead. */
function permuteData(
  src: Float32Array,
  shape: Shape,
  axes: readonly number[],
  inverse: boolean,
): Float32Array {
  const outShape = axes.map((a) => shape[a]!);
  const inStrides = strides(shape);
  const permStrides = axes.map((a) => inStrides[a]!);
  const out = new Float32Array(src.length);
  const idx = new Array<number>(outShape.length).fill(0);
  const rank = outShape.length;
  for (let o = 0; o < src.length; o++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += idx[d]! * permStrides[d]!;
    if (inverse) out[off] = src[o]!;
    else out[o] = src[off]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** x with its axes reordered: out.shape[i] = x.shape[axes[i]] (e.g. [T,H,d] → [H,T,d] with [1,0,2]). */
export function permute(x: Var, axes: readonly number[]): Var {
  const rank = x.shape.length;
  const sorted = [...axes].sort((a, b) => a - b);
  if (axes.length !== rank || sorted.some((a, i) => a !== i)) {
    throw new RangeError(`permute: axes [${axes.join(', ')}] must be a permutation of 0…${rank - 1}`);
  }
  const outShape = axes.map((a) => x.shape[a]!);
  const out = permuteData(x.value.data, x.shape, axes, false);
  return record(new Tensor(out, outShape), [x], (g) => {
    accumulate(x, permuteData(g.data, x.shape, axes, true));
  });
}

/** Transpose of a rank-2 Var [R,C] → [C,R]. */
export function transpose(x: Var): Var {
  if (x.shape.length !== 2) throw new RangeError(`transpose: needs rank 2, got [${x.shape.join(', ')}]`);
  const [r, c] = x.shape as [number, number];
  return record(new Tensor(transposeData(x.value.data, r, c), [c, r]), [x], (g) => {
    accumulate(x, transposeData(g.data, c, r));
  });
}

/** Outer count, axis length and inner count of `axis` in `shape`. */
function around(shape: Shape, axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis]!, sizeOf(shape.slice(axis + 1))];
}

function checkAxis(shape: Shape, axis: number, op: string): number {
  const a = axis < 0 ? shape.length + axis : axis;
  if (!Number.isInteger(a) || a < 0 || a >= shape.length) {
    throw new RangeError(`${op}: axis ${axis} is out of range for shape [${shape.join(', ')}]`);
  }
  return a;
}

/** x[..., start:end, ...] along `axis` (default the last). E.g. split a fused qkv [T, 3D]. */
export function slice(x: Var, start: number, end: number, axis = -1): Var {
  const a = checkAxis(x.shape, axis, 'slice');
  const [outer, n, inner] = around(x.shape, a);
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
    throw new RangeError(`slice: need 0 ≤ start ≤ end ≤ ${n} on axis ${a}, got ${start}…${end}`);
  }
  const w = end - start;
  const out = new Float32Array(outer * w * inner);
  const src = x.value.data;
  for (let o = 0; o < outer; o++)
    out.set(src.subarray((o * n + start) * inner, (o * n + end) * inner), o * w * inner);
  const shape = x.shape.map((d, i) => (i === a ? w : d));
  return record(new Tensor(out, shape), [x], (g) => {
    const gx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++)
      gx.set(g.data.subarray(o * w * inner, (o + 1) * w * inner), (o * n + start) * inner);
    accumulate(x, gx);
  });
}

/** Concatenate along `axis` (default the last); every other dim must agree. */
export function concat(xs: readonly Var[], axis = -1): Var {
  if (xs.length === 0) throw new RangeError('concat: needs at least one Var');
  const first = xs[0]!;
  const a = checkAxis(first.shape, axis, 'concat');
  for (const x of xs) {
    const same =
      x.shape.length === first.shape.length && x.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!same) {
      throw new RangeError(
        `concat: shapes [${first.shape.join(', ')}] and [${x.shape.join(', ')}] differ off axis ${a}`,
      );
    }
  }
  const [outer, , inner] = around(first.shape, a);
  const widths = xs.map((x) => x.shape[a]! * inner);
  const total = widths.reduce((s, w) => s + w, 0);
  const out = new Float32Array(outer * total);
  let at = 0;
  xs.forEach((x, j) => {
    const w = widths[j]!;
    for (let o = 0; o < outer; o++) out.set(x.value.data.subarray(o * w, (o + 1) * w), o * total + at);
    at += w;
  });
  const shape = first.shape.map((d, i) => (i === a ? total / inner : d));
  return record(new Tensor(out, shape), xs, (g) => {
    let off = 0;
    xs.forEach((x, j) => {
      const w = widths[j]!;
      if (x.requiresGrad) {
        const gx = new Float32Array(outer * w);
        for (let o = 0; o < outer; o++) gx.set(g.data.subarray(o * total + off, o * total + off + w), o * w);
        accumulate(x, gx);
      }
      off += w;
    });
  });
}
