/**
 * Synthetic tasks for recall and long-context work: multi-query associative recall (MQAR, Arora et al. 2023,
 * "Zoology"), copying, and passkey retrieval (Mohtashami & Jaggi 2023). Each is seeded and deterministic.
 * Token tasks return `inputs` and `labels` of equal length, where labels[t] is the token the model should
 * predict after reading inputs[0..t], and IGNORE (-100, as PyTorch's cross-entropy) where nothing is scored.
 */

import { rng } from '../tensor/random.js';

/** The label of a position that is not scored. */
export const IGNORE = -100;

/** A token sequence with per-position targets. */
export interface TokenExample {
  readonly inputs: Int32Array;
  readonly labels: Int32Array;
}

/** Options of {@link mqar}; defaults as Zoology's MQARConfig. */
export interface MqarOptions {
  vocabSize: number;
  seqLen: number;
  /** Distinct key–value pairs per example (default 8). */
  numKvPairs?: number;
  /** Times the key–value block is repeated before the queries (JRT; default 1). */
  numPasses?: number;
  /** Power-law exponent of the gap between a pair and its query (default 0.01; 1 = uniform). */
  powerA?: number;
  /** Fill the non-query positions after the pairs with random tokens instead of 0 (default true). */
  randomNonQueries?: boolean;
  seed: number;
}

/** `size` distinct integers from [0, weights.length), drawn one at a time with probability ∝ weight (numpy's choice without replacement). */
function weightedSample(weights: Float64Array, size: number, next: () => number): number[] {
  const w = weights.slice();
  let total = w.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  for (let s = 0; s < size; s++) {
    let u = next() * total;
    let i = 0;
    while (i < w.length - 1 && (u >= w[i]! || w[i] === 0)) {
      u -= w[i]!;
      i++;
    }
    while (w[i] === 0) i--; // rounding at the end of the range
    out.push(i);
    total -= w[i]!;
    w[i] = 0;
  }
  return out;
}

/**
 * Multi-query associative recall, as Zoology generates it: keys from [1, V/2), values from [V/2, V), each key
 * once; the pairs k₁ v₁ … k_n v_n (repeated numPasses times) come first, then each key is asked again at an
 * even offset 2·gap after the pairs, gaps drawn without replacement with p(gap) ∝ a·(gap+1)^(a−1); the label
 * at a query key's position is its value.
 * @example const { inputs, labels } = mqar({ vocabSize: 8192, seqLen: 256, numKvPairs: 16, seed: 1 });
 */
export function mqar(opts: MqarOptions): TokenExample {
  const { vocabSize: V, seqLen: L, numKvPairs: n = 8, numPasses = 1, powerA = 0.01, seed } = opts;
  const randomNonQueries = opts.randomNonQueries ?? true;
  if (!Number.isInteger(L) || L % 2 !== 0 || L < 2)
    throw new RangeError(`mqar: seqLen must be an even integer ≥ 2, got ${L}`);
  if (!Number.isInteger(V) || V <= L)
    throw new RangeError(`mqar: vocabSize must be an integer > seqLen (${L}), got ${V}`);
  if (!Number.isInteger(n) || n < 1 || n > Math.floor(V / 2) - 1) {
    throw new RangeError(`mqar: numKvPairs must be an integer in [1, ${Math.floor(V / 2) - 1}], got ${n}`);
  }
  const context = n * 2 * numPasses;
  if (context + n * 2 > L) {
    throw new RangeError(
      `mqar: ${n} pairs × ${numPasses} passes plus ${n} queries need seqLen ≥ ${context + 2 * n}, got ${L}`,
    );
  }
  if (!(powerA > 0)) throw new RangeError(`mqar: powerA must be > 0, got ${powerA}`);
  const next = rng(seed);
  const half = Math.floor(V / 2);
  const keys = weightedSample(new Float64Array(half - 1).fill(1), n, next).map((k) => k + 1);
  const values = weightedSample(new Float64Array(V - half).fill(1), n, next).map((v) => v + half);
  const space = (L - context) / 2;
  const p = new Float64Array(space);
  for (let g = 0; g < space; g++) p[g] = powerA * (g + 1) ** (powerA - 1);
  const gaps = weightedSample(p, n, next);

  const seq = new Int32Array(L + 1);
  for (let pass = 0; pass < numPasses; pass++) {
    for (let i = 0; i < n; i++) {
      seq[pass * 2 * n + 2 * i] = keys[i]!;
      seq[pass * 2 * n + 2 * i + 1] = values[i]!;
    }
  }
  const labels = new Int32Array(L).fill(IGNORE);
  gaps.forEach((g, i) => {
    seq[context + 2 * g] = keys[i]!;
    labels[context + 2 * g] = values[i]!;
  });
  const inputs = seq.slice(0, L);
  if (randomNonQueries) for (let t = 0; t < L; t++) if (inputs[t] === 0) inputs[t] = Math.floor(next() * V);
  return { inputs, labels };
}

/**
 * Copying: `length` random tokens from [2, vocabSize), the separator 1, then the same tokens again; only the
 * copy is scored (the label at the separator is the first token, and so on).
 */
export function copyTask(opts: { vocabSize: number; length: number; seed: number }): TokenExample {
  const { vocabSize: V, length: n, seed } = opts;
  if (!Number.isInteger(V) || V < 3)
    throw new RangeError(`copyTask: vocabSize must be an integer ≥ 3, got ${V}`);
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`copyTask: length must be an integer ≥ 1, got ${n}`);
  const next = rng(seed);
  const src = Array.from({ length: n }, () => 2 + Math.floor(next() * (V - 2)));
  const inputs = Int32Array.from([...src, 1, ...src.slice(0, n - 1)]);
  const labels = new Int32Array(2 * n).fill(IGNORE);
  for (let i = 0; i < n; i++) labels[n + i] = src[i]!;
  return { inputs, labels };
}

/** A passkey-retrieval prompt (Landmark Attention's wording). */
export interface PasskeyPrompt {
  readonly prompt: string;
  /** The digits the model should continue with. */
  readonly answer: string;
  /** Where the key sits, as a fraction of the filler (0 = start, 1 = end). */
  readonly depth: number;
}

const PASSKEY_TASK =
  'There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. ' +
  'I will quiz you about the important information there.';
const PASSKEY_FILLER =
  'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.';

/**
 * The passkey test of Mohtashami & Jaggi (2023): `fillerRepeats` copies of the filler sentence with
 * "The pass key is K. Remember it. K is the pass key." inserted at `depth`, then "What is the pass key? The
 * pass key is". The key has `digits` random digits (default 5).
 */
export function passkeyPrompt(opts: {
  fillerRepeats: number;
  depth?: number;
  digits?: number;
  seed: number;
}): PasskeyPrompt {
  const { fillerRepeats, digits = 5, seed } = opts;
  if (!Number.isInteger(fillerRepeats) || fillerRepeats < 0) {
    throw new RangeError(`passkeyPrompt: fillerRepeats must be an integer ≥ 0, got ${fillerRepeats}`);
  }
  if (!Number.isInteger(digits) || digits < 1 || digits > 15) {
    throw new RangeError(`passkeyPrompt: digits must be an integer in [1, 15], got ${digits}`);
  }
  const next = rng(seed);
  const depth = opts.depth ?? next();
  if (!(depth >= 0 && depth <= 1))
    throw new RangeError(`passkeyPrompt: depth must be in [0, 1], got ${depth}`);
  let answer = String(1 + Math.floor(next() * 9));
  while (answer.length < digits) answer += String(Math.floor(next() * 10));
  const at = Math.round(depth * fillerRepeats);
  const parts = [PASSKEY_TASK];
  for (let i = 0; i <= fillerRepeats; i++) {
    if (i === at) parts.push(`The pass key is ${answer}. Remember it. ${answer} is the pass key.`);
    if (i < fillerRepeats) parts.push(PASSKEY_FILLER);
  }
  parts.push('What is the pass key? The pass key is');
  return { prompt: parts.join(' '), answer, depth };
}
