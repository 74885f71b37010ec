/** Activation functions by the math they compute (see io/config.ts `Activation`), applied in place. */

import type { Activation } from '../io/config.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erf(x) to double precision (within 1e-15): the Maclaurin series for |x| < 1.5, the continued fraction of
 * erfc beyond (evaluated bottom-up with 100 terms), ±1 past |x| = 6 (erfc(6) < 1e-16).
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (Number.isNaN(x)) return x;
  if (a >= 6) return Math.sign(x);
  if (a < 1.5) {
    // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  // erfc(a) = exp(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + …)))))
  let f = a;
  for (let k = 100; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** GELU, exact: x · ½ · (1 + erf(x / √2)). */
export function gelu(x: number): number {
  return x * 0.5 * (1 + erf(x / Math.SQRT2));
}

/** GELU, tanh approximation: ½ · x · (1 + tanh(√(2/π) · (x + 0.044715 x³))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

/** SiLU (swish): x · sigmoid(x). */
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** ReLU: max(x, 0). */
export function relu(x: number): number {
  return Math.max(x, 0);
}

/** The scalar function of an activation. */
export function activationFn(act: Activation): (x: number) => number {
  switch (act) {
    case 'gelu':
      return gelu;
    case 'gelu_tanh':
      return geluTanh;
    case 'silu':
      return silu;
    case 'relu':
      return relu;
    default:
      throw new RangeError(
        `activation: unknown activation ${JSON.stringify(act)} (expected gelu, gelu_tanh, silu or relu)`,
      );
  }
}

/** x ← act(x), in place; returns x. */
export function activateInPlace(x: Float32Array, act: Activation): Float32Array {
  switch (act) {
    case 'gelu':
      for (let i = 0; i < x.length; i++) x[i] = gelu(x[i]!);
      break;
    case 'gelu_tanh':
      for (let i = 0; i < x.length; i++) x[i] = geluTanh(x[i]!);
      break;
    case 'silu':
      for (let i = 0; i < x.length; i++) x[i] = silu(x[i]!);
      break;
    case 'relu':
      for (let i = 0; i < x.length; i++) x[i] = relu(x[i]!);
      break;
    default:
      activationFn(act);
  }
  return x;
}
