/** Small elementwise and layout helpers on f32 arrays for the nn layers (plain typed-array loops). */

import { Tensor } from '../tensor/tensor.js';

import { addTransposeInto, transposeData } from '../tensor/transpose.js';

export { transposeData };

/** x [R, C] ← x + bias [C] broadcast over rows, in place. */
export function addRowVector(x: Float32Array, bias: Float32Array): void {
  const C = bias.length;
  for (let r = 0; r < x.length; r += C) for (let c = 0; c < C; c++) x[r + c]! += bias[c]!;
}

/** y [R, T] ← y + bias [R] broadcast over columns, in place. */
export function addColumnVector(y: Float32Array, bias: Float32Array): void {
  const R = bias.length;
  const T = y.length / R;
  for (let r = 0; r < R; r++) {
    const b = bias[r]!;
    for (let t = r * T; t < (r + 1) * T; t++) y[t]! += b;
  }
}

/** y [T, C] ← y + srcᵀ for src [C, T] (a feature-major result added to a token-major residual), in place. */
export function addTransposed(y: Float32Array, src: Float32Array, T: number, C: number): void {
  if (T === 1) {
    for (let c = 0; c < C; c++) y[c]! += src[c]!;
    return;
  }
  addTransposeInto(src, C, T, y);
}

/** x [T, C] → xᵀ [C, T] as a Tensor (no copy when T = 1). */
export function transposed(x: Tensor): Tensor {
  const T = x.rows;
  const C = x.cols;
  return T === 1 ? x.reshape([C, 1]) : new Tensor(transposeData(x.data, T, C), [C, T]);
}

/** a ← a + b elementwise, in place (same length). */
export function addInPlace(a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
}

/** The last row of x [T, C] as a new [1, C] tensor. */
export function lastRow(x: Tensor): Tensor {
  const C = x.cols;
  const T = x.rows;
  return new Tensor(x.data.slice((T - 1) * C, T * C), [1, C]);
}

/** Check token ids: integers in [0, limit); `what` names the argument in the error. */
export function checkIds(ids: ArrayLike<number>, limit: number, what: string, fix: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= limit) {
      throw new RangeError(`${what}[${i}] is ${id}; it must be an integer in [0, ${limit}) (${fix})`);
    }
  }
}
