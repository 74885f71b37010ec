/** Embedding lookup (gather rows) with its scatter-add backward, and dropout with a seeded generator. */

import { Tensor } from '../tensor/tensor.js';
import type { Rng } from './rng.js';
import { accumulate, record, type Var } from './tape.js';

/** Rows `ids` of table [V, D] → [ids.length, D]. Backward scatter-adds each row's gradient into its id's row. */
export function embedding(table: Var, ids: ArrayLike<number>): Var {
  if (table.shape.length !== 2)
    throw new RangeError(`embedding: table must be [V, D], got [${table.shape.join(', ')}]`);
  const [V, D] = table.shape as [number, number];
  const out = new Float32Array(ids.length * D);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new RangeError(
        `embedding: ids[${t}] is ${id}; it must be an integer in [0, ${V}) (the table's rows)`,
      );
    }
    out.set(table.value.data.subarray(id * D, id * D + D), t * D);
  }
  return record(new Tensor(out, [ids.length, D]), [table], (g) => {
    const gt = new Float32Array(table.size);
    for (let t = 0; t < ids.length; t++) {
      const o = ids[t]! * D;
      for (let i = 0; i < D; i++) gt[o + i]! += g.data[t * D + i]!;
    }
    accumulate(table, gt);
  });
}

/**
 * Inverted dropout: zero each element with probability p and scale the rest by 1/(1−p), drawing from `rng`
 * (so a seed fixes the mask). p = 0 returns x unchanged.
 */
export function dropout(x: Var, p: number, rng: Rng): Var {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const keep = new Float32Array(x.size);
  const s = 1 / (1 - p);
  for (let i = 0; i < x.size; i++) keep[i] = rng.next() < p ? 0 : s;
  const out = new Float32Array(x.size);
  for (let i = 0; i < x.size; i++) out[i] = x.value.data[i]! * keep[i]!;
  return record(new Tensor(out, x.shape), [x], (g) => {
    const gx = new Float32Array(x.size);
    for (let i = 0; i < x.size; i++) gx[i] = g.data[i]! * keep[i]!;
    accumulate(x, gx);
  });
}

/**
 * Rotary embedding, transformers' rotate_half convention, on x [H, T, d] whose row t sits at position
 * start + t: x[i] ← x[i]·cos − x[i+d/2]·sin, x[i+d/2] ← x[i+d/2]·cos + x[i]·sin, angle = f32(pos·invFreq[i]).
 * Backward is the inverse rotation.
 */
export function rope(x: Var, invFreq: Float32Array, start = 0): Var {
  const [H, T, d] = x.shape as [number, number, number];
  const half = d / 2;
  if (x.shape.length !== 3 || invFreq.length !== half) {
    throw new RangeError(
      `rope: x must be [H, T, d] with d = 2·invFreq.length = ${2 * invFreq.length}, got [${x.shape.join(', ')}]`,
    );
  }
  const cos = new Float32Array(T * half);
  const sin = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround((start + t) * invFreq[i]!);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  const rotate = (src: Float32Array, sign: number): Float32Array => {
    const out = new Float32Array(src.length);
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const row = (h * T + t) * d;
        for (let i = 0; i < half; i++) {
          const a = src[row + i]!;
          const b = src[row + half + i]!;
          const c = cos[t * half + i]!;
          const s = sign * sin[t * half + i]!;
          out[row + i] = a * c - b * s;
          out[row + half + i] = b * c + a * s;
        }
      }
    }
    return out;
  };
  return record(new Tensor(rotate(x.value.data, 1), x.shape), [x], (g) => accumulate(x, rotate(g.data, -1)));
}
