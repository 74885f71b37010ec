import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Mask } from '../sparsity/mask.js';
import { randn } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { dsnot } from './dsnot.js';
import { magnitudeGlobalMasks, magnitudeMask, magnitudeNMMask } from './magnitude.js';
import { randomMask } from './random.js';
import { inverseHessianFactor, sparsegpt } from './sparsegpt.js';
import { InputStats } from './stats.js';
import { wandaMask, wandaNMMask } from './wanda.js';

/** Stable ascending argsort: the brute-force definition of "k smallest, ties to the lower index". */
function argsort(v: ArrayLike<number>): number[] {
  return Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a]! - v[b]! || a - b);
}

/** Seeded calibration inputs: N sequences [T, C] with per-column scales (some large, like activation outliers). */
function inputs(N: number, T: number, C: number, seed: number): Tensor[] {
  return Array.from({ length: N }, (_, n) => {
    const x = randn([T, C], seed + n);
    for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) x.data[t * C + c]! *= 1 + (c % 5) * (c % 3) + 0.3;
    return x;
  });
}

function statsOf(xs: Tensor[], needs: ConstructorParameters<typeof InputStats>[1]): InputStats {
  const s = new InputStats(xs[0]!.cols, needs);
  for (const x of xs) s.observe(x);
  return s;
}

describe('input statistics', () => {
  it('squared norms, Hessian, column sums and within-sequence variance match their definitions', () => {
    const xs = inputs(3, 5, 4, 10);
    const s = statsOf(xs, { norms: true, gram: true, moments: true });
    const H = s.hessian();
    const S2 = s.squaredNorms();
    for (let i = 0; i < 4; i++) {
      let sq = 0;
      let sum = 0;
      for (const x of xs)
        for (let t = 0; t < 5; t++) {
          sq += x.data[t * 4 + i]! ** 2;
          sum += x.data[t * 4 + i]!;
        }
      assert.ok(Math.abs(S2[i]! - sq / 3) < 1e-9 * sq);
      assert.ok(Math.abs(s.columnSums()[i]! - sum / 3) < 1e-9);
      for (let j = 0; j < 4; j++) {
        let g = 0;
        for (const x of xs) for (let t = 0; t < 5; t++) g += x.data[t * 4 + i]! * x.data[t * 4 + j]!;
        assert.ok(Math.abs(H[i * 4 + j]! - (2 / 3) * g) < 1e-4 * (1 + Math.abs(g)));
      }
      // equal-length sequences: the token-weighted mean of per-sequence population variances
      let v = 0;
      for (const x of xs) {
        const col = Array.from({ length: 5 }, (_, t) => x.data[t * 4 + i]!);
        const m = col.reduce((a, b) => a + b) / 5;
        v += col.reduce((a, b) => a + (b - m) ** 2, 0) / 5;
      }
      assert.ok(Math.abs(s.withinVariance()[i]! - v / 3) < 1e-9);
    }
  });
});

describe('magnitude and random', () => {
  const w = randn([8, 16], 3);

  it('layer-wise reference prunes floor(s·n)+1, exact floor(s·n); both separate pruned from kept', () => {
    for (const s of [0, 0.3, 0.5, 0.8]) {
      const ref = magnitudeMask(w, s);
      const ex = magnitudeMask(w, s, { selection: 'exact' });
      assert.equal(ref.prunedCount, Math.floor(s * 128) + 1);
      assert.equal(ex.prunedCount, Math.floor(s * 128));
      const want = new Set(argsort(w.data.map(Math.abs)).slice(0, Math.floor(s * 128)));
      for (let i = 0; i < 128; i++) assert.equal(ex.pruned[i] === 1, want.has(i));
    }
  });

  it('per-row magnitude prunes floor(s·C) per row, nested across sparsities', () => {
    const a = magnitudeMask(w, 0.25, { group: 'row' });
    const b = magnitudeMask(w, 0.6, { group: 'row' });
    assert.deepEqual([...a.rowCounts()], Array(8).fill(4));
    assert.deepEqual([...b.rowCounts()], Array(8).fill(9));
    for (let i = 0; i < 128; i++) if (a.pruned[i]) assert.equal(b.pruned[i], 1);
  });

  it('global magnitude takes the smallest |w| over all matrices', () => {
    const big = new Tensor(
      w.data.map((v) => v * 10),
      w.shape,
    );
    const [m1, m2] = magnitudeGlobalMasks([w, big], 0.5);
    assert.equal(m1!.prunedCount + m2!.prunedCount, 128);
    assert.ok(m1!.prunedCount > m2!.prunedCount);
  });

  it('N:M holds exactly; random is seeded', () => {
    const m = magnitudeNMMask(w, { n: 2, m: 4 });
    for (let g = 0; g < 128; g += 4)
      assert.equal(
        m.pruned.subarray(g, g + 4).reduce((a, b) => a + b),
        2,
      );
    assert.deepEqual(randomMask(w, 0.5, 7).pruned, randomMask(w, 0.5, 7).pruned);
    assert.notDeepEqual(randomMask(w, 0.5, 7).pruned, randomMask(w, 0.5, 8).pruned);
    assert.equal(randomMask(w, 0.5, 7).prunedCount, 64);
  });
});

describe('wanda', () => {
  const w = randn([6, 20], 5);
  const S2 = statsOf(inputs(2, 7, 20, 20), { norms: true }).squaredNorms();

  it('matches a brute-force |W|·‖X‖ per-row selection exactly', () => {
    for (const s of [0.3, 0.5, 0.7]) {
      const m = wandaMask(w, S2, s);
      const k = Math.floor(s * 20);
      for (let r = 0; r < 6; r++) {
        const sc = Float32Array.from(
          { length: 20 },
          (_, c) => Math.abs(w.data[r * 20 + c]!) * Math.sqrt(S2[c]!),
        );
        const want = new Set(argsort(sc).slice(0, k));
        for (let c = 0; c < 20; c++) assert.equal(m.isPruned(r, c), want.has(c), `s=${s} r=${r} c=${c}`);
      }
      const pw = m.apply(w);
      assert.equal(Mask.fromZeros(pw).prunedCount, m.prunedCount);
      assert.equal(m.prunedCount, 6 * k);
    }
  });

  it('is invariant to scaling the activations; equals per-row magnitude when norms are equal', () => {
    assert.deepEqual(
      wandaMask(
        w,
        S2.map((v) => v * 9),
        0.5,
      ).pruned,
      wandaMask(w, S2, 0.5).pruned,
    );
    assert.deepEqual(
      wandaMask(w, new Float64Array(20).fill(3), 0.5).pruned,
      magnitudeMask(w, 0.5, { group: 'row' }).pruned,
    );
  });

  it('N:M: exactly N zeros per aligned group, the lowest scores', () => {
    const m = wandaNMMask(w, S2, { n: 4, m: 5 });
    for (let g = 0; g < 120; g += 5)
      assert.equal(
        m.pruned.subarray(g, g + 5).reduce((a, b) => a + b),
        4,
      );
    assert.throws(() => wandaNMMask(w, S2, { n: 2, m: 8 }), /multiple of M/);
  });
});

/** A⁻¹ by Gauss–Jordan (f64), for the naive OBS reference. */
function inverse(a: Float64Array, n: number): Float64Array {
  const m = a.slice();
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    const p = m[c * n + c]!;
    for (let j = 0; j < n; j++) {
      m[c * n + j]! /= p;
      inv[c * n + j]! /= p;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c]!;
      for (let j = 0; j < n; j++) {
        m[r * n + j]! -= f * m[c * n + j]!;
        inv[r * n + j]! -= f * inv[c * n + j]!;
      }
    }
  }
  return inv;
}

describe('sparsegpt', () => {
  const R = 6;
  const C = 16;
  const w = randn([R, C], 11);
  const H = statsOf(inputs(3, 12, C, 30), { gram: true }).hessian();

  it('is deterministic and prunes floor(s·R·B)+1 per block (reference) or floor(s·R·B) (exact)', () => {
    const a = sparsegpt(w, H, { sparsity: 0.5, blocksize: 8 });
    const b = sparsegpt(w, H, { sparsity: 0.5, blocksize: 8 });
    assert.deepEqual(a.weight.data, b.weight.data);
    for (const [sel, per] of [
      ['reference', 25],
      ['exact', 24],
    ] as const) {
      const r = sparsegpt(w, H, { sparsity: 0.5, blocksize: 8, selection: sel });
      for (const b0 of [0, 8]) {
        let n = 0;
        for (let i = 0; i < R; i++) for (let c = b0; c < b0 + 8; c++) n += r.mask.pruned[i * C + c]!;
        assert.equal(n, per);
      }
      assert.equal(Mask.fromZeros(r.weight).prunedCount, r.mask.prunedCount);
    }
  });

  it('loss = ½ trace(ΔW H_d ΔWᵀ), and with B ≥ C it equals a naive per-row OBS loop on its mask', () => {
    const r = sparsegpt(w, H, { sparsity: 0.6, blocksize: 128 });
    const { Hd } = inverseHessianFactor(H, C, 0.01);
    let trace = 0;
    for (let i = 0; i < R; i++) {
      const d = Float64Array.from({ length: C }, (_, c) => w.data[i * C + c]! - r.weight.data[i * C + c]!);
      for (let a = 0; a < C; a++) for (let b = 0; b < C; b++) trace += d[a]! * Hd[a * C + b]! * d[b]!;
    }
    assert.ok(Math.abs(r.loss - trace / 2) < 1e-3 * trace);
    for (let i = 0; i < R; i++) {
      const wr = Float64Array.from({ length: C }, (_, c) => w.data[i * C + c]!);
      for (let p = 0; p < C; p++) {
        if (!r.mask.isPruned(i, p)) continue;
        const n = C - p;
        const K = new Float64Array(n * n);
        for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) K[a * n + b] = Hd[(p + a) * C + p + b]!;
        const Ki = inverse(K, n);
        const f = wr[p]! / Ki[0]!;
        for (let a = 0; a < n; a++) wr[p + a]! -= f * Ki[a * n]!;
      }
      for (let c = 0; c < C; c++) {
        const want = r.mask.isPruned(i, c) ? 0 : wr[c]!;
        assert.ok(Math.abs(r.weight.data[i * C + c]! - want) < 1e-4, `row ${i} col ${c}`);
      }
    }
  });

  it('N:M holds exactly, independent of the block width; scaling H changes nothing', () => {
    const a = sparsegpt(w, H, { nm: { n: 2, m: 4 }, blocksize: 8 });
    const b = sparsegpt(w, H, { nm: { n: 2, m: 4 }, blocksize: 16 });
    for (let g = 0; g < R * C; g += 4)
      assert.equal(
        a.mask.pruned.subarray(g, g + 4).reduce((x, y) => x + y),
        2,
      );
    assert.deepEqual(a.mask.pruned, b.mask.pruned);
    const c = sparsegpt(
      w,
      H.map((v) => v * 1000),
      { nm: { n: 2, m: 4 }, blocksize: 8 },
    );
    assert.deepEqual(c.mask.pruned, a.mask.pruned);
    for (let i = 0; i < R * C; i++) assert.ok(Math.abs(c.weight.data[i]! - a.weight.data[i]!) < 1e-5);
  });

  it('zeroes dead input columns and rejects bad options', () => {
    const Hdead = H.slice();
    for (let j = 0; j < C; j++) {
      Hdead[3 * C + j] = 0;
      Hdead[j * C + 3] = 0;
    }
    const r = sparsegpt(w, Hdead, { sparsity: 0.25 });
    for (let i = 0; i < R; i++) assert.equal(r.weight.data[i * C + 3], 0);
    assert.throws(() => sparsegpt(w, H, {}), /exactly one of sparsity/);
    assert.throws(() => sparsegpt(w, H, { sparsity: 1 }), /\[0, 1\)/);
    assert.throws(() => sparsegpt(w, H, { nm: { n: 2, m: 4 }, blocksize: 6 }), /multiple of M/);
  });
});

describe('dsnot', () => {
  const R = 8;
  const C = 32;
  const w = randn([R, C], 41);
  const xs = inputs(4, 16, C, 50).map(
    (x) =>
      new Tensor(
        x.data.map((v) => v + 0.8),
        x.shape,
      ),
  ); // non-zero means
  const st = statsOf(xs, { norms: true, moments: true });
  const stats = { S1: st.columnSums(), S2: st.squaredNorms(), V: st.withinVariance() };
  const init = wandaMask(w, stats.S2, 0.6);
  const errOf = (m: Mask, r: number) => {
    let e = 0;
    for (let c = 0; c < C; c++) if (m.isPruned(r, c)) e += w.data[r * C + c]! * stats.S1[c]!;
    return e;
  };

  it('keeps every row count, tracks err exactly and lowers |err|', () => {
    const r = dsnot(w, init, stats, { signCheck: true });
    assert.deepEqual(r.mask.rowCounts(), init.rowCounts());
    for (let i = 0; i < R; i++) {
      assert.ok(Math.abs(r.err[i]! - errOf(r.mask, i)) < 1e-9);
      assert.ok(r.swaps[i]! <= 50);
      assert.ok(Math.abs(r.err[i]!) <= Math.abs(errOf(init, i)) + 1e-12);
      if (errOf(init, i) !== 0)
        assert.ok(Math.sign(r.err[i]!) === Math.sign(errOf(init, i)) || r.err[i] === 0);
    }
    assert.ok(
      r.swaps.some((n) => n > 0),
      'some row made a swap',
    );
    // a huge θ leaves every row alone
    assert.deepEqual(dsnot(w, init, stats, { threshold: 1e9 }).mask.pruned, init.pruned);
  });

  it('stops a row whose helpful candidates ran out instead of pruning its most important weight', () => {
    // one row, unit statistics, so D = W: Wanda prunes columns 0-3 (err = 1.0); the only kept weight whose
    // removal lowers err is column 4. The reference's next pruning candidate would be column 7 (the largest
    // kept weight, err 0.1 → 0.6); sparsekit stops after the one helpful swap.
    const w1 = new Tensor(Float32Array.from([0.1, 0.2, 0.3, 0.4, -0.5, 0.6, 0.7, 0.8]), [1, 8]);
    const ones = new Float64Array(8).fill(1);
    const unit = { S1: ones, S2: ones, V: ones };
    const r = dsnot(w1, wandaMask(w1, ones, 0.5), unit, { threshold: 0.01 });
    assert.deepEqual([...r.mask.pruned], [1, 1, 1, 0, 1, 0, 0, 0]);
    assert.equal(r.swaps[0], 1);
    assert.ok(Math.abs(r.err[0]! - 0.1) < 1e-6);
    // with no helpful candidate at all (every D > 0), the mask is left as Wanda chose it
    const pos = new Tensor(Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]), [1, 8]);
    const m0 = wandaMask(pos, ones, 0.5);
    assert.deepEqual(dsnot(pos, m0, unit).mask.pruned, m0.pruned);
  });

  it('N:M keeps exactly N zeros per group', () => {
    const m0 = wandaNMMask(w, stats.S2, { n: 2, m: 4 });
    const r = dsnot(w, m0, stats, { nm: { n: 2, m: 4 } });
    for (let g = 0; g < R * C; g += 4)
      assert.equal(
        r.mask.pruned.subarray(g, g + 4).reduce((a, b) => a + b),
        2,
      );
    assert.ok(r.swaps.some((n) => n > 0));
  });
});
