/**
 * Tape-based reverse mode: `Var` (a value Tensor, its gradient, whether it wants one) and the tape that
 * ops append their backward rules to. `backward(loss)` replays the tape in reverse.
 */

import { release } from '../backend/resident.js';
import { Mask } from '../sparsity/mask.js';
import { type Shape, sizeOf, Tensor } from '../tensor/tensor.js';

/** Options of {@link param}. */
export interface ParamOptions {
  /** A name for checkpoints and error messages. */
  name?: string;
  /**
   * Which elements may be non-zero: a sparsity `Mask` (its pruned entries are held at zero) or [size] keep
   * bytes (1 = may be non-zero). Masked elements stay exactly zero, with their optimizer state, after
   * every optimizer step. Use for pruned dense weights (unstructured, N:M, block masks).
   */
  mask?: Mask | Uint8Array | null;
}

/**
 * A value in a computation: a Tensor, its gradient (same shape, filled by `backward`) and whether it
 * wants one. Leaves made with {@link param} are what optimizers update.
 */
export class Var {
  value: Tensor;
  grad: Tensor | null = null;
  readonly requiresGrad: boolean;
  name: string;
  /** Keep bytes of a masked parameter (1 = may be non-zero; see ParamOptions.mask); null = no mask. */
  mask: Uint8Array | null = null;
  /** Objects whose kernel-resident copies hold this Var's data (released by `changed`). */
  readonly dependents: object[] = [];
  /** Bumped by every `changed()`: caches derived from the value compare it (e.g. a sparse weight's CSR of Wᵀ). */
  version = 0;

  constructor(value: Tensor, requiresGrad = false, name = '') {
    if (!(value instanceof Tensor)) throw new TypeError('Var: value must be a Tensor');
    this.value = value;
    this.requiresGrad = requiresGrad;
    this.name = name;
  }

  get shape(): Shape {
    return this.value.shape;
  }

  get size(): number {
    return this.value.size;
  }

  /** The gradient, allocated as zeros on first use. */
  gradOrZeros(): Tensor {
    if (this.grad === null) this.grad = Tensor.zeros(this.value.shape);
    return this.grad;
  }

  /**
   * Set the keep-mask (a sparsity `Mask`, whose pruned entries become 0 here, or keep bytes, 1 = may be
   * non-zero; checked against the value's size) and zero the value off it. null removes the mask.
   */
  setMask(maskOrKeep: Mask | Uint8Array | null): void {
    const mask = maskOrKeep instanceof Mask ? maskOrKeep.pruned.map((b) => 1 - b) : maskOrKeep;
    if (mask !== null) {
      if (!(mask instanceof Uint8Array) || mask.length !== this.size) {
        throw new RangeError(
          `Var.setMask(${this.name || 'param'}): mask must cover ${this.size} elements (one per value), got ${mask?.length}`,
        );
      }
      const d = this.value.data;
      for (let i = 0; i < d.length; i++) if (mask[i] === 0) d[i] = 0;
      this.changed();
    }
    this.mask = mask;
  }

  /**
   * Tell the kernels this Var's data changed in place (optimizer step, gradcheck perturbation): frees
   * resident WebAssembly copies of the value and of every dependent (e.g. a sparse matrix sharing `values`).
   */
  changed(): void {
    this.version++;
    release(this.value);
    for (const d of this.dependents) release(d);
  }
}

/** A trainable leaf Var holding `value` (not copied). */
export function param(value: Tensor, options: ParamOptions = {}): Var {
  const v = new Var(value, true, options.name ?? '');
  if (options.mask) v.setMask(options.mask);
  return v;
}

/** A leaf Var that wants no gradient (inputs, targets, constants). */
export function constant(value: Tensor): Var {
  return new Var(value, false);
}

/** One recorded op: its output and the rule that pushes the output's gradient to its inputs. */
interface Entry {
  readonly out: Var;
  readonly backward: (gOut: Tensor) => void;
}

let tape: Entry[] = [];
let recording = true;

/** True when ops record backward rules (outside `noGrad`). */
export function gradEnabled(): boolean {
  return recording;
}

/** Run `fn` without recording (evaluation, optimizer arithmetic). */
export function noGrad<T>(fn: () => T): T {
  const was = recording;
  recording = false;
  try {
    return fn();
  } finally {
    recording = was;
  }
}

/** Number of ops on the tape (for tests and leak checks). */
export function tapeLength(): number {
  return tape.length;
}

/** Drop every recorded op (e.g. after an evaluation forward that was recorded by mistake). */
export function clearTape(): void {
  tape = [];
}

/**
 * Output Var of an op on `inputs`. When recording and some input wants a gradient, the output wants one
 * too and `backward(gOut)` is put on the tape; it must call `accumulate` for the inputs it differentiates.
 * The rule owns gOut (the tape drops it afterwards): it may overwrite gOut's array and hand it to one input
 * with `accumulateFresh`.
 */
export function record(value: Tensor, inputs: readonly Var[], backward: (gOut: Tensor) => void): Var {
  const needs = recording && inputs.some((v) => v.requiresGrad);
  const out = new Var(value, needs);
  if (needs) tape.push({ out, backward });
  return out;
}

/** v.grad += g (when v wants a gradient). g must have v's size; it is copied, never kept. */
export function accumulate(v: Var, g: Tensor | Float32Array): void {
  addGrad(v, g, false);
}

/**
 * v.grad += g like {@link accumulate}, for a `g` the rule allocated for this call alone and hands over: when v
 * has no gradient yet, g's array becomes it without a copy. Never pass an array given to another input.
 */
export function accumulateFresh(v: Var, g: Tensor | Float32Array): void {
  addGrad(v, g, true);
}

function addGrad(v: Var, g: Tensor | Float32Array, owned: boolean): void {
  if (!v.requiresGrad) return;
  const src = g instanceof Tensor ? g.data : g;
  if (src.length !== v.size) {
    throw new RangeError(
      `autograd: gradient of ${src.length} elements for a value of shape [${v.shape.join(', ')}] (a rule is wrong)`,
    );
  }
  if (v.grad === null) {
    // a copy unless owned: rules may hand one array to two inputs
    v.grad = new Tensor(owned ? src : src.slice(), v.value.shape);
    return;
  }
  const d = v.grad.data;
  for (let i = 0; i < d.length; i++) d[i]! += src[i]!;
}

/**
 * Reverse pass: seed loss.grad with `seed` (default 1; loss must be a single element) and run every
 * recorded rule in reverse order. Leaf gradients accumulate across calls (zero them between steps);
 * the tape is cleared.
 */
export function backward(loss: Var, seed = 1): void {
  if (sizeOf(loss.shape) !== 1) {
    throw new RangeError(
      `backward: the loss must have one element, got shape [${loss.shape.join(', ')}] (reduce it with sum or mean first)`,
    );
  }
  if (!loss.requiresGrad) {
    throw new Error('backward: the loss does not depend on any Var that requires a gradient');
  }
  const entries = tape;
  tape = [];
  accumulate(loss, Float32Array.of(seed));
  for (let i = entries.length - 1; i >= 0; i--) {
    const { out, backward: rule } = entries[i]!;
    if (out.grad !== null) rule(out.grad);
    out.grad = null; // intermediates' gradients are not kept
  }
}
