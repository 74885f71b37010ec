import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { setBackendMode } from '../dispatch.js';
import { softmaxRef } from '../reference/softmax.js';
import { relError, TOL } from '../tolerances.js';
import { useRuntime } from '../wasm.js';
import { softmax } from './softmax.js';
import { onEveryRuntime } from './testing.js';

test('softmax matches its twin on every row (odd widths, large logits, any leading shape)', () => {
  const shapes = [[1, 1], [3, 5], [17, 64], [64, 1001], [2, 3, 7], [10], [600, 130]];
  const inputs = shapes.map((shape, s) => {
    const x = randn(shape, s);
    for (let i = 0; i < x.size; i++) x.data[i] = x.data[i]! * 30; // logits far from 0: needs the max shift
    return x;
  });
  const expected = inputs.map((x) => {
    const y = Tensor.zeros(x.shape);
    softmaxRef(x.data, y.data, x.size / x.cols, x.cols);
    return y;
  });
  onEveryRuntime((where) => {
    inputs.forEach((x, s) => {
      const y = softmax(x);
      assert.deepEqual(y.shape, x.shape);
      const err = relError(y.data, expected[s]!.data);
      assert.ok(err <= TOL.softmax, `[${x.shape}] ${where}: error ${err} > TOL.softmax ${TOL.softmax}`);
    });
  });
});

test('softmax keeps every probability of long rows to TOL.softmaxElement relative (blocked row sums)', () => {
  const x = randn([4, 100_000], 5);
  for (let i = 0; i < x.size; i++) x.data[i] = x.data[i]! * 3;
  const want = new Float32Array(x.size);
  softmaxRef(x.data, want, 4, 100_000);
  onEveryRuntime((where) => {
    const got = softmax(x).data;
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / want[i]!);
    assert.ok(worst <= TOL.softmaxElement, `${where}: relative error ${worst} > TOL.softmaxElement`);
  });
});

test('softmax: known values, rows sum to 1, −∞ gets 0, an all −∞ row gives zeros', () => {
  const x = Tensor.from(
    [0, Math.log(3), 0, 0, 1000, 1000, -1000, 5, Number.NEGATIVE_INFINITY, 2, Number.NEGATIVE_INFINITY, 2],
    [6, 2],
  );
  const inf = Number.NEGATIVE_INFINITY;
  const allInf = Tensor.from([inf, inf, inf, inf, inf, 1, 2, 3, 4, 5], [2, 5]);
  const check = (where: string) => {
    const y = softmax(x);
    const want = [0.25, 0.75, 0.5, 0.5, 0.5, 0.5, 0, 1, 0, 1, 0, 1];
    assert.ok(relError(y.data, want) <= TOL.softmax, `${where}: ${[...y.data]}`);
    const z = softmax(allInf);
    assert.deepEqual([...z.data.subarray(0, 5)], [0, 0, 0, 0, 0], `${where}: all −∞ row`);
    const sum = z.data.subarray(5).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) <= TOL.softmax, `${where}: row sum ${sum}`);
  };
  onEveryRuntime(check);
  setBackendMode('reference');
  try {
    check('reference');
  } finally {
    setBackendMode('auto');
  }
});

test('the SIMD exp is within TOL.exp relative error of Math.exp over [-87.3, 88], and exp(−∞) = 0', () => {
  const n = 1 << 18;
  const x = new Float32Array(n + 2);
  for (let i = 0; i < n; i++) x[i] = -87.3 + ((88 + 87.3) * i) / (n - 1);
  x[n] = Number.NEGATIVE_INFINITY;
  x[n + 1] = -200;
  for (const variant of ['simd', 'relaxed'] as const) {
    const rt = useRuntime({ variant, threads: 1 });
    const xp = rt.upload(x);
    const yp = rt.alloc(x.byteLength);
    try {
      rt.kernels.exp_f32!(xp, yp, x.length);
      const y = rt.f32(yp, x.length);
      let worst = 0;
      for (let i = 0; i < n; i++)
        worst = Math.max(worst, Math.abs(y[i]! - Math.exp(x[i]!)) / Math.exp(x[i]!));
      assert.ok(worst <= TOL.exp, `${variant}: max relative error ${worst} > TOL.exp ${TOL.exp}`);
      assert.deepEqual([y[n], y[n + 1]], [0, 0], `${variant}: exp(−∞) and exp(−200) flush to 0`);
    } finally {
      rt.free(xp);
      rt.free(yp);
    }
  }
});

test('softmax: names the argument when it is not a tensor', () => {
  assert.throws(() => softmax([1, 2] as unknown as Tensor), /softmax: x must be a Tensor/);
  assert.throws(() => softmax(Tensor.zeros([])), /softmax: x must have at least one axis/);
});
