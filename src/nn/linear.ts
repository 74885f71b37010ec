/** Linear layer y = x Wᵀ + b whose weight W [out, in] may be in any format the public matmul dispatches on. */

// the ops index registers every format's kernels, so matmul dispatches on any weight
import { type MatmulWeight, matmul, matmulShared } from '../backend/ops/index.js';
import { matmulInto } from '../backend/ops/matmul.js';
import { dims2, Tensor } from '../tensor/tensor.js';
import { addColumnVector, addRowVector, transposeData } from './ops.js';

function weightShape(w: MatmulWeight): [number, number] {
  if (w instanceof Tensor) return dims2(w, 'Linear: weight');
  if (w === null || typeof w !== 'object' || typeof w.format !== 'string') {
    throw new TypeError(
      'Linear: weight must be a Tensor [out, in] or a matrix format object (CSR, BSR, NM, …)',
    );
  }
  return [w.rows, w.cols];
}

/** Told the wall ms of each linear forward: the layer, or the layers of one forwardShared (see setLinearTimer). */
export type LinearTimer = (layers: Linear | readonly Linear[], ms: number) => void;

let timer: LinearTimer | null = null;

/**
 * Time every linear layer's forwards (forward, forwardT, forwardInto, forwardShared) through `t` until it is set
 * back to null; returns the timer it replaces. For profilers (src/models/profile.ts): no cost while null.
 */
export function setLinearTimer(t: LinearTimer | null): LinearTimer | null {
  const previous = timer;
  timer = t;
  return previous;
}

function timed<R>(layers: Linear | readonly Linear[], run: () => R): R {
  const t = timer!;
  const t0 = performance.now();
  try {
    return run();
  } finally {
    t(layers, performance.now() - t0);
  }
}

/**
 * A linear layer: forward(x [T, in]) → [T, out] = x · Wᵀ + b. W [out, in] is a dense Tensor or any matrix
 * format object (CSR, BSR, N:M, bitmask, COO, bf16/f16 HalfMatrix); replacing `weight` with another object of
 * the same shape switches the kernel that runs. All T rows go through one matmul (a GEMM for T > 1, a GEMV
 * for T = 1).
 *
 * ```ts
 * const fc = new Linear(randn([8, 4]), null);
 * fc.weight = csrFromDense(nmPruneMagnitude(fc.weight as Tensor, 2, 4)); // same layer, sparse kernel
 * fc.forward(x); // x [T, 4] → [T, 8]
 * ```
 */
export class Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** [out] or null. */
  bias: Tensor | null;
  /**
   * Optional observer of every input (e.g. pruning's calibration statistics): called with x [T, in] and
   * 'tokens' from forward, with xt [in, T] and 'features' from forwardT (the very tensor passed in).
   */
  onInput: ((x: Tensor, layout: 'tokens' | 'features') => void) | null = null;
  private w: MatmulWeight;

  constructor(weight: MatmulWeight, bias: Tensor | null = null) {
    const [out, inF] = weightShape(weight);
    this.outFeatures = out;
    this.inFeatures = inF;
    this.w = weight;
    if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== out)) {
      throw new RangeError(`Linear: bias must be [${out}], got [${bias.shape.join(', ')}]`);
    }
    this.bias = bias;
  }

  /** W [out, in] in any matmul format. Assigning checks the shape stays [outFeatures, inFeatures]. */
  get weight(): MatmulWeight {
    return this.w;
  }

  set weight(w: MatmulWeight) {
    const [out, inF] = weightShape(w);
    if (out !== this.outFeatures || inF !== this.inFeatures) {
      throw new RangeError(
        `Linear: the new weight is [${out}, ${inF}] but this layer is [${this.outFeatures}, ${this.inFeatures}] ([out, in])`,
      );
    }
    this.w = w;
  }

  /** x [T, in] → [T, out]. */
  forward(x: Tensor): Tensor {
    return timer === null ? this.forwardTokens(x) : timed(this, () => this.forwardTokens(x));
  }

  private forwardTokens(x: Tensor): Tensor {
    const [T, inF] = dims2(x, 'Linear.forward: x');
    if (inF !== this.inFeatures) {
      throw new RangeError(`Linear.forward: x has ${inF} features but the layer takes ${this.inFeatures}`);
    }
    if (this.onInput) this.onInput(x, 'tokens');
    const out = this.outFeatures;
    let y: Tensor;
    if (T === 1) {
      y = matmul(this.w, x.reshape([inF])).reshape([1, out]);
    } else {
      // matmul computes W · B with B [in, T]: transpose x in, and the [out, T] product back.
      const xt = new Tensor(transposeData(x.data, T, inF), [inF, T]);
      const yt = matmul(this.w, xt);
      y = new Tensor(transposeData(yt.data, out, T), [T, out]);
    }
    if (this.bias) addRowVector(y.data, this.bias.data);
    return y;
  }

  /**
   * Feature-major forward: xt [in, T] → [out, T] = W · xt + b, with no transposes (what the models use inside
   * a block, where one transposed input feeds several layers).
   */
  forwardT(xt: Tensor): Tensor {
    return timer === null ? this.forwardFeatures(xt) : timed(this, () => this.forwardFeatures(xt));
  }

  private forwardFeatures(xt: Tensor): Tensor {
    this.checkT(xt, 'Linear.forwardT');
    if (this.onInput) this.onInput(xt, 'features');
    const y = matmul(this.w, xt);
    if (this.bias) addColumnVector(y.data, this.bias.data);
    return y;
  }

  /**
   * One token, into a given output: y [out] ← W · x [in] + b, the same numbers as forwardT on x as [in, 1]. With
   * x and y kernel arrays a dense or half weight's GEMV reads and writes them in place (a decode step's fast
   * path); other formats run their matmul and copy the result into y.
   */
  forwardInto(x: Float32Array, y: Float32Array): void {
    if (timer === null) this.forwardOne(x, y);
    else timed(this, () => this.forwardOne(x, y));
  }

  private forwardOne(x: Float32Array, y: Float32Array): void {
    if (this.onInput) this.onInput(new Tensor(x.slice(), [this.inFeatures, 1]), 'features');
    matmulInto(this.w, x, y);
    if (this.bias) addColumnVector(y, this.bias.data);
  }

  private checkT(xt: Tensor, what: string): void {
    const [inF] = dims2(xt, `${what}: xt`);
    if (inF !== this.inFeatures) {
      throw new RangeError(`${what}: xt has ${inF} features (rows) but the layer takes ${this.inFeatures}`);
    }
  }

  /**
   * Feature-major forward of several layers on one input: [l.forwardT(xt) for l of layers], the same numbers,
   * with the weights' products run by one `matmulShared` call (a decode step's q, k, v or gate, up: the input
   * goes to kernel memory once, not once per layer). Each layer's weight may have any format; layers whose
   * formats differ simply run one after the other.
   */
  static forwardShared(layers: readonly Linear[], xt: Tensor): Tensor[] {
    return timer === null ? Linear.shared(layers, xt) : timed(layers, () => Linear.shared(layers, xt));
  }

  private static shared(layers: readonly Linear[], xt: Tensor): Tensor[] {
    for (const l of layers) {
      l.checkT(xt, 'Linear.forwardShared');
      if (l.onInput) l.onInput(xt, 'features');
    }
    const ys = matmulShared(
      layers.map((l) => l.w),
      xt,
    );
    layers.forEach((l, i) => {
      if (l.bias) addColumnVector(ys[i]!.data, l.bias.data);
    });
    return ys;
  }
}
