// linearT (feature-major linear): gradcheck with dense and sparse weights in every format, and the same values
// and gradients as `linear` on the transposed activations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toDense, toFormat } from '../formats/index.js';
import { nmPruneMagnitude } from '../formats/nm.js';
import { randn, sparsify } from '../tensor/random.js';
import { mul as mul2, sum } from './elementwise.js';
import { gradcheck } from './gradcheck.js';
import { linear, linearT, type SparseWeight, sparseParam } from './linear.js';
import { transpose } from './shape.js';
import { backward, param, type Var } from './tape.js';

let seed = 900;
const p = (shape: number[]) => param(randn(shape, seed++));

function check(what: string, f: (...v: Var[]) => Var, inputs: Var[]): void {
  const r = gradcheck(f, inputs);
  assert.ok(r.ok, `${what}: ${JSON.stringify(r.worst)}`);
}

const formats = () => [
  toFormat(sparsify(randn([6, 10], 1), 0.6, 2), { format: 'csr' }),
  toFormat(sparsify(randn([6, 10], 1), 0.6, 2), { format: 'coo' }),
  toFormat(sparsify(randn([6, 10], 1), 0.6, 2), { format: 'bitmask' }),
  toFormat(nmPruneMagnitude(randn([6, 10], 3), 2, 4), { format: 'nm', n: 2, m: 4 }),
  toFormat(sparsify(randn([6, 10], 4), 0.5, 5), { format: 'bsr', blockRows: 4, blockCols: 4 }),
];

test('gradcheck: linearT with a dense weight and bias, and with sparse weights in every format', () => {
  check('dense', (xt, w, b) => linearT(xt, w, b), [p([10, 5]), p([6, 10]), p([6])]);
  for (const m of formats()) {
    const w = sparseParam(m);
    check(`sparse ${m.format}`, (xt, _values, b) => linearT(xt, w, b), [p([10, 5]), w.values, p([6])]);
  }
});

test('linearT(xᵀ) is linear(x)ᵀ, with the same gradients for x, W and b (dense and CSR)', () => {
  const x = randn([7, 10], 11);
  const w = randn([6, 10], 12);
  const b = randn([6], 13);
  const run = (featureMajor: boolean, sparse: boolean) => {
    const xv = param(x.clone());
    const wv: Var | SparseWeight = sparse
      ? sparseParam(toFormat(sparsify(w, 0.7, 3), { format: 'csr' }))
      : param(w.clone());
    const bv = param(b.clone());
    const y = featureMajor ? transpose(linearT(transpose(xv), wv, bv)) : linear(xv, wv, bv);
    const r = param(randn([7, 6], 14));
    const out = y.value.data.slice();
    backward(sum(mul2(y, r)));
    const wg = 'values' in wv ? wv.values.grad! : wv.grad!;
    return { out, gx: xv.grad!.data, gw: wg.data, gb: bv.grad!.data };
  };
  for (const sparse of [false, true]) {
    const a = run(false, sparse);
    const t = run(true, sparse);
    for (const k of ['out', 'gx', 'gw', 'gb'] as const) {
      const d = a[k].reduce((m, v, i) => Math.max(m, Math.abs(v - t[k][i]!)), 0);
      assert.ok(d < 1e-5, `${sparse ? 'csr' : 'dense'} ${k}: max diff ${d}`);
    }
  }
  assert.throws(() => linearT(p([9, 5]), p([6, 10])), /xt must be \[10, T\]/);
});

test("a sparse weight's CSR of Wᵀ follows its values: dX after an in-place update (optimizer step) uses them", () => {
  const w = sparseParam(toFormat(sparsify(randn([6, 10], 21), 0.7, 22), { format: 'csr' }));
  const xt = randn([10, 5], 23);
  const dX = () => {
    const x = param(xt.clone());
    backward(sum(linearT(x, w)));
    w.values.grad = null;
    return x.grad!.data;
  };
  // dXᵀ of sum(W·xᵀ) is Wᵀ·1: the column sums of the current W, once per token
  const want = () => {
    const dense = toDense(w.matrix).data;
    const out = new Float32Array(50);
    for (let k = 0; k < 10; k++) {
      let s = 0;
      for (let i = 0; i < 6; i++) s += dense[i * 10 + k]!;
      out.fill(s, k * 5, k * 5 + 5);
    }
    return out;
  };
  const close = (got: Float32Array, what: string) => {
    const ref = want();
    const d = got.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i]!)), 0);
    assert.ok(d < 1e-5, `${what}: max diff ${d}`);
  };
  close(dX(), 'first backward');
  close(dX(), 'second backward, values unchanged (the cached Wᵀ)');
  const v = w.values.value.data;
  for (let i = 0; i < v.length; i++) v[i] = 2 * v[i]! - 0.25; // what an optimizer step does, then:
  w.values.changed();
  close(dX(), 'after the values changed');
});
