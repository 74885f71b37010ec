// Masked parameters: weights AND optimizer state stay exactly zero off the mask after every step, for
// unstructured, N:M and block masks, under AdamW and SGD (momentum, Nesterov, weight decay).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mean, mul, sub } from '../autograd/elementwise.js';
import { linear, sparseParam } from '../autograd/linear.js';
import { backward, constant, param, type Var } from '../autograd/tape.js';
import { nmFromDense, nmValidate } from '../formats/nm.js';
import type { Mask } from '../sparsity/mask.js';
import { pruneBlocks, pruneNM, pruneSmallestPerLayer } from '../sparsity/select.js';
import { randn } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { AdamW, type Optimizer, SGD } from './optim.js';

const M = 8;
const K = 16;
const T = 12;
const X = constant(randn([T, K], 1));
const Y = constant(randn([T, M], 2));

function abs(t: Tensor): Tensor {
  return new Tensor(t.data.map(Math.abs), t.shape);
}

function mse(w: Var | ReturnType<typeof sparseParam>): Var {
  const d = sub(linear(X, w), Y);
  return mean(mul(d, d));
}

/** Train `steps` steps, checking after each that everything off the keep-mask is exactly zero. */
function trainMasked(w: Var, opt: Optimizer, steps: number): number[] {
  const keep = w.mask!;
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    const loss = mse(w);
    losses.push(loss.value.data[0]!);
    backward(loss);
    opt.step();
    const buffers = [...opt.stateDict().tensors.values()];
    assert.ok(buffers.length > 0);
    for (let j = 0; j < keep.length; j++) {
      if (keep[j]) continue;
      assert.equal(w.value.data[j], 0, `step ${s}: weight ${j} is off the mask but ${w.value.data[j]}`);
      for (const b of buffers) assert.equal(b[j], 0, `step ${s}: optimizer state at ${j} is ${b[j]}`);
    }
  }
  return losses;
}

const w0 = randn([M, K], 3);
const patterns: Array<[string, Mask]> = [
  ['unstructured 75%', pruneSmallestPerLayer(abs(w0), (M * K * 3) / 4)],
  ['2:4', pruneNM(abs(w0), { n: 2, m: 4 })],
  ['4×4 blocks, half', pruneBlocks(abs(w0), 4, 4, 4)],
];
const optimizers: Array<[string, (w: Var) => Optimizer]> = [
  ['AdamW', (w) => new AdamW([w], { lr: 0.02, weightDecay: 0.1 })],
  [
    'SGD Nesterov + decay',
    (w) => new SGD([w], { lr: 0.02, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
  ],
];

for (const [pname, mask] of patterns) {
  for (const [oname, make] of optimizers) {
    test(`masked parameter (${pname}, ${oname}): weights and state exactly zero off the mask for 60 steps`, () => {
      const w = param(w0.clone(), { mask });
      const kept = mask.keptCount;
      const losses = trainMasked(w, make(w), 60);
      assert.ok(losses.at(-1)! < 0.8 * losses[0]!, `loss ${losses[0]} → ${losses.at(-1)}`);
      let moved = 0;
      for (let j = 0; j < w.size; j++) if (w.mask![j] && w.value.data[j] !== w0.data[j]) moved++;
      assert.equal(moved, kept, 'every kept weight trained');
    });
  }
}

test('masked parameter: the gradient off the mask is ignored even when it is large', () => {
  const mask = pruneNM(abs(w0), { n: 2, m: 4 });
  const w = param(w0.clone(), { mask });
  const opt = new AdamW([w], { lr: 0.1 });
  w.grad = new Tensor(new Float32Array(w.size).fill(100), w.shape);
  opt.step();
  for (let j = 0; j < w.size; j++) if (mask.pruned[j]) assert.equal(w.value.data[j], 0);
});

test('sparse N:M weight with a partial last group: padding slots stay zero and the matrix stays valid', () => {
  // 3:4 over 10 columns: the last group is 2 wide, so each row has one padding slot
  const dense = randn([M, 10], 5);
  for (let i = 0; i < M; i++) for (let g = 0; g < 10; g += 4) dense.data[i * 10 + g] = 0; // ≤ 3 per group
  const w = sparseParam(nmFromDense(dense, 3, 4));
  const padding = [...w.values.mask!].filter((b) => b === 0).length;
  assert.equal(padding, M);
  const x = constant(randn([T, 10], 6));
  const opt = new AdamW([w.values], { lr: 0.05 });
  const losses: number[] = [];
  for (let s = 0; s < 30; s++) {
    opt.zeroGrad();
    const d = sub(linear(x, w), Y);
    const loss = mean(mul(d, d));
    losses.push(loss.value.data[0]!);
    backward(loss);
    opt.step();
  }
  w.values.mask!.forEach((keep, j) => {
    if (!keep) assert.equal(w.matrix.values[j], 0);
  });
  nmValidate(w.matrix as Parameters<typeof nmValidate>[0]);
  assert.ok(losses.at(-1)! < 0.8 * losses[0]!);
});
