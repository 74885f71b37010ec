/** Row-wise softmax: numerically stable (max-subtracted), SIMD exp, rows split across threads. */

import { Tensor } from '../../tensor/tensor.js';
import { register, resolve } from '../dispatch.js';
import { softmaxRef } from '../reference/softmax.js';
import { runtime } from '../wasm.js';
import { MIN_PARALLEL_WORK } from './dense.js';

/** Rows and columns of x seen as rows along its last axis. */
function rowsOf(x: Tensor): [number, number] {
  const C = x.shape[x.rank - 1]!;
  return [C === 0 ? 0 : x.size / C, C];
}

/**
 * Softmax along the last axis: x [..., C] (e.g. [R,C]) → same shape, each row exp(x − max) / Σ exp(x − max).
 * −∞ entries get probability 0; a row of all −∞ comes out as zeros; NaN or +∞ in a row gives NaN.
 * @example softmax(Tensor.from([0, Math.log(3)], [1, 2])) // [[0.25, 0.75]]
 */
export function softmax(x: Tensor): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError('softmax: x must be a Tensor');
  if (x.rank < 1) throw new RangeError('softmax: x must have at least one axis, got a scalar');
  return resolve<(x: Tensor) => Tensor>('softmax', ['dense'])(x);
}

function softmaxWasm(x: Tensor): Tensor {
  const [R, C] = rowsOf(x);
  const out = Tensor.zeros(x.shape);
  if (x.size === 0) return out;
  const rt = runtime();
  const xp = rt.upload(x.data);
  const yp = rt.alloc(x.size * 4);
  try {
    // ~20 operations per element: exp dominates.
    const ranges = rt.rowRanges(R, 1, R * C * 20, MIN_PARALLEL_WORK);
    rt.parallel('softmax_rows_f32', [xp, yp, R, C], ranges);
    out.data.set(rt.f32(yp, x.size));
    return out;
  } finally {
    rt.free(xp);
    rt.free(yp);
  }
}

function softmaxReference(x: Tensor): Tensor {
  const [R, C] = rowsOf(x);
  const out = Tensor.zeros(x.shape);
  softmaxRef(x.data, out.data, R, C);
  return out;
}

register('softmax', ['dense'], 'fast', softmaxWasm);
register('softmax', ['dense'], 'reference', softmaxReference);
