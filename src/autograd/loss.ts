/** Softmax, log-softmax and cross-entropy over the last axis (row by row, in f64). */

import { Tensor } from '../tensor/tensor.js';
import { accumulate, record, type Var } from './tape.js';

/** log Σ exp of row r (length n at offset o), max-shifted. */
function logSumExp(x: Float32Array, o: number, n: number): number {
  let mx = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) mx = Math.max(mx, x[o + i]!);
  if (mx === Number.NEGATIVE_INFINITY) return mx;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[o + i]! - mx);
  return mx + Math.log(s);
}

/** softmax over the last axis. Backward: dx = y ⊙ (dy − Σ dy·y). */
export function softmax(x: Var): Var {
  const n = x.shape[x.shape.length - 1]!;
  const xd = x.value.data;
  const y = new Float32Array(x.size);
  for (let o = 0; o < x.size; o += n) {
    const lse = logSumExp(xd, o, n);
    for (let i = 0; i < n; i++) y[o + i] = Math.exp(xd[o + i]! - lse);
  }
  return record(new Tensor(y, x.shape), [x], (g) => {
    const dx = new Float32Array(x.size);
    for (let o = 0; o < x.size; o += n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += g.data[o + i]! * y[o + i]!;
      for (let i = 0; i < n; i++) dx[o + i] = y[o + i]! * (g.data[o + i]! - s);
    }
    accumulate(x, dx);
  });
}

/** log softmax over the last axis. Backward: dx = dy − softmax · Σ dy. */
export function logSoftmax(x: Var): Var {
  const n = x.shape[x.shape.length - 1]!;
  const xd = x.value.data;
  const y = new Float32Array(x.size);
  for (let o = 0; o < x.size; o += n) {
    const lse = logSumExp(xd, o, n);
    for (let i = 0; i < n; i++) y[o + i] = xd[o + i]! - lse;
  }
  return record(new Tensor(y, x.shape), [x], (g) => {
    const dx = new Float32Array(x.size);
    for (let o = 0; o < x.size; o += n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += g.data[o + i]!;
      for (let i = 0; i < n; i++) dx[o + i] = g.data[o + i]! - Math.exp(y[o + i]!) * s;
    }
    accumulate(x, dx);
  });
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (not counted in the mean). Default −100, as PyTorch. */
  ignoreIndex?: number;
}

/**
 * Mean over rows of −log softmax(logits)[target], skipping rows whose target is `ignoreIndex`.
 * logits [..., V], targets one integer per row. Returns shape [1]; 0 (and zero gradients) when every
 * row is ignored. Backward: (softmax − onehot) / counted rows.
 */
export function crossEntropy(
  logits: Var,
  targets: ArrayLike<number>,
  { ignoreIndex = -100 }: CrossEntropyOptions = {},
): Var {
  const V = logits.shape[logits.shape.length - 1]!;
  const R = logits.size / V;
  if (targets.length !== R) {
    throw new RangeError(`crossEntropy: got ${targets.length} targets for ${R} rows of logits (one per row)`);
  }
  const xd = logits.value.data;
  const lse = new Float64Array(R);
  let total = 0;
  let count = 0;
  for (let r = 0; r < R; r++) {
    const t = targets[r]!;
    if (t === ignoreIndex) continue;
    if (!Number.isInteger(t) || t < 0 || t >= V) {
      throw new RangeError(
        `crossEntropy: targets[${r}] is ${t}; it must be an integer in [0, ${V}) or ignoreIndex ${ignoreIndex}`,
      );
    }
    lse[r] = logSumExp(xd, r * V, V);
    total += lse[r]! - xd[r * V + t]!;
    count++;
  }
  const loss = count === 0 ? 0 : total / count;
  return record(Tensor.from([loss]), [logits], (g) => {
    const dx = new Float32Array(logits.size);
    if (count > 0) {
      const c = g.data[0]! / count;
      for (let r = 0; r < R; r++) {
        const t = targets[r]!;
        if (t === ignoreIndex) continue;
        const o = r * V;
        for (let i = 0; i < V; i++) dx[o + i] = c * Math.exp(xd[o + i]! - lse[r]!);
        dx[o + t]! -= c;
      }
    }
    accumulate(logits, dx);
  });
}
