/**
 * Optimizers: SGD (momentum, Nesterov, weight decay) and AdamW, with PyTorch's defaults and update order.
 * Masked parameters (Var.mask) keep exactly zero weights AND optimizer state off the mask after every step.
 */

import type { Var } from '../autograd/tape.js';

/** Named optimizer state tensors, for checkpoints. */
export type OptimizerState = Map<string, Float32Array>;

/** What every optimizer shares: the parameters, the learning rate, per-parameter state and masking. */
export abstract class Optimizer {
  readonly params: readonly Var[];
  /** Learning rate used by the next `step` (a schedule sets it before each step). */
  lr: number;
  /** Per parameter: its state buffers by slot name (created on its first update). */
  protected readonly buffers: Array<Map<string, Float32Array>>;
  /** Per parameter: how many updates it has had. */
  protected readonly steps: number[];

  constructor(params: readonly Var[], lr: number, what: string) {
    if (!(lr >= 0)) throw new RangeError(`${what}: lr must be ≥ 0, got ${lr}`);
    params.forEach((p, i) => {
      if (!p.requiresGrad)
        throw new RangeError(`${what}: params[${i}] (${p.name || 'unnamed'}) does not require a gradient`);
    });
    if (new Set(params).size !== params.length) throw new RangeError(`${what}: a parameter is listed twice`);
    this.params = params;
    this.lr = lr;
    this.buffers = params.map(() => new Map());
    this.steps = params.map(() => 0);
  }

  /** Update every parameter that has a gradient; then zero weights and state off each mask. */
  step(): void {
    this.params.forEach((p, i) => {
      if (p.grad === null) return; // as PyTorch: no gradient, no update, no state change
      const g = p.grad.data;
      const mask = p.mask;
      if (mask) for (let j = 0; j < g.length; j++) if (mask[j] === 0) g[j] = 0;
      this.steps[i]!++;
      this.update(p.value.data, g, this.buffers[i]!, this.steps[i]!);
      if (mask) {
        const w = p.value.data;
        for (let j = 0; j < w.length; j++) {
          if (mask[j] !== 0) continue;
          w[j] = 0;
          for (const b of this.buffers[i]!.values()) b[j] = 0;
        }
      }
      p.changed();
    });
  }

  /** Set every parameter's gradient to null. */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** One parameter's update (w and g are its value and gradient; state persists between calls). */
  protected abstract update(
    w: Float32Array,
    g: Float32Array,
    state: Map<string, Float32Array>,
    step: number,
  ): void;

  /** A state buffer, created as zeros on first use. */
  protected buffer(state: Map<string, Float32Array>, name: string, n: number): Float32Array {
    let b = state.get(name);
    if (!b) {
      b = new Float32Array(n);
      state.set(name, b);
    }
    return b;
  }

  /** The state as named tensors (`<param index>.<slot>`) plus per-parameter step counts. */
  stateDict(): { tensors: OptimizerState; steps: number[] } {
    const tensors: OptimizerState = new Map();
    this.buffers.forEach((m, i) => {
      for (const [slot, b] of m) tensors.set(`${i}.${slot}`, b);
    });
    return { tensors, steps: [...this.steps] };
  }

  /** Restore a `stateDict` (buffers are copied; sizes must match the parameters). */
  loadStateDict({ tensors, steps }: { tensors: OptimizerState; steps: readonly number[] }): void {
    if (steps.length !== this.params.length) {
      throw new RangeError(
        `optimizer state has ${steps.length} parameters but this optimizer has ${this.params.length}`,
      );
    }
    for (const m of this.buffers) m.clear();
    for (const [key, b] of tensors) {
      const dot = key.indexOf('.');
      const i = Number(key.slice(0, dot));
      const p = this.params[i];
      if (!p || b.length !== p.size) {
        throw new RangeError(
          `optimizer state "${key}" does not fit parameter ${i} (${p?.size ?? 'missing'} elements)`,
        );
      }
      this.buffers[i]!.set(key.slice(dot + 1), Float32Array.from(b));
    }
    steps.forEach((s, i) => {
      this.steps[i] = s;
    });
  }

  /** Hyper-parameters, for checkpoint metadata. */
  abstract config(): Record<string, unknown>;
}

/** Options of {@link SGD} (PyTorch's defaults). */
export interface SGDOptions {
  lr: number;
  /** Default 0. */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  /** L2 added to the gradient (coupled), default 0. */
  weightDecay?: number;
  /** Default false; needs momentum > 0 and dampening 0. */
  nesterov?: boolean;
}

/**
 * SGD as torch.optim.SGD: g ← g + wd·w; b ← g (first step) or μ·b + (1 − τ)·g; g ← g + μ·b (Nesterov) or b;
 * w ← w − lr·g.
 */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(
    params: readonly Var[],
    { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false }: SGDOptions,
  ) {
    super(params, lr, 'SGD');
    if (!(momentum >= 0)) throw new RangeError(`SGD: momentum must be ≥ 0, got ${momentum}`);
    if (!(weightDecay >= 0)) throw new RangeError(`SGD: weightDecay must be ≥ 0, got ${weightDecay}`);
    if (nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new RangeError('SGD: nesterov needs momentum > 0 and dampening 0');
    }
    this.momentum = momentum;
    this.dampening = dampening;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
  }

  protected update(w: Float32Array, g: Float32Array, state: Map<string, Float32Array>): void {
    const { momentum: mu, dampening, weightDecay: wd, nesterov, lr } = this;
    const first = !state.has('momentum_buffer');
    const buf = mu !== 0 ? this.buffer(state, 'momentum_buffer', w.length) : null;
    for (let j = 0; j < w.length; j++) {
      let d = wd !== 0 ? Math.fround(g[j]! + wd * w[j]!) : g[j]!;
      if (buf) {
        buf[j] = first ? d : Math.fround(mu * buf[j]!) + Math.fround((1 - dampening) * d);
        d = nesterov ? Math.fround(d + mu * buf[j]!) : buf[j]!;
      }
      w[j] = w[j]! - Math.fround(lr * d);
    }
  }

  config(): Record<string, unknown> {
    const { lr, momentum, dampening, weightDecay, nesterov } = this;
    return { kind: 'sgd', lr, momentum, dampening, weightDecay, nesterov };
  }
}

/** Options of {@link AdamW} (PyTorch's defaults). */
export interface AdamWOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled decay, default 1e-2. */
  weightDecay?: number;
}

/**
 * AdamW as torch.optim.AdamW (single-tensor path, no amsgrad): w ← w·(1 − lr·wd); m ← m + (1−β1)(g − m);
 * v ← β2·v + (1−β2)·g²; w ← w − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps).
 */
export class AdamW extends Optimizer {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;

  constructor(
    params: readonly Var[],
    { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 1e-2 }: AdamWOptions = {},
  ) {
    super(params, lr, 'AdamW');
    const [b1, b2] = betas;
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1))
      throw new RangeError(`AdamW: betas must be in [0, 1), got [${betas}]`);
    if (!(eps >= 0)) throw new RangeError(`AdamW: eps must be ≥ 0, got ${eps}`);
    if (!(weightDecay >= 0)) throw new RangeError(`AdamW: weightDecay must be ≥ 0, got ${weightDecay}`);
    this.betas = [b1, b2];
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  protected update(w: Float32Array, g: Float32Array, state: Map<string, Float32Array>, step: number): void {
    const [b1, b2] = this.betas;
    const { lr, eps, weightDecay: wd } = this;
    const m = this.buffer(state, 'exp_avg', w.length);
    const v = this.buffer(state, 'exp_avg_sq', w.length);
    const decay = Math.fround(1 - lr * wd);
    const stepSize = lr / (1 - b1 ** step);
    const bc2Sqrt = Math.sqrt(1 - b2 ** step);
    for (let j = 0; j < w.length; j++) {
      const gj = g[j]!;
      w[j] = w[j]! * decay;
      m[j] = m[j]! + (1 - b1) * (gj - m[j]!);
      v[j] = Math.fround(b2 * v[j]!) + Math.fround((1 - b2) * gj * gj);
      const denom = Math.fround(Math.sqrt(v[j]!) / bc2Sqrt) + eps;
      w[j] = w[j]! - Math.fround(stepSize * Math.fround(m[j]! / denom));
    }
  }

  config(): Record<string, unknown> {
    const { lr, betas, eps, weightDecay } = this;
    return { kind: 'adamw', lr, betas, eps, weightDecay };
  }
}
