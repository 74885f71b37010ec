/** Learning-rate schedules and gradient clipping. */

import type { Var } from '../autograd/tape.js';

/** Options of {@link warmupCosine}. */
export interface WarmupCosineOptions {
  /** Peak learning rate, reached at the end of warmup. */
  peak: number;
  /** Linear warmup steps (lr = peak·(step+1)/warmup for step < warmup). */
  warmup: number;
  /** Step at which the cosine reaches `floor` (it stays there after). */
  total: number;
  /** Final learning rate, default 0. */
  floor?: number;
}

/**
 * Linear warmup then cosine decay (nanoGPT's schedule): step counts from 0;
 * lr = floor + ½(1 + cos(π·(step − warmup)/(total − warmup)))·(peak − floor) after warmup.
 */
export function warmupCosine({
  peak,
  warmup,
  total,
  floor = 0,
}: WarmupCosineOptions): (step: number) => number {
  if (!(peak >= 0 && floor >= 0 && floor <= peak))
    throw new RangeError(`warmupCosine: need 0 ≤ floor ≤ peak, got floor ${floor}, peak ${peak}`);
  if (!(Number.isInteger(warmup) && warmup >= 0 && Number.isInteger(total) && total > warmup)) {
    throw new RangeError(
      `warmupCosine: need integers 0 ≤ warmup < total, got warmup ${warmup}, total ${total}`,
    );
  }
  return (step) => {
    if (step < warmup) return (peak * (step + 1)) / warmup;
    if (step >= total) return floor;
    const ratio = (step - warmup) / (total - warmup);
    return floor + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (peak - floor);
  };
}

/** √(Σ g²) over every parameter's gradient (f64). */
export function gradNorm(params: readonly Var[]): number {
  let s = 0;
  for (const p of params) if (p.grad) for (const g of p.grad.data) s += g * g;
  return Math.sqrt(s);
}

/**
 * Scale all gradients by min(1, maxNorm / (norm + 1e-6)) (torch.nn.utils.clip_grad_norm_); returns the
 * norm before clipping.
 */
export function clipGradNorm(params: readonly Var[], maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const norm = gradNorm(params);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1)
    for (const p of params) if (p.grad) for (let i = 0; i < p.grad.size; i++) p.grad.data[i]! *= coef;
  return norm;
}
