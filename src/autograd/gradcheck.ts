/**
 * gradcheck: compare the tape's gradients with central finite differences. Values are f32, so the check
 * perturbs each element by ±eps (divided by the step actually taken after f32 rounding), evaluates the
 * projected loss L = Σ out ⊙ R (R fixed random weights) in f64, and accepts |analytic − numeric| ≤
 * atol + rtol·|numeric| (tolerances scaled for f32 forwards).
 */

import { randn } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { mul, sum } from './elementwise.js';
import { backward, clearTape, constant, noGrad, type Var } from './tape.js';

/** Options of {@link gradcheck}. */
export interface GradcheckOptions {
  /** Finite-difference step (default 1e-2; f32 values make smaller steps noisy). */
  eps?: number;
  /** Absolute tolerance (default 2e-3). */
  atol?: number;
  /** Relative tolerance (default 2e-2). */
  rtol?: number;
  /** Seed of the projection weights R (default 7). */
  seed?: number;
}

/** The worst element of a gradcheck. */
export interface GradcheckReport {
  ok: boolean;
  /** Elements compared. */
  checked: number;
  /** Largest |analytic − numeric| − rtol·|numeric| seen, and where. */
  worst: { input: number; index: number; analytic: number; numeric: number; excess: number };
}

function projected(out: Var, r: Float32Array): number {
  let s = 0;
  for (let i = 0; i < r.length; i++) s += out.value.data[i]! * r[i]!;
  return s;
}

/**
 * Check d(Σ f(inputs) ⊙ R)/d(input) for every input that requires a gradient, element by element
 * (masked elements are skipped). `f` must be deterministic (reseed any dropout inside it).
 * @example gradcheck((x, w) => linear(x, w), [param(randn([3, 4], 1)), param(randn([5, 4], 2))]).ok
 */
export function gradcheck(
  f: (...inputs: Var[]) => Var,
  inputs: readonly Var[],
  options: GradcheckOptions = {},
): GradcheckReport {
  const { eps = 1e-2, atol = 2e-3, rtol = 2e-2, seed = 7 } = options;
  for (const v of inputs) v.grad = null;
  clearTape();
  const out = f(...inputs);
  const r = randn(out.shape, seed).data;
  backward(sum(mul(out, constant(new Tensor(r, out.shape)))));
  const report: GradcheckReport = {
    ok: true,
    checked: 0,
    worst: { input: -1, index: -1, analytic: 0, numeric: 0, excess: Number.NEGATIVE_INFINITY },
  };
  inputs.forEach((v, which) => {
    if (!v.requiresGrad) return;
    const analytic = v.grad?.data ?? new Float32Array(v.size);
    const d = v.value.data;
    for (let i = 0; i < v.size; i++) {
      if (v.mask && v.mask[i] === 0) continue;
      const x0 = d[i]!;
      d[i] = x0 + eps;
      const hi = d[i]!;
      v.changed();
      const fp = noGrad(() => projected(f(...inputs), r));
      d[i] = x0 - eps;
      const lo = d[i]!;
      v.changed();
      const fm = noGrad(() => projected(f(...inputs), r));
      d[i] = x0;
      v.changed();
      const numeric = (fp - fm) / (hi - lo);
      const a = analytic[i]!;
      const excess = Math.abs(a - numeric) - rtol * Math.abs(numeric) - atol;
      report.checked++;
      if (excess > report.worst.excess)
        report.worst = { input: which, index: i, analytic: a, numeric, excess };
      if (!(excess <= 0)) report.ok = false;
    }
  });
  for (const v of inputs) v.grad = null;
  return report;
}
