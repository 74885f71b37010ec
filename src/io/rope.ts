/**
 * RoPE inverse frequencies for a RopeConfig, computed step by step in f32 as transformers computes them
 * in torch float32 (modeling_rope_utils.py: `_compute_default_rope_parameters`,
 * `_compute_linear_scaling_rope_parameters`, `_compute_llama3_parameters`).
 */

import type { RopeConfig } from './config.js';

const f = Math.fround;

/**
 * inv_freq [headDim / 2] for rotary embeddings over `headDim` channels (HF `rotate_half` convention:
 * channel i and i + d/2 rotate together by angle position · inv_freq[i]).
 *
 * - default: inv_freq[i] = 1 / theta^(2i / d)
 * - linear: default / factor
 * - llama3: with wavelen = 2π / inv_freq, L = original_max_position_embeddings: wavelen < L / high_freq_factor
 *   keeps inv_freq; wavelen > L / low_freq_factor divides it by factor; in between it blends
 *   (1 − s) · inv_freq / factor + s · inv_freq with s = (L / wavelen − low) / (high − low).
 */
export function ropeInverseFrequencies(rope: RopeConfig, headDim: number): Float32Array {
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new RangeError(`ropeInverseFrequencies: headDim must be an even integer ≥ 2, got ${headDim}`);
  }
  const half = headDim / 2;
  const inv = new Float32Array(half);
  const base = f(rope.theta);
  // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), every step rounded to f32
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(base ** f((2 * i) / headDim)));
  // torch evaluates `scalar / tensor` as tensor.reciprocal() * scalar and casts Python scalars to f32.
  if (rope.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = f(inv[i]! / f(rope.factor));
  } else if (rope.type === 'llama3') {
    const factor = f(rope.factor);
    const low = f(rope.lowFreqFactor);
    const old = f(rope.originalMaxPositionEmbeddings);
    const span = f(rope.highFreqFactor - rope.lowFreqFactor);
    const lowWavelen = f(rope.originalMaxPositionEmbeddings / rope.lowFreqFactor);
    const highWavelen = f(rope.originalMaxPositionEmbeddings / rope.highFreqFactor);
    const twoPi = f(2 * Math.PI);
    for (let i = 0; i < half; i++) {
      const x = inv[i]!;
      const wavelen = f(f(1 / x) * twoPi);
      if (wavelen > lowWavelen) inv[i] = f(x / factor);
      else if (wavelen >= highWavelen) {
        const s = f(f(f(f(1 / wavelen) * old) - low) / span);
        inv[i] = f(f(f(f(1 - s) * x) / factor) + f(s * x));
      }
    }
  }
  return inv;
}
