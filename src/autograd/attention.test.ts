import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setBackendMode } from '../backend/dispatch.js';
import { onEveryRuntime } from '../backend/ops/testing.js';
import { relError, TOL } from '../backend/tolerances.js';
import { randn } from '../tensor/random.js';
import type { Shape } from '../tensor/tensor.js';
import { attention } from './attention.js';
import { mul, sum } from './elementwise.js';
import { gradcheck } from './gradcheck.js';
import { backward, constant, param, type Var } from './tape.js';

const p = (shape: Shape, seed: number) => param(randn(shape, seed));

test('gradcheck through the attention backward kernel: several tiles, GQA, odd head dim, block mask', () => {
  // Query and key blocks of 4 over 9 positions (3 × 3 tiles, last ones partial), 4 heads over 2 kv heads.
  const blockMask = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i % 5 === 3 ? 0 : 1));
  const cases: Array<[string, (q: Var, k: Var, v: Var) => Var, Shape, Shape]> = [
    ['causal', (q, k, v) => attention(q, k, v, { blockSize: 4 }), [4, 9, 5], [2, 9, 5]],
    ['block mask', (q, k, v) => attention(q, k, v, { blockSize: 4, blockMask }), [4, 9, 5], [2, 9, 5]],
    ['queries after a prefix', (q, k, v) => attention(q, k, v, { blockSize: 4 }), [2, 3, 8], [1, 9, 8]],
    [
      'not causal',
      (q, k, v) => attention(q, k, v, { blockSize: 4, causal: false, scale: 0.4 }),
      [2, 6, 4],
      [2, 7, 4],
    ],
  ];
  onEveryRuntime((where) => {
    cases.forEach(([name, f, qs, ks], i) => {
      const r = gradcheck(f, [p(qs, 10 * i), p(ks, 10 * i + 1), p(ks, 10 * i + 2)]);
      assert.ok(r.checked > 0 && r.ok, `${name}, ${where}: ${JSON.stringify(r.worst)}`);
    });
  });
});

test('autograd attention at a training shape: kernel gradients equal the TypeScript twin', () => {
  const q = p([6, 130, 64], 1);
  const k = p([2, 130, 64], 2);
  const v = p([2, 130, 64], 3);
  const r = constant(randn([6, 130, 64], 4));
  const grads = () => {
    for (const x of [q, k, v]) x.grad = null;
    backward(sum(mul(attention(q, k, v), r)));
    return [q.grad!.data, k.grad!.data, v.grad!.data];
  };
  setBackendMode('reference');
  let want: Float32Array[];
  try {
    want = grads();
  } finally {
    setBackendMode('auto');
  }
  onEveryRuntime((where) => {
    grads().forEach((g, i) => {
      const err = relError(g, want[i]!);
      assert.ok(
        err <= TOL.attentionBackward,
        `${'qkv'[i]}, ${where}: error ${err} > ${TOL.attentionBackward}`,
      );
    });
  });
});
