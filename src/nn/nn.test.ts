import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { csrFromDense } from '../formats/csr.js';
import { randn } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { activateInPlace, erf, gelu } from './activation.js';
import { causalSelfAttention, maskedSelfAttention } from './attention.js';
import { Embedding } from './embedding.js';
import { LayerKV } from './kvcache.js';
import { Linear } from './linear.js';
import { LayerNorm, RMSNorm } from './norm.js';
import { transposeData, transposed } from './ops.js';
import { Rotary } from './rope.js';

/** [F, T] feature-major → [T, F]. */
function tokenMajor(t: Tensor): Tensor {
  return new Tensor(transposeData(t.data, t.rows, t.cols), [t.cols, t.rows]);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return e;
}

describe('activations', () => {
  test('erf matches tabulated values to 1e-15', () => {
    const table: Array<[number, number]> = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.49, 0.9648978648432042],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.9, 0.9999589021219005],
      [3.5, 0.9999992569016276],
      [5, 0.9999999999984626],
    ];
    for (const [x, want] of table) {
      assert.ok(Math.abs(erf(x) - want) <= 1e-15, `erf(${x}) = ${erf(x)}, want ${want}`);
      assert.ok(Math.abs(erf(-x) + want) <= 1e-15);
    }
  });
  test('gelu (erf), gelu_tanh, silu, relu at known points', () => {
    assert.ok(Math.abs(gelu(1) - 0.8413447460685429) < 1e-15);
    const x = Float32Array.from([-1, 0, 1, 2]);
    const t = activateInPlace(x.slice(), 'gelu_tanh');
    assert.ok(maxAbsDiff(t, [-0.15880800939172324, 0, 0.8411919906082768, 1.9545976940871317]) < 1e-7);
    assert.ok(
      maxAbsDiff(
        activateInPlace(x.slice(), 'silu'),
        [-0.2689414213699951, 0, 0.7310585786300049, 1.761594155955765],
      ) < 1e-7,
    );
    assert.deepEqual([...activateInPlace(x.slice(), 'relu')], [0, 0, 1, 2]);
  });
});

describe('Linear', () => {
  const w = randn([5, 3], 1);
  const b = randn([5], 2);
  const x = randn([4, 3], 3);
  const want = new Float32Array(20);
  for (let t = 0; t < 4; t++)
    for (let o = 0; o < 5; o++) {
      let s = b.data[o]!;
      for (let i = 0; i < 3; i++) s += x.data[t * 3 + i]! * w.data[o * 3 + i]!;
      want[t * 5 + o] = s;
    }
  test('x [T, in] → x·Wᵀ + b [T, out], one row or many, dense or CSR', () => {
    const l = new Linear(w, b);
    assert.deepEqual(l.forward(x).shape, [4, 5]);
    assert.ok(maxAbsDiff(l.forward(x).data, want) < 1e-6);
    assert.ok(
      maxAbsDiff(l.forward(new Tensor(x.data.slice(3, 6), [1, 3])).data, want.subarray(5, 10)) < 1e-6,
    );
    // feature-major: xᵀ [in, T] → [out, T]
    assert.ok(maxAbsDiff(tokenMajor(l.forwardT(transposed(x))).data, want) < 1e-6);
    l.weight = csrFromDense(w);
    assert.ok(maxAbsDiff(l.forward(x).data, want) < 1e-6);
  });
  test('shape errors name the fix', () => {
    assert.throws(() => new Linear(w, Tensor.zeros([3])), /bias must be \[5\]/);
    assert.throws(
      () => new Linear(w).forward(Tensor.zeros([2, 4])),
      /x has 4 features but the layer takes 3/,
    );
  });
});

describe('norms and embedding', () => {
  test('LayerNorm: zero mean, unit variance before the affine map', () => {
    const n = new LayerNorm(Tensor.from([1, 1, 1, 1]), Tensor.from([0, 0, 0, 0]), 0);
    const y = n.forward(Tensor.from([1, 2, 3, 4], [1, 4])).data;
    const s = Math.sqrt(1.25);
    assert.ok(maxAbsDiff(y, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]) < 1e-6);
  });
  test('RMSNorm: x / rms(x) · weight', () => {
    const n = new RMSNorm(Tensor.from([1, 2]), 0);
    const y = n.forward(Tensor.from([3, 4], [1, 2])).data;
    const rms = Math.sqrt(12.5);
    assert.ok(maxAbsDiff(y, [3 / rms, 8 / rms]) < 1e-6);
  });
  test('Embedding rows by id; out-of-range ids are errors', () => {
    const e = new Embedding(Tensor.from([0, 1, 2, 3, 4, 5], [3, 2]));
    assert.deepEqual([...e.forward([2, 0]).data], [4, 5, 0, 1]);
    assert.throws(() => e.forward([3]), /ids\[0\] is 3/);
  });
});

describe('RoPE', () => {
  test('position 0 is the identity; position p rotates pairs (i, i + d/2) by p·inv_freq[i]', () => {
    const r = new Rotary(Float32Array.from([1, 0.5]));
    const x = Float32Array.from([1, 2, 3, 4]);
    r.apply(x, 1, 1, 0);
    assert.deepEqual([...x], [1, 2, 3, 4]);
    const y = Float32Array.from([1, 0, 0, 1]); // pairs (1, 0) and (0, 1)
    r.apply(y, 1, 1, 2);
    assert.ok(maxAbsDiff(y, [Math.cos(2), -Math.sin(1), Math.sin(2), Math.cos(1)]) < 1e-6);
  });
});

/** Naive attention of one query row over keys, for reference. */
function naive(q: Float32Array, k: Float32Array[], v: Float32Array[], scale: number): Float32Array {
  const s = k.map((kk) => kk.reduce((a, x, i) => a + x * q[i]!, 0) * scale);
  const m = Math.max(...s);
  const e = s.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  const out = new Float32Array(q.length);
  for (let j = 0; j < v.length; j++) for (let i = 0; i < q.length; i++) out[i]! += (e[j]! / z) * v[j]![i]!;
  return out;
}

describe('attention', () => {
  test('causal attention over a partly filled cache (one call per kv head) equals a cache filled exactly', () => {
    const H = 4;
    const Hkv = 2;
    const d = 64;
    const T = 300; // long enough for the per-kv-head path
    const shape = { heads: H, kvHeads: Hkv, headDim: d };
    const q = randn([T, H * d], 1);
    const k = randn([T, Hkv * d], 2);
    const v = randn([T, Hkv * d], 3);
    const exact = new LayerKV(Hkv, d, T);
    const fm = (t: Tensor) => ({ x: transposed(t), offset: 0 }); // the layers take feature-major [F, T]
    const want = causalSelfAttention(fm(q), fm(k), fm(v), shape, exact, 0, null, 0.125);
    const roomy = new LayerKV(Hkv, d, 512);
    const got = tokenMajor(causalSelfAttention(fm(q), fm(k), fm(v), shape, roomy, 0, null, 0.125));
    assert.ok(maxAbsDiff(got.data, tokenMajor(want).data) < 1e-5);
    // last row by hand: head 3 uses kv head 1
    const row = (t: Tensor, r: number, off: number) =>
      t.data.subarray(r * t.cols + off, r * t.cols + off + d);
    const keys = Array.from({ length: T }, (_, j) => row(k, j, d));
    const vals = Array.from({ length: T }, (_, j) => row(v, j, d));
    assert.ok(maxAbsDiff(row(got, T - 1, 3 * d), naive(row(q, T - 1, 3 * d), keys, vals, 0.125)) < 1e-4);
  });
  test('a key padding mask anywhere: every query attends over the real keys only', () => {
    const T = 5;
    const d = 4;
    const q = randn([T, d], 4);
    const k = randn([T, d], 5);
    const v = randn([T, d], 6);
    const mask = [1, 0, 1, 1, 0];
    const shape = { heads: 1, kvHeads: 1, headDim: d };
    const fm = (t: Tensor) => ({ x: transposed(t), offset: 0 });
    const got = tokenMajor(maskedSelfAttention(fm(q), fm(k), fm(v), shape, mask, 0.5));
    const keep = [0, 2, 3];
    const row = (t: Tensor, r: number) => t.data.subarray(r * d, r * d + d);
    for (let t = 0; t < T; t++) {
      const want = naive(
        row(q, t),
        keep.map((j) => row(k, j)),
        keep.map((j) => row(v, j)),
        0.5,
      );
      assert.ok(maxAbsDiff(row(got, t), want) < 1e-5, `row ${t}`);
    }
  });
});

describe('Linear.forwardShared', () => {
  test('equals each layer’s forwardT (biases added, inputs observed) at one and several tokens', () => {
    const layers = [
      new Linear(randn([6, 5], 1), randn([6], 2)),
      new Linear(csrFromDense(randn([3, 5], 3)), null),
      new Linear(randn([4, 5], 4), randn([4], 5)),
    ];
    const seen: string[] = [];
    layers[1]!.onInput = (_x, layout) => seen.push(layout);
    for (const T of [1, 3]) {
      const xt = randn([5, T], 6 + T);
      const got = Linear.forwardShared(layers, xt);
      layers.forEach((l, i) => {
        const want = l.forwardT(xt);
        assert.deepEqual(got[i]!.shape, want.shape);
        assert.deepEqual(got[i]!.data, want.data, `layer ${i}, T=${T}`);
      });
    }
    assert.deepEqual(seen, ['features', 'features', 'features', 'features']);
    assert.throws(() => Linear.forwardShared(layers, randn([4, 1], 9)), /forwardShared: xt has 4 features/);
  });
});
