/**
 * SparseGPT against the PyTorch reference: test/fixtures/prune/sparsegpt-*.json hold a small layer, its
 * calibration inputs X and Hessian H, and the mask and pruned weights of a float64 `fasterprune` written from
 * the paper (scripts/fixtures/make_prune_fixtures.py). sparsekit must choose the same mask and reconstruct the
 * same weights; its own statistics from X must give the same H.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sparsegpt } from '../src/prune/sparsegpt.js';
import { InputStats } from '../src/prune/stats.js';
import { Tensor } from '../src/tensor/tensor.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/prune/', import.meta.url));

interface Case {
  description: string;
  rows: number;
  cols: number;
  options: { sparsity?: number; prunen?: number; prunem?: number; blocksize: number };
  W: number[];
  X: number[];
  X_shape: [number, number, number];
  H: number[];
  expected_mask: number[];
  expected_weight: number[];
  expected_loss: number;
}

/** Pruned weights agree with the float64 reference to this (absolute, on O(1) weights). */
const WEIGHT_TOL = 1e-5;

const files = readdirSync(FIXTURES).filter((f) => f.startsWith('sparsegpt-') && f.endsWith('.json'));

describe('SparseGPT matches the PyTorch reference', () => {
  test('the fixtures exist', () => assert.ok(files.length >= 4));
  for (const f of files) {
    const c = JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as Case;
    test(`${f}: ${c.description}`, () => {
      const w = new Tensor(Float32Array.from(c.W), [c.rows, c.cols]);
      const o = c.options;
      const nm = o.prunen ? { n: o.prunen, m: o.prunem! } : undefined;
      const r = sparsegpt(w, Float64Array.from(c.H), {
        blocksize: o.blocksize,
        ...(nm ? { nm } : { sparsity: o.sparsity! }),
      });
      assert.deepEqual([...r.mask.pruned], c.expected_mask, 'same mask');
      let worst = 0;
      for (let i = 0; i < c.W.length; i++)
        worst = Math.max(worst, Math.abs(r.weight.data[i]! - c.expected_weight[i]!));
      assert.ok(worst < WEIGHT_TOL, `max |Δw| = ${worst}`);
      assert.ok(
        Math.abs(r.loss - c.expected_loss) < 1e-6 * c.expected_loss,
        `loss ${r.loss} vs ${c.expected_loss}`,
      );
      // sparsekit's own statistics from X give the same Hessian, hence the same mask
      const [N, T, C] = c.X_shape;
      const st = new InputStats(C, { gram: true });
      for (let n = 0; n < N; n++)
        st.observe(new Tensor(Float32Array.from(c.X.slice(n * T * C, (n + 1) * T * C)), [T, C]));
      const H = st.hessian();
      for (let i = 0; i < H.length; i++)
        assert.ok(Math.abs(H[i]! - c.H[i]!) < 1e-4 * (1 + Math.abs(c.H[i]!)));
      const r2 = sparsegpt(w, H, { blocksize: o.blocksize, ...(nm ? { nm } : { sparsity: o.sparsity! }) });
      assert.deepEqual([...r2.mask.pruned], c.expected_mask, 'same mask from sparsekit statistics');
    });
  }
});
