/**
 * Elementwise activations (SiLU, GELU tanh / erf), optionally gated (SwiGLU: silu(g)·u), and RMSNorm on the
 * WebAssembly kernels (src/kernels/activation.ts), in place on f32 arrays. Data passes through one scratch
 * block per runtime that is reused, so a decode step allocates nothing here.
 */

import { Tensor } from '../../tensor/tensor.js';
import { register, resolve } from '../dispatch.js';
import { activateRef, type KernelActivation, rmsNormRef } from '../reference/activation.js';
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
  const base = scratch(rt, (gate ? 8 : 4) * n + 64);
  const up = gate ? base + Math.ceil((4 * n) / 64) * 64 : 0;
  rt.write(base, x);
  if (gate) rt.write(up, gate);
  const ranges = rt.rowRanges(n, 4, n * OPS_PER_ELEMENT, MIN_PARALLEL_WORK);
  rt.parallel('activate_f32', [base, up, base, ACT_CODE[act]], ranges);
  x.set(rt.f32(base, n));
}

function rmsNormWasm(x: Float32Array, w: Float32Array, out: Float32Array, C: number, eps: number): void {
  if (x.length === 0) return;
  const rt = runtime();
  const R = x.length / C;
  const base = scratch(rt, 4 * (x.length + C) + 64);
  const wp = base + Math.ceil((4 * x.length) / 64) * 64;
  rt.write(base, x);
  rt.write(wp, w);
  rt.parallel('rmsnorm_f32', [base, wp, base, C, eps], rt.rowRanges(R, 1, 4 * x.length, MIN_PARALLEL_WORK));
  out.set(rt.f32(base, x.length));
}

register('activate', ['dense'], 'fast', activateWasm);
register('activate', ['dense'], 'reference', activateRef);
register('rmsnorm', ['dense'], 'fast', rmsNormWasm);
register('rmsnorm', ['dense'], 'reference', rmsNormRef);
