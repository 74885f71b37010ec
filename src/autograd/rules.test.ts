// Every gradient rule against central finite differences (gradcheck), on small random inputs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toFormat } from '../formats/index.js';
import { nmPruneMagnitude } from '../formats/nm.js';
import { randn, sparsify } from '../tensor/random.js';
import type { Shape } from '../tensor/tensor.js';
import { attention } from './attention.js';
import { avgPool2d, conv2d, maxPool2d } from './conv.js';
import * as E from './elementwise.js';
import { dropout, embedding, rope } from './embedding.js';
import { type GradcheckOptions, gradcheck } from './gradcheck.js';
import { linear, matmul, sparseParam } from './linear.js';
import { crossEntropy, logSoftmax, softmax } from './loss.js';
import { layerNorm, rmsNorm } from './norm.js';
import { Rng } from './rng.js';
import { concat, permute, reshape, slice, transpose } from './shape.js';
import { backward, constant, param, type Var } from './tape.js';

let seed = 100;
const p = (shape: Shape, scale = 1) => {
  const t = randn(shape, seed++);
  for (let i = 0; i < t.size; i++) t.data[i]! *= scale;
  return param(t);
};
/** Like p, but every |x| ≥ 0.1, so ±eps never crosses a kink at 0 (ReLU, max). */
const away = (shape: Shape) => {
  const v = p(shape);
  const d = v.value.data;
  for (let i = 0; i < d.length; i++) d[i] = Math.sign(d[i]!) * (Math.abs(d[i]!) + 0.1);
  return v;
};

function check(name: string, f: (...v: Var[]) => Var, inputs: Var[], opts: GradcheckOptions = {}): void {
  const r = gradcheck(f, inputs, opts);
  assert.ok(r.checked > 0, `${name}: nothing checked`);
  assert.ok(
    r.ok,
    `${name}: input ${r.worst.input}[${r.worst.index}] analytic ${r.worst.analytic} vs numeric ${r.worst.numeric}`,
  );
}

test('gradcheck: elementwise rules (add/sub/mul with broadcast, scale, addScalar, sum, mean)', () => {
  check('add', E.add, [p([3, 4]), p([4])]);
  check('add scalar-shaped', E.add, [p([2, 3]), p([1])]);
  check('sub', E.sub, [p([2, 3, 4]), p([3, 4])]);
  check('mul', E.mul, [p([3, 4]), p([3, 4])]);
  check('mul broadcast', E.mul, [p([5, 2]), p([2])]);
  check('scale', (x) => E.scale(x, -1.5), [p([6])]);
  check('addScalar', (x) => E.addScalar(x, 3), [p([6])]);
  check('sum', E.sum, [p([2, 3])]);
  check('mean', E.mean, [p([2, 3])]);
});

test('gradcheck: activations (ReLU, ReLU², GELU erf and tanh, SiLU, sigmoid, tanh, exp)', () => {
  for (const name of Object.keys(E.UNARY)) check(name, (x) => E.unary(x, E.UNARY[name]!), [away([4, 5])]);
  check('relu export', E.relu, [away([7])]);
  check('gelu export', E.gelu, [p([7])]);
});

test('gradcheck: shape rules (reshape, permute, transpose, slice, concat)', () => {
  check('reshape', (x) => reshape(x, [-1, 2]), [p([3, 4])]);
  check('permute', (x) => permute(x, [1, 2, 0]), [p([2, 3, 4])]);
  check('transpose', transpose, [p([3, 5])]);
  check('slice last', (x) => slice(x, 1, 4), [p([2, 6])]);
  check('slice axis 0', (x) => slice(x, 1, 3, 0), [p([4, 3])]);
  check('concat', (a, b) => concat([a, b]), [p([2, 3]), p([2, 2])]);
  check('concat axis 0', (a, b) => concat([a, b], 0), [p([1, 3]), p([2, 3])]);
});

test('gradcheck: linear and matmul with dense weights (through the WebAssembly GEMM)', () => {
  check('linear', (x, w, b) => linear(x, w, b), [p([5, 6]), p([4, 6]), p([4])]);
  check('linear 3-d x', (x, w) => linear(x, w), [p([2, 3, 6]), p([4, 6])]);
  check('linear one row', (x, w) => linear(x, w), [p([1, 6]), p([3, 6])]);
  check('matmul', matmul, [p([3, 5]), p([5, 4])]);
});

test('gradcheck: linear with sparse weights in every format (dX by Wᵀ kernel, dW by SDDMM at kept entries)', () => {
  const dense = sparsify(randn([6, 10], 1), 0.6, 2);
  const weights = [
    toFormat(dense, { format: 'csr' }),
    toFormat(dense, { format: 'coo' }),
    toFormat(dense, { format: 'bitmask' }),
    toFormat(nmPruneMagnitude(randn([6, 10], 3), 2, 4), { format: 'nm', n: 2, m: 4 }),
    toFormat(sparsify(randn([6, 10], 4), 0.5, 5), { format: 'bsr', blockRows: 4, blockCols: 4 }),
  ];
  for (const m of weights) {
    const w = sparseParam(m);
    check(`sparse ${m.format}`, (x, _values, b) => linear(x, w, b), [p([5, 10]), w.values, p([6])]);
  }
});

test('gradcheck: embedding, LayerNorm, RMSNorm, rope', () => {
  check('embedding (repeated ids)', (t) => embedding(t, [2, 0, 2, 4]), [p([5, 3])]);
  check('layerNorm', (x, g, b) => layerNorm(x, g, b), [p([3, 6]), p([6]), p([6])]);
  check('rmsNorm', (x, g) => rmsNorm(x, g), [p([3, 6]), p([6])]);
  const inv = Float32Array.from([1, 0.1, 0.01]);
  check('rope', (x) => rope(x, inv, 3), [p([2, 4, 6])]);
});

test('gradcheck: softmax, log-softmax, cross-entropy with an ignored target', () => {
  check('softmax', softmax, [p([3, 5])]);
  check('logSoftmax', logSoftmax, [p([3, 5])]);
  check('crossEntropy', (x) => crossEntropy(x, [1, -100, 4, 0]), [p([4, 5])]);
});

test('gradcheck: causal attention (MHA, GQA, queries after a prefix, block mask)', () => {
  check('mha', (q, k, v) => attention(q, k, v), [p([2, 5, 4]), p([2, 5, 4]), p([2, 5, 4])]);
  check('gqa', (q, k, v) => attention(q, k, v), [p([4, 3, 4]), p([2, 3, 4]), p([2, 3, 4])]);
  check('tq<tk', (q, k, v) => attention(q, k, v), [p([1, 2, 4]), p([1, 5, 4]), p([1, 5, 4])]);
  check('not causal', (q, k, v) => attention(q, k, v, { causal: false }), [
    p([1, 3, 4]),
    p([1, 4, 4]),
    p([1, 4, 4]),
  ]);
  const blockMask = Uint8Array.from([1, 0, 1, 1]); // [H=1, 2 query blocks, 2 key blocks] of size 2
  check('block mask', (q, k, v) => attention(q, k, v, { blockSize: 2, blockMask }), [
    p([1, 4, 4]),
    p([1, 4, 4]),
    p([1, 4, 4]),
  ]);
});

test('gradcheck: dropout with a fixed seed', () => {
  check('dropout', (x) => dropout(x, 0.3, new Rng(5)), [p([4, 5])]);
});

test('gradcheck: conv2d 3×3 padded and 1×1, max and average pooling', () => {
  check('conv3x3', (x, w, b) => conv2d(x, w, b, 1), [p([2, 2, 5, 4]), p([3, 2, 3, 3]), p([3])]);
  check('conv1x1', (x, w) => conv2d(x, w), [p([1, 3, 3, 3]), p([2, 3, 1, 1])]);
  check('maxPool', (x) => maxPool2d(x, 2), [p([1, 2, 4, 6])]);
  check('avgPool', (x) => avgPool2d(x, 2, 1), [p([1, 2, 3, 4])]);
});

test('gradcheck catches a wrong rule', () => {
  const r = gradcheck((v) => E.scale(E.relu(v), 1), [away([4])]);
  assert.ok(r.ok);
  // exp with the derivative of relu is wrong, and gradcheck says so
  const bad = { f: Math.exp, df: () => 1 };
  assert.equal(gradcheck((v) => E.unary(v, bad), [p([4])]).ok, false);
});

test('sparse weight with denseGrad: the dense dW equals the dense layer gradient, kept entries agree with SDDMM', () => {
  const dense = sparsify(randn([6, 10], 11), 0.7, 12);
  const w = sparseParam(toFormat(dense, { format: 'csr' }), { denseGrad: true });
  const wd = param(dense.clone());
  const x = p([5, 10]);
  const r = constant(randn([5, 6], 13));
  backward(E.sum(E.mul(linear(x, w), r)));
  backward(E.sum(E.mul(linear(x, wd), r)));
  const dW = w.denseGradient!.data;
  wd.grad!.data.forEach((g, i) => {
    assert.ok(Math.abs(dW[i]! - g) < 1e-5, `dense dW[${i}]`);
  });
  w.pattern.slot.forEach((s, q) => {
    const row = w.pattern.rowPtr.findIndex((_, i) => w.pattern.rowPtr[i + 1]! > q);
    assert.ok(Math.abs(w.values.grad!.data[s]! - dW[row * 10 + w.pattern.colIdx[q]!]!) < 1e-5);
  });
});
