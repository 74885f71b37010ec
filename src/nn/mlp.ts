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

  /** Feature-major: xt [C, T] → [C, T]. */
  forwardT(xt: Tensor): Tensor {
    const h = this.up.forwardT(xt);
    activateInPlace(h.data, this.activation);
    return this.down.forwardT(h);
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
    return this.down.forward(this.gated(this.gate.forward(x), this.up.forward(x)));
  }

  /** Feature-major: xt [C, T] → [C, T]. */
  forwardT(xt: Tensor): Tensor {
    return this.down.forwardT(this.gated(this.gate.forwardT(xt), this.up.forwardT(xt)));
  }

  /** g ← act(g) ⊙ u, in place (same layout); returns g. */
  private gated(g: Tensor, u: Tensor): Tensor {
    const gd = g.data;
    const ud = u.data;
    if (this.activation === 'silu') {
      // the common case in one pass: silu(g)·u = g·u / (1 + e^−g)
      for (let i = 0; i < gd.length; i++) {
        const x = gd[i]!;
        gd[i] = (x * ud[i]!) / (1 + Math.exp(-x));
      }
      return g;
    }
    activateInPlace(gd, this.activation);
    for (let i = 0; i < gd.length; i++) gd[i]! *= ud[i]!;
    return g;
  }
}
