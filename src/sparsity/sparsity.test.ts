import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randn } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import {
  explicitBudget,
  owlNMZeros,
  owlOutlierRatio,
  owlSparsities,
  parseSparsity,
  roundHalfEven,
} from './budget.js';
import { countZeros, Mask, totalDensity } from './mask.js';
import {
  pruneBlocks,
  pruneNM,
  pruneReferenceThreshold,
  pruneSmallestGlobal,
  pruneSmallestPerLayer,
  pruneSmallestPerRow,
  smallestUnits,
} from './select.js';

/** Stable ascending argsort (ties to the lower index): the brute-force definition every selector matches. */
function argsort(v: ArrayLike<number>): number[] {
  return Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a]! - v[b]! || a - b);
}

describe('Mask', () => {
  it('counts density from its bits and zeroes exactly the pruned entries', () => {
    const w = randn([6, 10], 1);
    const m = pruneSmallestPerRow(w, 3);
    assert.equal(m.prunedCount, 18);
    assert.equal(m.sparsity, 0.3);
    assert.ok(Math.abs(m.density - 0.7) < 1e-15);
    const pw = m.apply(w);
    assert.equal(countZeros(pw), m.prunedCount);
    assert.deepEqual(Mask.fromZeros(pw).pruned, m.pruned);
    assert.deepEqual([...m.rowCounts()], [3, 3, 3, 3, 3, 3]);
    assert.deepEqual(totalDensity([m, new Mask(2, 5)]), { kept: 52, total: 70, density: 52 / 70 });
  });

  it('rejects a mismatched weight', () => {
    assert.throws(() => new Mask(2, 3).apply(randn([3, 2])), /w is \[3, 2\] but the mask is \[2, 3\]/);
  });
});

describe('selectors', () => {
  it('per-row, per-layer and global top-k match a stable sort', () => {
    const s = randn([7, 12], 2);
    s.data[5] = s.data[6]!; // a tie: the lower column goes first
    const row = pruneSmallestPerRow(s, 5);
    for (let r = 0; r < 7; r++) {
      const want = argsort(s.data.subarray(r * 12, r * 12 + 12)).slice(0, 5);
      for (let c = 0; c < 12; c++) assert.equal(row.isPruned(r, c), want.includes(c));
    }
    const layer = pruneSmallestPerLayer(s, 30);
    const want = new Set(argsort(s.data).slice(0, 30));
    for (let i = 0; i < s.size; i++) assert.equal(layer.pruned[i] === 1, want.has(i));
    const a = randn([3, 4], 3);
    const b = randn([2, 6], 4);
    const [ma, mb] = pruneSmallestGlobal([a, b], 9);
    const both = Float32Array.from([...a.data, ...b.data]);
    const g = new Set(argsort(both).slice(0, 9));
    assert.deepEqual(
      [...ma!.pruned, ...mb!.pruned],
      [...both].map((_, i) => (g.has(i) ? 1 : 0)),
    );
  });

  it('the reference threshold prunes floor(s·n) + 1 entries, plus ties', () => {
    const s = Tensor.from([5, 1, 3, 3, 2, 8, 3, 9], [2, 4]);
    // sorted: 1 2 3 3 3 5 8 9; floor(0.25·8) = 2 → t = 3 → prunes 1, 2 and all three 3s
    assert.equal(pruneReferenceThreshold(s, 0.25).prunedCount, 5);
    assert.equal(pruneReferenceThreshold(randn([4, 4]), 0).prunedCount, 1);
  });

  it('N:M prunes exactly N per aligned group, the smallest', () => {
    for (const [n, m] of [
      [2, 4],
      [4, 8],
      [1, 3],
      [5, 8],
    ] as const) {
      const s = randn([5, 3 * m * 2], n * 10 + m);
      const mask = pruneNM(s, { n, m });
      for (let g = 0; g < s.size; g += m) {
        const grp = s.data.subarray(g, g + m);
        const want = argsort(grp).slice(0, n);
        for (let i = 0; i < m; i++) assert.equal(mask.pruned[g + i] === 1, want.includes(i));
      }
      assert.equal(mask.prunedCount, (s.size / m) * n);
    }
    assert.throws(() => pruneNM(randn([2, 6]), { n: 2, m: 4 }), /multiple of M/);
  });

  it('blocks and units prune the smallest sums whole', () => {
    const s = Tensor.from([1, 1, 9, 9, 1, 1, 9, 9, 5, 5, 0, 0, 5, 5, 0, 0], [4, 4]);
    const m = pruneBlocks(s, 2, 2, 2);
    assert.deepEqual([...m.pruned], [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1]);
    assert.deepEqual([...smallestUnits([3, 1, 1, 0], 2)], [1, 3]);
  });

  it('NaN or Inf in scores is an error', () => {
    const s = randn([2, 4]);
    s.data[3] = Number.NaN;
    assert.throws(() => pruneSmallestPerRow(s, 1), /finite/);
    assert.throws(() => pruneNM(s, { n: 2, m: 4 }), /finite/);
    assert.throws(() => smallestUnits([1, Number.POSITIVE_INFINITY], 1), /finite/);
  });
});

describe('budgets', () => {
  it('parses fractions and N:M, rejecting everything else with the fix', () => {
    assert.deepEqual(parseSparsity('0.5'), { kind: 'unstructured', sparsity: 0.5 });
    assert.deepEqual(parseSparsity('2:4'), { kind: 'nm', n: 2, m: 4 });
    for (const bad of ['1', '1.5', '-0.1', '0.5x', '4:4', '0:4', '2:', 'abc']) {
      assert.throws(() => parseSparsity(bad), /sparsity must be a fraction in \[0, 1\).*or N:M/);
    }
  });

  it('explicit per-layer budgets name missing and unknown layers', () => {
    assert.throws(() => explicitBudget(['a', 'b'], new Map([['a', 0.5]])), /no entry for "b"/);
    assert.throws(() => explicitBudget(['a'], new Map([['z', 0.5]])), /"z", which is not a prunable/);
    assert.throws(() => explicitBudget(['a'], new Map([['a', 1]])), /in \[0, 1\)/);
  });

  it('OWL keeps the mean at S, spreads exactly 2λ, and gives outliers less sparsity', () => {
    const D = [1, 4, 2, 9, 3];
    const s = owlSparsities(D, 0.7, 0.08);
    assert.ok(Math.abs(s.reduce((a, b) => a + b) / 5 - 0.7) < 1e-12);
    assert.ok(Math.abs(Math.max(...s) - Math.min(...s) - 0.16) < 1e-12);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) if (D[i]! > D[j]!) assert.ok(s[i]! < s[j]!);
    assert.deepEqual(owlSparsities([2, 2, 2], 0.6, 0.08), [0.6, 0.6, 0.6]);
    assert.deepEqual(
      owlSparsities(D, 0.7, 0),
      [0.7, 0.7, 0.7, 0.7, 0.7].map((v) => 1 - (1 - v)),
    );
    // the card's verified example: D = [1,…,1,9], N = 5, λ = 2 → one block gets 3 zeros
    assert.deepEqual(owlNMZeros([1, 1, 1, 1, 1, 1, 1, 9], 5, 8, 2), [5, 5, 5, 5, 5, 5, 5, 3]);
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5].map(roundHalfEven), [0, 2, 2, -0, -2]);
    assert.equal(
      owlOutlierRatio(
        [
          [1, 1, 1, 1],
          [1, 1, 1, 13],
        ],
        3,
      ),
      12.5,
    );
  });
});
