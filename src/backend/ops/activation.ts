/**
 * Elementwise activations (SiLU, GELU tanh / erf), optionally gated (SwiGLU: silu(g)·u), SwiGLU's backward and
 * RMSNorm on the WebAssembly kernels (src/kernels/activation.ts), on f32 arrays. Data passes through one scratch
 * block per runtime that is reused, so a decode step allocates nothing here.
 */

import { Tensor } from '../../tensor/tensor.js';
import { register, resolve } from '../dispatch.js';
import {
  activateRef,
  type KernelActivation,
  rmsNormRef,
  swigluBackwardRef,
} from '../reference/activation.js';
import { kernelOffset } from '../resident.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import { MIN_PARALLEL_WORK } from './dense.js';

export type { KernelActivation } from '../reference/activation.js';

const ACT_CODE: Record<KernelActivation, number> = { silu: 0, gelu_tanh: 1, gelu: 2 };

/** Operations per element, for the thread split (the exp and a division dominate). */
const OPS_PER_ELEMENT = 30;

function checkAct(act: string, what: string): asserts act is KernelActivation {
  if (!(act in ACT_CODE)) {
    throw new RangeError(`${what}: act must be "silu", "gelu_tanh" or "gelu", got ${JSON.stringify(act)}`);
  }
}

/**
 * x ← act(x) · gate elementwise, in place (gate omitted: no gate); returns x. SwiGLU's
 * silu(gate_proj(h)) · up_proj(h) is `activate(g, 'silu', u)`.
 * @example activate(h.data, 'gelu_tanh') // GPT-2's MLP activation
 */
export function activate(x: Float32Array, act: KernelActivation, gate?: Float32Array): Float32Array {
  checkAct(act, 'activate');
  if (!(x instanceof Float32Array)) throw new TypeError('activate: x must be a Float32Array');
  if (gate !== undefined && (!(gate instanceof Float32Array) || gate.length !== x.length)) {
    throw new RangeError(`activate: gate must be a Float32Array of x's length ${x.length}`);
  }
  resolve<typeof activateRef>('activate', ['dense'])(x, act, gate);
  return x;
}

/**
 * RMSNorm over the last axis: x [..., C] → w · (x / √(mean(x²) + eps)) with weight w [C], as transformers
 * computes it in f32.
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const C = weight.size;
  if (weight.rank !== 1 || x.shape[x.rank - 1] !== C) {
    throw new RangeError(
      `rmsNorm: x's last axis (${x.shape[x.rank - 1]}) must match weight [C] = [${weight.shape.join(', ')}]`,
    );
  }
  const out = new Float32Array(x.size);
  resolve<typeof rmsNormRef>('rmsnorm', ['dense'])(x.data, weight.data, out, C, eps);
  return new Tensor(out, x.shape);
}

/**
 * out ← rmsNorm of the rows of x [R·C] with weight [C]: the same numbers as `rmsNorm`, written into a given
 * array (read and written in place when x and out are kernel arrays: a decode step's activations).
 */
export function rmsNormInto(x: Float32Array, weight: Tensor, out: Float32Array, eps: number): void {
  const C = weight.size;
  if (weight.rank !== 1 || x.length % C !== 0 || out.length !== x.length) {
    throw new RangeError(
      `rmsNormInto: x (${x.length}) and out (${out.length}) must hold the same whole rows of weight [C] = [${weight.shape.join(', ')}]`,
    );
  }
  resolve<typeof rmsNormRef>('rmsnorm', ['dense'])(x, weight.data, out, C, eps);
}

/** SwiGLU's input gradients: dg and du, each [n]. */
export interface SwigluGrads {
  dg: Float32Array;
  du: Float32Array;
}

/**
 * The backward of y = silu(g) · u elementwise (Llama's MLP gate): given g, u and dy (one length n), returns
 * dg = dy·u·σ(g)·(1 + g·(1 − σ(g))) and du = dy·g·σ(g), σ recomputed from g. Written into `out` when given
 * (its arrays may be inputs, e.g. dg over dy, saving an allocation), else into fresh arrays.
 * @example const { dg, du } = swigluBackward(gate.data, up.data, dh.data)
 */
export function swigluBackward(
  g: Float32Array,
  u: Float32Array,
  dy: Float32Array,
  out?: SwigluGrads,
): SwigluGrads {
  for (const [name, a] of [
    ['g', g],
    ['u', u],
    ['dy', dy],
    ['out.dg', out?.dg ?? g],
    ['out.du', out?.du ?? g],
  ] as const) {
    if (!(a instanceof Float32Array) || a.length !== g.length) {
      throw new RangeError(`swigluBackward: ${name} must be a Float32Array of g's length ${g.length}`);
    }
  }
  if (out !== undefined && out.dg === out.du) {
    throw new RangeError('swigluBackward: out.dg and out.du must be different arrays');
  }
  const grads = out ?? { dg: new Float32Array(g.length), du: new Float32Array(g.length) };
  resolve<typeof swigluBackwardRef>('swiglu_backward', ['dense'])(g, u, dy, grads.dg, grads.du);
  return grads;
}

const scratches = new WeakMap<WasmRuntime, { ptr: number; bytes: number }>();

/** A scratch block of at least `bytes` in `rt`, reused across calls (valid until the next scratch call). */
function scratch(rt: WasmRuntime, bytes: number): number {
  const s = scratches.get(rt);
  if (s && s.bytes >= bytes) return s.ptr;
  if (s) rt.free(s.ptr);
  const size = Math.max(bytes, 2 * (s?.bytes ?? 0), 1 << 16);
  const ptr = rt.alloc(size);
  scratches.set(rt, { ptr, bytes: size });
  return ptr;
}

function activateWasm(x: Float32Array, act: KernelActivation, gate?: Float32Array): void {
  const n = x.length;
  if (n === 0) return;
  const rt = runtime();
  const ranges = rt.rowRanges(n, 4, n * OPS_PER_ELEMENT, MIN_PARALLEL_WORK);
  // kernel arrays (a decode step's activations) are read and written where they are
  const xp = kernelOffset(rt, x);
  const gp = gate ? kernelOffset(rt, gate) : 0;
  if (xp !== undefined && gp !== undefined) {
    rt.parallel('activate_f32', [xp, gp, xp, ACT_CODE[act]], ranges);
    return;
  }
  const base = scratch(rt, (gate ? 8 : 4) * n + 64);
  const up = gate ? base + Math.ceil((4 * n) / 64) * 64 : 0;
  rt.write(base, x);
  if (gate) rt.write(up, gate);
  rt.parallel('activate_f32', [base, up, base, ACT_CODE[act]], ranges);
  x.set(rt.f32(base, n));
}

/** Byte offsets of `count` blocks of n floats in one scratch region, each 64-byte aligned. */
function scratchBlocks(rt: WasmRuntime, n: number, count: number): number[] {
  const stride = Math.ceil((4 * n) / 64) * 64;
  const base = scratch(rt, stride * count + 64);
  return Array.from({ length: count }, (_, k) => base + k * stride);
}

function swigluBackwardWasm(
  g: Float32Array,
  u: Float32Array,
  dy: Float32Array,
  dg: Float32Array,
  du: Float32Array,
): void {
  const n = g.length;
  if (n === 0) return;
  const rt = runtime();
  const [gp, up, dyp] = scratchBlocks(rt, n, 3) as [number, number, number];
  rt.write(gp, g);
  rt.write(up, u);
  rt.write(dyp, dy);
  const ranges = rt.rowRanges(n, 4, n * OPS_PER_ELEMENT, MIN_PARALLEL_WORK);
  rt.parallel('swiglu_backward_f32', [gp, up, dyp, dyp, gp], ranges); // dg over dy, du over g
  dg.set(rt.f32(dyp, n));
  du.set(rt.f32(gp, n));
}

function rmsNormWasm(x: Float32Array, w: Float32Array, out: Float32Array, C: number, eps: number): void {
  if (x.length === 0) return;
  const rt = runtime();
  const R = x.length / C;
  const ranges = rt.rowRanges(R, 1, 4 * x.length, MIN_PARALLEL_WORK);
  const xp = kernelOffset(rt, x);
  const op = kernelOffset(rt, out);
  if (xp !== undefined && op !== undefined) {
    // kernel arrays: read in place, and so is the weight when it is one too (a loaded model's norms)
    let wp = kernelOffset(rt, w);
    if (wp === undefined) {
      wp = scratch(rt, 4 * C);
      rt.write(wp, w);
    }
    rt.parallel('rmsnorm_f32', [xp, wp, op, C, eps], ranges);
    return;
  }
  const base = scratch(rt, 4 * (x.length + C) + 64);
  const wp = base + Math.ceil((4 * x.length) / 64) * 64;
  rt.write(base, x);
  rt.write(wp, w);
  rt.parallel('rmsnorm_f32', [base, wp, base, C, eps], ranges);
  out.set(rt.f32(base, x.length));
}

register('activate', ['dense'], 'fast', activateWasm);
register('activate', ['dense'], 'reference', activateRef);
register('rmsnorm', ['dense'], 'fast', rmsNormWasm);
register('rmsnorm', ['dense'], 'reference', rmsNormRef);
register('swiglu_backward', ['dense'], 'fast', swigluBackwardWasm);
register('swiglu_backward', ['dense'], 'reference', swigluBackwardRef);
