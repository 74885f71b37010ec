// swiglu (fused silu(g) ⊙ u): gradcheck, and the same values and gradients as mul(silu(g), u).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../tensor/random.js';
import { mul, silu, sum, swiglu } from './elementwise.js';
import { gradcheck } from './gradcheck.js';
import { backward, param } from './tape.js';

test('swiglu passes gradcheck and equals mul(silu(g), u) in value and gradient', () => {
  const r = gradcheck((g, u) => swiglu(g, u), [param(randn([3, 7], 1)), param(randn([3, 7], 2))]);
  assert.ok(r.ok, JSON.stringify(r.worst));
  const run = (fused: boolean) => {
    const g = param(randn([4, 9], 3));
    const u = param(randn([4, 9], 4));
    const y = fused ? swiglu(g, u) : mul(silu(g), u);
    const out = y.value.data.slice();
    backward(sum(mul(y, param(randn([4, 9], 5)))));
    return [out, g.grad!.data, u.grad!.data];
  };
  const a = run(true);
  const b = run(false);
  a.forEach((v, k) => {
    const d = v.reduce((m, x, i) => Math.max(m, Math.abs(x - b[k]![i]!)), 0);
    assert.ok(d < 1e-6, `part ${k}: max diff ${d}`);
  });
  assert.throws(() => swiglu(param(randn([2, 3], 1)), param(randn([3, 2], 1))), /must have one shape/);
});

test('swiglu: one Var as both inputs (x·σ(x)·x), and its output used twice, pass gradcheck', () => {
  const r = gradcheck((x) => swiglu(x, x), [param(randn([2, 9], 6))]);
  assert.ok(r.ok, JSON.stringify(r.worst));
  const twice = gradcheck(
    (g, u) => mul(swiglu(g, u), swiglu(g, u)),
    [param(randn([5], 7)), param(randn([5], 8))],
  );
  assert.ok(twice.ok, JSON.stringify(twice.worst));
});
