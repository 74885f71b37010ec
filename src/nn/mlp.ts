/** Feed-forward blocks: the plain MLP (GPT-2, BERT intermediate) and the gated SwiGLU MLP (Llama family). */

import { activate } from '../backend/ops/index.js';
import type { Activation } from '../io/config.js';
import type { Tensor } from '../tensor/tensor.js';
import { activateInPlace } from './activation.js';

/** x ← act(x) in place: SiLU and GELU on the WebAssembly kernels, ReLU in plain JS. */
function act(x: Float32Array, a: Activation): void {
  if (a === 'relu') activateInPlace(x, a);
  else activate(x, a);
}

import { Linear } from './linear.js';

/** y = down(act(up(x))): x [T, C] → [T, C]. */
export class MLP {
  constructor(
    readonly up: Linear,
    readonly down: Linear,
    readonly activation: Activation,
  ) {}

  forward(x: Tensor): Tensor {
    const h = this.up.forward(x);
    act(h.data, this.activation);
    return this.down.forward(h);
  }

  /** Feature-major: xt [C, T] → [C, T]. */
  forwardT(xt: Tensor): Tensor {
    const h = this.up.forwardT(xt);
    act(h.data, this.activation);
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
    const [g, u] = Linear.forwardShared([this.gate, this.up], xt);
    return this.down.forwardT(this.gated(g!, u!));
  }

  /**
   * One token into given arrays: out [C] ← the MLP of x [C], with g and u [I] for the gate and up products
   * (the same numbers as forwardT on x as [C, 1]; kernel arrays are read and written in place).
   */
  forwardInto(x: Float32Array, g: Float32Array, u: Float32Array, out: Float32Array): void {
    this.gate.forwardInto(x, g);
    this.up.forwardInto(x, u);
    this.gatedInPlace(g, u);
    this.down.forwardInto(g, out);
  }

  /** g ← act(g) ⊙ u, in place (same layout); returns g. */
  private gated(g: Tensor, u: Tensor): Tensor {
    this.gatedInPlace(g.data, u.data);
    return g;
  }

  private gatedInPlace(g: Float32Array, u: Float32Array): void {
    if (this.activation === 'relu') {
      activateInPlace(g, 'relu');
      for (let i = 0; i < g.length; i++) g[i]! *= u[i]!;
    } else activate(g, this.activation, u);
  }
}
