import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import {
  activateRef,
  type KernelActivation,
  rmsNormRef,
  swigluBackwardRef,
} from '../reference/activation.js';
import { inKernelMemory, kernelArray, kernelOffset } from '../resident.js';
import { relError, TOL } from '../tolerances.js';
import { runtime } from '../wasm.js';
import { activate, rmsNorm, rmsNormInto, swigluBackward } from './activation.js';
import { onEveryRuntime } from './testing.js';

const ACTS: KernelActivation[] = ['silu', 'gelu_tanh', 'gelu'];
// odd lengths (scalar tails), and one long enough to split across threads
const LENGTHS = [1, 5, 17, 1000, 70001];
const SPECIAL = [-100, -30, -9, -5, -1e-3, -0, 0, 1e-3, 5, 9, 30, 100];

function input(n: number, seed: number): Float32Array {
  const x = randn([n], seed).data.map((v) => 4 * v);
  x.set(SPECIAL.slice(0, n));
  return x;
}

test('activate: SiLU, GELU tanh and GELU erf, plain and gated, match the exact functions', () => {
  let worst = 0;
  onEveryRuntime((where) => {
    for (const act of ACTS) {
      for (const n of LENGTHS) {
        for (const gated of [false, true]) {
          const x = input(n, n);
          const gate = gated ? randn([n], n + 1).data : undefined;
          const want = x.slice();
          activateRef(want, act, gate);
          const got = activate(x.slice(), act, gate);
          const e = relError(got, want);
          worst = Math.max(worst, e);
          assert.ok(e <= TOL.activation, `${where} ${act} n=${n} gated=${gated}: error ${e}`);
        }
      }
    }
  });
  assert.ok(worst > 0, 'the kernels ran (they round differently from f64)');
});

test('activate: known values, NaN stays NaN, large inputs saturate without Inf or NaN', () => {
  const x = Float32Array.from([0, 1, -1, 100, -100, Number.NaN]);
  const silu = activate(x.slice(), 'silu');
  assert.ok(Math.abs(silu[1]! - 0.7310586) < 1e-6);
  assert.ok(Math.abs(silu[2]! + 0.2689414) < 1e-6);
  assert.equal(silu[3], 100);
  assert.ok(Math.abs(silu[4]!) < 1e-30);
  assert.ok(Number.isNaN(silu[5]));
  for (const act of ['gelu', 'gelu_tanh'] as const) {
    const g = activate(x.slice(), act);
    assert.equal(g[0], 0);
    assert.ok(Math.abs(g[1]! - (act === 'gelu' ? 0.8413447 : 0.841192)) < 1e-6, `${act}(1) = ${g[1]}`);
    assert.equal(g[3], 100);
    assert.ok(Math.abs(g[4]!) < 1e-30, `${act}(-100) = ${g[4]}`);
    assert.ok(Number.isNaN(g[5]));
  }
});

test('rmsNorm matches the transformers-order twin on odd widths and many rows', () => {
  onEveryRuntime((where) => {
    for (const [R, C] of [
      [1, 1],
      [3, 5],
      [64, 576],
      [130, 17],
    ] as const) {
      const x = randn([R, C], R + C);
      const w = randn([C], 7);
      const want = new Float32Array(R * C);
      rmsNormRef(x.data, w.data, want, C, 1e-5);
      const got = rmsNorm(x, w, 1e-5);
      assert.deepEqual(got.shape, [R, C]);
      const e = relError(got.data, want);
      assert.ok(e <= TOL.rmsnorm, `${where} [${R}, ${C}]: error ${e}`);
    }
  });
});

test('activate and rmsNorm: bad arguments are errors naming them', () => {
  const x = new Float32Array(4);
  assert.throws(
    () => activate(x, 'relu' as KernelActivation),
    /activate: act must be "silu", "gelu_tanh" or "gelu"/,
  );
  assert.throws(
    () => activate(x, 'silu', new Float32Array(3)),
    /activate: gate must be a Float32Array of x's length 4/,
  );
  assert.throws(
    () => rmsNorm(new Tensor(x, [1, 4]), Tensor.zeros([3]), 1e-5),
    /rmsNorm: x's last axis \(4\)/,
  );
});

test('swigluBackward matches its f64 twin on every runtime (odd lengths, thread split, saturated gates)', () => {
  onEveryRuntime((where) => {
    for (const n of LENGTHS) {
      const g = input(n, n + 2);
      const u = randn([n], n + 3).data;
      const dy = randn([n], n + 4).data;
      const want = { dg: new Float32Array(n), du: new Float32Array(n) };
      swigluBackwardRef(g, u, dy, want.dg, want.du);
      const before = [g.slice(), u.slice(), dy.slice()];
      const got = swigluBackward(g, u, dy);
      assert.deepEqual([g, u, dy], before, `${where} n=${n}: inputs untouched`);
      for (const k of ['dg', 'du'] as const) {
        const e = relError(got[k], want[k]);
        assert.ok(e <= TOL.activation, `${where} ${k} n=${n}: error ${e}`);
      }
    }
  });
});

test('swigluBackward: known values (σ(0) = ½, σ(1)), output into given arrays, bad arrays are errors naming them', () => {
  const s1 = 1 / (1 + Math.exp(-1));
  const { dg, du } = swigluBackward(Float32Array.of(0, 1), Float32Array.of(3, 2), Float32Array.of(2, 1));
  assert.ok(Math.abs(dg[0]! - 2 * 3 * 0.5) < 1e-6, `dg(0) = ${dg[0]}`); // dy·u·σ(0)·(1 + 0)
  assert.equal(du[0], 0); // dy·g·σ(g) at g = 0
  assert.ok(Math.abs(dg[1]! - 2 * s1 * (2 - s1)) < 1e-6, `dg(1) = ${dg[1]}`);
  assert.ok(Math.abs(du[1]! - s1) < 1e-6, `du(1) = ${du[1]}`);
  // into given arrays, dg over dy: the same numbers as fresh outputs
  const g = randn([37], 1).data;
  const u = randn([37], 2).data;
  const dy = randn([37], 3).data;
  const fresh = swigluBackward(g, u, dy);
  const duInto = new Float32Array(37);
  const into = swigluBackward(g, u, dy, { dg: dy, du: duInto });
  assert.equal(into.dg, dy);
  assert.deepEqual([...dy], [...fresh.dg]);
  assert.deepEqual([...duInto], [...fresh.du]);
  assert.throws(
    () => swigluBackward(g, u, dy, { dg: duInto, du: duInto }),
    /out.dg and out.du must be different arrays/,
  );
  assert.throws(
    () => swigluBackward(new Float32Array(4), new Float32Array(3), new Float32Array(4)),
    /swigluBackward: u must be a Float32Array of g's length 4/,
  );
});

test('rmsNormInto: kernel arrays in place, the weight too when it is one (edits through it are seen); same numbers as rmsNorm', () => {
  const rt = runtime();
  const C = 24;
  const x = kernelArray(rt, Float32Array, 3 * C);
  x.set(randn([3 * C], 1).data);
  const out = kernelArray(rt, Float32Array, 3 * C);
  const plain = randn([C], 2);
  const inMemory = inKernelMemory(new Tensor(plain.data.slice(), [C]));
  assert.notEqual(kernelOffset(rt, inMemory.data), undefined);
  for (const w of [plain, inMemory]) {
    rmsNormInto(x, w, out, 1e-6);
    assert.deepEqual([...out], [...rmsNorm(new Tensor(x.slice(), [3, C]), w, 1e-6).data]);
  }
  inMemory.data[0] = 7; // an edit of the kernel-memory weight: read in place, no release
  rmsNormInto(x, inMemory, out, 1e-6);
  assert.deepEqual(
    [...out],
    [...rmsNorm(new Tensor(x.slice(), [3, C]), new Tensor(inMemory.data.slice(), [C]), 1e-6).data],
  );
});
