/** Feed-forward blocks: the plain MLP (GPT-2, BERT intermediate) and the gated SwiGLU MLP (Llama family). */

import type { Activation } from '../io/config.js';
import type { Tensor } from '../tensor/tensor.js';
import { activateInPlace } from './activation.js';
import type { Linear } from './linear.js';

/** y = down(act(up(x))): x [T, C] → [T, C]. */
export class MLP {
  constructor(
    readonly up: Linear,
    readonly down: Linear,
    readonly activation: Activation,
  ) {}

  forward(x: Tensor): Tensor {
    const h = this.up.forward(x);
    activateInPlace(h.data, this.activation);
    return this.down.forward(h);
  }
}

/** SwiGLU: y = down(act(gate(x)) ⊙ up(x)): x [T, C] → [T, C]. */
export class GatedMLP {
  constructor(
    readonly gate: Linear,
    readonly up: Linear,
    readonly down: Linear,
    readonly activation: Activation,
  ) {}

  forward(x: Tensor): Tensor {
    const g = this.gate.forward(x);
    const u = this.up.forward(x);
    activateInPlace(g.data, this.activation);
    const gd = g.data;
    const ud = u.data;
    for (let i = 0; i < gd.length; i++) gd[i]! *= ud[i]!;
    return this.down.forward(g);
  }
}
