/**
 * Calibration data (card 0.2): N sequences of exactly T tokens, random windows of a tokenized text drawn with a
 * seeded generator. The default is 128 × 512 tokens of the Brown training split.
 */

import type { Tokenizer } from '../io/tokenizer.js';
import { rng } from '../tensor/random.js';

/** How many calibration sequences, how long, and the sampling seed. */
export interface CalibrationOptions {
  /** Sequences N (default 128). */
  count?: number;
  /** Tokens per sequence T (default 512). */
  length?: number;
  /** Seed of the window sampler (default 0). */
  seed?: number;
}

export const CALIBRATION_DEFAULTS = Object.freeze({ count: 128, length: 512, seed: 0 });

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1)
    throw new RangeError(`calibration: ${what} must be a positive integer, got ${v}`);
  return v;
}

/** N windows of T consecutive ids, each starting at a uniformly random offset of the stream. */
export function sampleWindows(ids: ArrayLike<number>, opts: CalibrationOptions = {}): number[][] {
  const N = positiveInt(opts.count ?? CALIBRATION_DEFAULTS.count, 'count');
  const T = positiveInt(opts.length ?? CALIBRATION_DEFAULTS.length, 'length');
  if (ids.length < T) {
    throw new RangeError(
      `calibration: the text has ${ids.length} tokens, fewer than one sequence of ${T}; give a longer text or a smaller sequence length`,
    );
  }
  const next = rng(opts.seed ?? CALIBRATION_DEFAULTS.seed);
  const out: number[][] = [];
  for (let n = 0; n < N; n++) {
    const start = Math.floor(next() * (ids.length - T + 1));
    out.push(Array.from({ length: T }, (_, t) => ids[start + t]!));
  }
  return out;
}

/**
 * Tokenize `text` (in paragraph-aligned chunks of about 64 kB, without special tokens) and sample calibration
 * windows from it.
 */
export function calibrationFromText(
  text: string,
  tokenizer: Tokenizer,
  opts: CalibrationOptions = {},
): number[][] {
  const ids: number[] = [];
  const CHUNK = 1 << 16;
  for (let i = 0; i < text.length; ) {
    let j = Math.min(text.length, i + CHUNK);
    if (j < text.length) {
      const nl = text.lastIndexOf('\n', j);
      if (nl > i) j = nl + 1;
    }
    for (const id of tokenizer.encode(text.slice(i, j), { addSpecialTokens: false })) ids.push(id);
    i = j;
  }
  return sampleWindows(ids, opts);
}
