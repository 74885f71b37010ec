/** Activation functions by the math they compute (see io/config.ts `Activation`), applied in place. */

import { gelu, geluTanh, silu } from '../backend/reference/activation.js';
import type { Activation } from '../io/config.js';

export { erf, gelu, geluTanh, silu } from '../backend/reference/activation.js';

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
