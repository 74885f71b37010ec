/**
 * TypeScript twins of the activation kernels (src/kernels/activation.ts): the exact functions in f64, rounded
 * once to f32, and RMSNorm as transformers computes it.
 */

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erf(x) to double precision (within 1e-15): the Maclaurin series for |x| < 1.5, the continued fraction of
 * erfc beyond (evaluated bottom-up with 100 terms), ±1 past |x| = 6 (erfc(6) < 1e-16).
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (Number.isNaN(x)) return x;
  if (a >= 6) return Math.sign(x);
  if (a < 1.5) {
    // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  // erfc(a) = exp(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + …)))))
  let f = a;
  for (let k = 100; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** SiLU (swish): x · sigmoid(x). */
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** GELU, exact: x · ½ · (1 + erf(x / √2)). */
export function gelu(x: number): number {
  return x * 0.5 * (1 + erf(x / Math.SQRT2));
}

/** GELU, tanh approximation: ½ · x · (1 + tanh(√(2/π) · (x + 0.044715 x³))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

/** Activations the kernels compute. */
export type KernelActivation = 'silu' | 'gelu_tanh' | 'gelu';

const SCALAR: Record<KernelActivation, (x: number) => number> = { silu, gelu_tanh: geluTanh, gelu };

/** x ← act(x) · gate (gate omitted: 1), elementwise, in place. */
export function activateRef(x: Float32Array, act: KernelActivation, gate?: Float32Array): void {
  const f = SCALAR[act];
  if (gate) for (let i = 0; i < x.length; i++) x[i] = f(x[i]!) * gate[i]!;
  else for (let i = 0; i < x.length; i++) x[i] = f(x[i]!);
}

/** out [R, C] = RMSNorm of x [R, C] with weight w [C]: w · (x · 1/√(mean(x²) + eps)), the mean rounded to f32. */
export function rmsNormRef(
  x: Float32Array,
  w: Float32Array,
  out: Float32Array,
  C: number,
  eps: number,
): void {
  for (let r = 0; r < x.length; r += C) {
    let sq = 0;
    for (let c = 0; c < C; c++) sq += x[r + c]! * x[r + c]!;
    // transformers: x · rsqrt(variance + eps) in f32, then weight · (that)
    const inv = 1 / Math.sqrt(Math.fround(Math.fround(sq / C) + eps));
    for (let c = 0; c < C; c++) out[r + c] = w[c]! * Math.fround(x[r + c]! * inv);
  }
}

/**
 * SwiGLU's backward, y = silu(g)·u: dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·g·σ(g), σ in f64, each result
 * rounded once to f32. All arrays have one length; dg and du may be inputs (each element is read first).
 */
export function swigluBackwardRef(
  g: Float32Array,
  u: Float32Array,
  dy: Float32Array,
  dg: Float32Array,
  du: Float32Array,
): void {
  for (let i = 0; i < g.length; i++) {
    const x = g[i]!;
    const ui = u[i]!;
    const s = 1 / (1 + Math.exp(-x));
    const dys = dy[i]! * s;
    du[i] = dys * x;
    dg[i] = dys * ui * (1 + x * (1 - s));
  }
}
