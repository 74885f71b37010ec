/**
 * Logits warpers and token choice, as transformers applies them when sampling (generation/logits_process.py):
 * temperature → top-k → top-p, then softmax and one multinomial draw. Each warper takes one row of
 * logits [vocab] and returns a new row where removed tokens are −∞.
 */

import { topk } from '../backend/ops/select.js';
import { Tensor } from '../tensor/tensor.js';

/** Divide every logit by `temperature` (> 0), like TemperatureLogitsWarper. */
export function applyTemperature(logits: Float32Array, temperature: number): Float32Array {
  if (!(temperature > 0 && Number.isFinite(temperature))) {
    throw new RangeError(`applyTemperature: temperature must be a finite number > 0, got ${temperature}`);
  }
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! / temperature;
  return out;
}

/**
 * Keep the k highest logits (and every logit tied with the k-th), set the rest to −∞, like TopKLogitsWarper
 * (`scores < topk(scores, k).values[-1]` are removed; k is capped at the vocabulary size).
 * Uses the selection op `topk` to find the k-th largest value.
 */
export function topKFilter(logits: Float32Array, k: number): Float32Array {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`topKFilter: k must be an integer ≥ 1, got ${k}`);
  const n = logits.length;
  if (k >= n) return logits.slice();
  // The selection op needs finite scores: −∞ (already removed) becomes the lowest finite f32.
  const finite = new Float32Array(n);
  for (let i = 0; i < n; i++) finite[i] = Math.max(logits[i]!, -3.4028234663852886e38);
  const { values } = topk(new Tensor(finite, [n]), k);
  let kth = Infinity;
  for (const v of values) if (v < kth) kth = v;
  const out = logits.slice();
  for (let i = 0; i < n; i++) if (out[i]! < kth) out[i] = -Infinity;
  return out;
}

/** Softmax of one row in f64 (−∞ → 0). */
export function softmaxRow(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const p = new Float64Array(logits.length);
  if (max === -Infinity) return p;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max);
    p[i] = e;
    sum += e;
  }
  for (let i = 0; i < p.length; i++) p[i]! /= sum;
  return p;
}

/**
 * Nucleus filtering, like TopPLogitsWarper: sort ascending, remove the tokens whose cumulative probability
 * (from the least likely up) is ≤ 1 − p, always keep the most likely token. What remains is the smallest
 * set of most likely tokens whose probability reaches p. Ties sort by index (the lower index counts as
 * more likely), so the result is deterministic.
 */
export function topPFilter(logits: Float32Array, p: number): Float32Array {
  if (!(p > 0 && p <= 1)) throw new RangeError(`topPFilter: p must be in (0, 1], got ${p}`);
  if (p === 1) return logits.slice();
  const probs = softmaxRow(logits);
  const out = logits.slice();
  // Tokens of probability 0 (already −∞) sort first with cumulative 0 ≤ 1 − p: removed; sort only the rest.
  const order: number[] = [];
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! > 0) order.push(i);
    else out[i] = -Infinity;
  }
  order.sort((a, b) => probs[a]! - probs[b]! || b - a); // ascending probability
  let cumulative = 0;
  for (let j = 0; j < order.length - 1; j++) {
    const i = order[j]!;
    cumulative += probs[i]!;
    if (cumulative <= 1 - p) out[i] = -Infinity;
    else break; // cumulative only grows from here: everything after is kept
  }
  return out;
}

/** Index of the largest logit, the first one on ties (torch.argmax). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** One draw from the distribution `probs` (sums to 1) with a uniform number u in [0, 1). */
export function sampleIndex(probs: Float64Array, u: number): number {
  let total = 0;
  for (const v of probs) total += v;
  const target = u * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! <= 0) continue;
    cumulative += probs[i]!;
    last = i;
    if (target < cumulative) return i;
  }
  if (last < 0) throw new RangeError('sampleIndex: every token has probability 0 (all logits are −∞ or NaN)');
  return last; // rounding: u·total landed on the final sum
}

/** How the next token is chosen. */
export interface SamplingOptions {
  /** Sample (true) or take the most likely token (false, greedy). */
  doSample: boolean;
  /** Divide logits by this before sampling (> 0); 1 leaves them. */
  temperature: number;
  /** Keep only the k most likely tokens; 0 disables. */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 disables. */
  topP: number;
}

/** Check sampling options; errors name the option and the accepted range. */
export function checkSampling(s: SamplingOptions): void {
  if (!(s.temperature > 0 && Number.isFinite(s.temperature)))
    throw new RangeError(
      `sampling: temperature must be > 0 (use doSample: false for greedy), got ${s.temperature}`,
    );
  if (!Number.isInteger(s.topK) || s.topK < 0)
    throw new RangeError(`sampling: topK must be an integer ≥ 0 (0 disables it), got ${s.topK}`);
  if (!(s.topP > 0 && s.topP <= 1))
    throw new RangeError(`sampling: topP must be in (0, 1] (1 disables it), got ${s.topP}`);
}

/**
 * The next token from one row of logits [vocab]: argmax when greedy; otherwise temperature → top-k → top-p
 * (each skipped at its neutral value, as transformers does), softmax, and a draw with `random()` ∈ [0, 1).
 */
export function chooseToken(logits: Float32Array, s: SamplingOptions, random: () => number): number {
  if (!s.doSample) return argmax(logits);
  let x = logits;
  if (s.temperature !== 1) x = applyTemperature(x, s.temperature);
  if (s.topK > 0) x = topKFilter(x, s.topK);
  if (s.topP < 1) x = topPFilter(x, s.topP);
  return sampleIndex(softmaxRow(x), random());
}
