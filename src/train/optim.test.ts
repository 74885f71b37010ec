import assert from 'node:assert/strict';
import { test } from 'node:test';
import { param } from '../autograd/tape.js';
import { Tensor } from '../tensor/tensor.js';
import { AdamW, type Optimizer, SGD } from './optim.js';
import { clipGradNorm, warmupCosine } from './schedule.js';

/** Minimise ½w² from w = 1 (gradient = w) and return w after each step. */
function trajectory(make: (p: ReturnType<typeof param>) => Optimizer, steps: number): number[] {
  const w = param(Tensor.from([1]));
  const opt = make(w);
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    w.grad = Tensor.from([w.value.data[0]!]);
    opt.step();
    out.push(w.value.data[0]!);
  }
  return out;
}

function close(got: number[], want: number[], tol = 1e-6): void {
  got.forEach((g, i) => {
    assert.ok(Math.abs(g - want[i]!) <= tol, `step ${i + 1}: ${g} vs ${want[i]}`);
  });
}

test('SGD: plain, momentum and Nesterov follow torch.optim.SGD step by step (hand-computed)', () => {
  close(
    trajectory((w) => new SGD([w], { lr: 0.1 }), 3),
    [0.9, 0.81, 0.729],
  );
  // buf = g on the first step, then 0.9·buf + g
  close(
    trajectory((w) => new SGD([w], { lr: 0.1, momentum: 0.9 }), 3),
    [0.9, 0.72, 0.486],
  );
  // Nesterov: d = g + 0.9·buf
  close(
    trajectory((w) => new SGD([w], { lr: 0.1, momentum: 0.9, nesterov: true }), 2),
    [0.81, 0.5751],
  );
  // coupled weight decay: g + 0.5·w
  close(
    trajectory((w) => new SGD([w], { lr: 0.1, weightDecay: 0.5 }), 2),
    [0.85, 0.7225],
  );
  assert.throws(
    () => new SGD([param(Tensor.from([1]))], { lr: 0.1, nesterov: true }),
    /nesterov needs momentum/,
  );
});

test('AdamW: decoupled decay before the moment update, bias-corrected step (torch.optim.AdamW order)', () => {
  // Step 1 by hand: w = 1·(1 − 0.01) = 0.99; m = 0.1, v = 0.001; m̂/(√v̂ + eps) = 1 → w = 0.89.
  // Step 2 (g = 0.89): w = 0.8811; m = 0.179, v = 0.0017911; step = 0.1/0.19; denom = √v/√(1 − 0.999²) + 1e-8.
  const denom2 = Math.sqrt(0.0017911) / Math.sqrt(1 - 0.999 ** 2) + 1e-8;
  const want2 = 0.8811 - (0.1 / 0.19) * (0.179 / denom2);
  close(
    trajectory((w) => new AdamW([w], { lr: 0.1, weightDecay: 0.1 }), 2),
    [0.89, want2],
    2e-6,
  );
  const a = new AdamW([param(Tensor.from([1]))]);
  assert.deepEqual(a.config(), {
    kind: 'adamw',
    lr: 1e-3,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 1e-2,
  });
});

test('optimizers: a parameter without a gradient is not touched (no decay, no state)', () => {
  const w = param(Tensor.from([1, 2]));
  const opt = new AdamW([w], { lr: 0.1 });
  opt.step();
  assert.deepEqual([...w.value.data], [1, 2]);
  assert.equal(opt.stateDict().tensors.size, 0);
});

test('warmupCosine: linear warmup to the peak, cosine to the floor, floor after total', () => {
  const lr = warmupCosine({ peak: 1, warmup: 4, total: 14, floor: 0.1 });
  assert.deepEqual([0, 1, 2, 3].map(lr), [0.25, 0.5, 0.75, 1]);
  assert.equal(lr(4), 1);
  assert.ok(Math.abs(lr(9) - 0.55) < 1e-12); // halfway: floor + (peak − floor)/2
  assert.equal(lr(14), 0.1);
  assert.equal(lr(100), 0.1);
  assert.throws(() => warmupCosine({ peak: 1, warmup: 5, total: 5 }), /warmup < total/);
});

test('clipGradNorm: scales the global norm down to maxNorm and leaves small gradients alone', () => {
  const a = param(Tensor.from([0, 0]));
  const b = param(Tensor.from([0]));
  a.grad = Tensor.from([3, 0]);
  b.grad = Tensor.from([4]);
  assert.equal(clipGradNorm([a, b], 1), 5);
  const n = Math.hypot(a.grad.data[0]!, b.grad.data[0]!);
  assert.ok(Math.abs(n - 1) < 1e-5);
  assert.ok(clipGradNorm([a, b], 10) < 1.00001);
  assert.ok(Math.abs(Math.hypot(a.grad.data[0]!, b.grad.data[0]!) - n) < 1e-7);
});
