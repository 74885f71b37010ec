/**
 * DSnoT against the PyTorch reference: test/fixtures/prune/dsnot-*.json hold a small layer, its calibration
 * inputs X, the statistics S1, S2, V of the reference's `WrappedGPT.add_batch`, and the initial Wanda mask and
 * refined mask of a float64 lock-step re-implementation of zyxxmu/DSnoT `prune_DSnoT`
 * (scripts/fixtures/make_dsnot_fixtures.py). sparsekit's statistics from X, its Wanda mask and its dsnot,
 * called as pruneModel calls them, must give the same statistics and masks.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dsnot } from '../src/prune/dsnot.js';
import { InputStats } from '../src/prune/stats.js';
import { wandaMask, wandaNMMask, wandaScores } from '../src/prune/wanda.js';
import { Tensor } from '../src/tensor/tensor.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/prune/', import.meta.url));

interface Case {
  description: string;
  rows: number;
  cols: number;
  options: { sparsity?: number; prunen?: number; prunem?: number };
  W: number[];
  X: number[];
  X_shape: [number, number, number];
  S1: number[];
  S2: number[];
  V: number[];
  initial_mask: number[];
  expected_mask: number[];
  expected_swaps: number[];
  expected_err: number[];
  literal_same: boolean;
}

/** Statistics from the same f32 inputs agree with the float64 reference to this (relative). */
const STATS_TOL = 1e-9;

const files = readdirSync(FIXTURES).filter((f) => f.startsWith('dsnot-') && f.endsWith('.json'));

function closeTo(got: ArrayLike<number>, want: number[], what: string): void {
  for (let i = 0; i < want.length; i++) {
    const tol = STATS_TOL * (1 + Math.abs(want[i]!));
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${what}[${i}] = ${got[i]} vs ${want[i]}`);
  }
}

describe('DSnoT matches the PyTorch reference', () => {
  test('the fixtures exist, one of them identical to the published code as is', () => {
    assert.ok(files.length >= 3);
    assert.ok(files.some((f) => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')).literal_same));
  });
  for (const f of files) {
    const c = JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as Case;
    test(`${f}: ${c.description}`, () => {
      const [N, T, C] = c.X_shape;
      const st = new InputStats(C, { norms: true, moments: true });
      for (let n = 0; n < N; n++)
        st.observe(new Tensor(Float32Array.from(c.X.slice(n * T * C, (n + 1) * T * C)), [T, C]));
      const stats = { S1: st.columnSums(), S2: st.squaredNorms(), V: st.withinVariance() };
      closeTo(stats.S1, c.S1, 'S1');
      closeTo(stats.S2, c.S2, 'S2');
      closeTo(stats.V, c.V, 'V');

      // as pruneModel calls it: the Wanda mask, then dsnot (N:M: the Wanda scores pick the in-group weight)
      const w = new Tensor(Float32Array.from(c.W), [c.rows, c.cols]);
      const o = c.options;
      const nm = o.prunen ? { n: o.prunen, m: o.prunem! } : null;
      const initial = nm ? wandaNMMask(w, stats.S2, nm) : wandaMask(w, stats.S2, o.sparsity!);
      assert.deepEqual([...initial.pruned], c.initial_mask, 'same initial Wanda mask');
      const r = dsnot(w, initial, stats, nm ? { nm, initialScores: wandaScores(w, stats.S2) } : {});
      assert.deepEqual([...r.mask.pruned], c.expected_mask, 'same DSnoT mask');
      assert.deepEqual([...r.swaps], c.expected_swaps, 'same swaps per row');
      for (let i = 0; i < c.rows; i++)
        assert.ok(Math.abs(r.err[i]! - c.expected_err[i]!) < 1e-9 * (1 + Math.abs(c.expected_err[i]!)));
      assert.ok(
        c.expected_mask.some((p, i) => p !== c.initial_mask[i]),
        'the case exercises swaps',
      );
    });
  }
});
