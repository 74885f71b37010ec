/** Normalisation layers over the last dimension: LayerNorm (GPT-2, BERT) and RMSNorm (Llama family). */

import { rmsNormInto } from '../backend/ops/activation.js';
import { rmsNorm } from '../backend/ops/index.js';
import { dims2, Tensor } from '../tensor/tensor.js';

function checkWidth(name: string, x: Tensor, width: number): number {
  const [, C] = dims2(x, `${name}.forward: x`);
  if (C !== width) throw new RangeError(`${name}.forward: x has ${C} features but the norm has ${width}`);
  return C;
}

/** LayerNorm: y = (x − mean) / √(var + eps) · weight + bias per row (biased variance, as torch). */
export class LayerNorm {
  /** [C] scale and shift. */
  constructor(
    readonly weight: Tensor,
    readonly bias: Tensor,
    readonly eps: number,
  ) {
    if (weight.rank !== 1 || bias.shape.join() !== weight.shape.join()) {
      throw new RangeError(
        `LayerNorm: weight and bias must both be [C], got [${weight.shape.join(', ')}] and [${bias.shape.join(', ')}]`,
      );
    }
  }

  /** x [T, C] → [T, C]. */
  forward(x: Tensor): Tensor {
    const C = checkWidth('LayerNorm', x, this.weight.size);
    const out = new Float32Array(x.size);
    const w = this.weight.data;
    const b = this.bias.data;
    const xs = x.data;
    for (let r = 0; r < xs.length; r += C) {
      let sum = 0;
      for (let c = 0; c < C; c++) sum += xs[r + c]!;
      const mean = sum / C;
      let sq = 0;
      for (let c = 0; c < C; c++) {
        const d = xs[r + c]! - mean;
        sq += d * d;
      }
      const inv = 1 / Math.sqrt(sq / C + this.eps);
      for (let c = 0; c < C; c++) out[r + c] = (xs[r + c]! - mean) * inv * w[c]! + b[c]!;
    }
    return new Tensor(out, x.shape);
  }
}

/** RMSNorm (Llama): y = weight · x / √(mean(x²) + eps) per row. */
export class RMSNorm {
  /** weight [C]. */
  constructor(
    readonly weight: Tensor,
    readonly eps: number,
  ) {
    if (weight.rank !== 1)
      throw new RangeError(`RMSNorm: weight must be [C], got [${weight.shape.join(', ')}]`);
  }

  /** x [T, C] → [T, C] (on the WebAssembly kernel; backend rmsNorm). */
  forward(x: Tensor): Tensor {
    checkWidth('RMSNorm', x, this.weight.size);
    return rmsNorm(x, this.weight, this.eps);
  }

  /** Rows of x [R·C] into out [R·C] (the same numbers as forward; kernel arrays are read and written in place). */
  forwardInto(x: Float32Array, out: Float32Array): void {
    rmsNormInto(x, this.weight, out, this.eps);
  }
}
