import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { setBackendMode } from '../dispatch.js';
import { thresholdRef, thresholdRowsRef, topkRef, topkRowsRef } from '../reference/select.js';
import {
  type Selection,
  type SelectOptions,
  thresholdRows,
  thresholdSelect,
  topk,
  topkMask,
  topkMaskRows,
  topkRows,
} from './select.js';
import { onEveryRuntime } from './testing.js';

const OPTIONS: SelectOptions[] = [{}, { abs: true }, { largest: false }, { largest: false, abs: true }];

/**
 * Runs fn on both kernel builds with 1 and 2 threads, then once more on the TypeScript references
 * (skipped where the expected values come from the twin itself).
 */
function onEveryBackend(fn: (where: string) => void, reference = true): void {
  onEveryRuntime(fn);
  if (!reference) return;
  setBackendMode('reference');
  try {
    fn('reference');
  } finally {
    setBackendMode('auto');
  }
}

function plain(s: Selection): { values: number[]; indices: number[] } {
  return { values: [...s.values], indices: [...s.indices] };
}

/** Asserts two selections are identical, naming the first difference (fast on 100k entries). */
function assertSameSelection(got: Selection, want: Selection, what: string): void {
  assert.equal(got.indices.length, want.indices.length, `${what}: selection size`);
  for (let i = 0; i < want.indices.length; i++) {
    if (got.indices[i] !== want.indices[i] || !Object.is(got.values[i], want.values[i])) {
      assert.fail(
        `${what}: entry ${i} is x[${got.indices[i]}] = ${got.values[i]}, want x[${want.indices[i]}] = ${want.values[i]}`,
      );
    }
  }
}

/** A vector with many exact ties: normal values rounded to quarters. */
function tiedVector(n: number, seed: number): Tensor {
  const x = randn([n], seed);
  for (let i = 0; i < n; i++) x.data[i] = Math.round(x.data[i]! * 4) / 4;
  return x;
}

test('topk: exact results on tiny vectors (ties, abs, smallest, k = 0, k = n, ±0)', () => {
  const x = Tensor.from([3, -7, 5, -5, 1]);
  onEveryBackend((where) => {
    assert.deepEqual(plain(topk(x, 2)), { values: [3, 5], indices: [0, 2] }, where);
    assert.deepEqual(plain(topk(x, 2, { abs: true })), { values: [-7, 5], indices: [1, 2] }, where);
    assert.deepEqual(plain(topk(x, 2, { largest: false })), { values: [-7, -5], indices: [1, 3] }, where);
    assert.deepEqual(
      plain(topk(x, 2, { largest: false, abs: true })),
      { values: [3, 1], indices: [0, 4] },
      where,
    );
    assert.deepEqual(
      plain(topk(Tensor.from([1, 2, 2, 2, 0]), 2)),
      { values: [2, 2], indices: [1, 2] },
      where,
    );
    assert.deepEqual(plain(topk(x, 0)), { values: [], indices: [] }, where);
    assert.deepEqual(plain(topk(x, 5)), { values: [3, -7, 5, -5, 1], indices: [0, 1, 2, 3, 4] }, where);
    // -0 and +0 tie, so the lower index wins.
    assert.deepEqual([...topk(Tensor.from([-0, 0, -1]), 1).indices], [0], where);
    assert.deepEqual([...topk(Tensor.from([0, -0, -1]), 1).indices], [0], where);
    assert.deepEqual(plain(topk(Tensor.from([]), 0)), { values: [], indices: [] }, where);
  });
});

test('topk: ties at the k-th value go to the lowest indices (one-pass buffer, radix select, chunked radix select)', () => {
  for (const n of [60, 2000, 100_000]) {
    // x[i] = i mod 10: the 9s are all kept, then the first five 8s.
    const x = Tensor.from(Array.from({ length: n }, (_, i) => i % 10));
    const nines = Array.from({ length: n / 10 }, (_, j) => 10 * j + 9);
    const expected = [...nines, 8, 18, 28, 38, 48].sort((a, b) => a - b);
    onEveryBackend((where) => {
      const got = topk(x, expected.length);
      assert.deepEqual([...got.indices], expected, `n = ${n}, ${where}`);
      assert.ok(
        got.values.every((v, i) => v === x.data[expected[i]!]),
        `n = ${n}, ${where}: values follow indices`,
      );
    });
  }
});

test('topk: a constant vector keeps its first k entries (ties split across thread chunks)', () => {
  const x = Tensor.zeros([100_000]);
  onEveryBackend((where) => {
    const { indices } = topk(x, 70_000, { largest: false });
    assert.equal(indices.length, 70_000, where);
    assert.ok(
      indices.every((v, i) => v === i),
      `${where}: indices are 0…69999`,
    );
  });
});

test('topk: sorted and reversed 100k vectors (worst cases of the fast paths) match the twin', () => {
  const n = 100_000;
  const up = Tensor.from(Array.from({ length: n }, (_, i) => i - n / 2));
  const down = Tensor.from(Array.from({ length: n }, (_, i) => n / 2 - i));
  const cases = [up, down].flatMap((x) =>
    [5, 32, 33, 1000].flatMap((k) => [{}, { largest: false }].map((opts) => ({ x, k, opts }))),
  );
  const expected = cases.map(({ x, k, opts }) => topkRef(x.data, k, opts));
  onEveryBackend((where) => {
    cases.forEach(({ x, k, opts }, c) => {
      assertSameSelection(topk(x, k, opts), expected[c]!, `k = ${k}, ${JSON.stringify(opts)}, ${where}`);
    });
  }, false);
});

test('topk: 100k random vectors match the sort-based twin exactly', () => {
  const n = 100_000;
  const ks = [1, 32, 777, 50_000, n - 1];
  const cases = [randn([n], 11), tiedVector(n, 12)].flatMap((x, v) =>
    OPTIONS.map((opts, o) => ({ x, k: ks[(v + o) % ks.length]!, opts })),
  );
  const expected = cases.map(({ x, k, opts }) => topkRef(x.data, k, opts));
  onEveryBackend((where) => {
    cases.forEach(({ x, k, opts }, c) => {
      assertSameSelection(topk(x, k, opts), expected[c]!, `k = ${k}, ${JSON.stringify(opts)}, ${where}`);
    });
  }, false);
});

test('topkRows: every row matches the twin (small k, short rows, long rows: every kernel path)', () => {
  const cases: Array<[number, number, number]> = [
    [3, 1, 1],
    [7, 5, 2],
    [33, 64, 10],
    [9, 65, 64],
    [20, 300, 17],
    [5, 128, 100],
    [5, 1024, 1000],
    [5, 5000, 2500],
    [4, 40, 0],
    [4, 40, 40],
  ];
  const inputs = cases.map(([R, C, k], c) => ({
    x: c % 2 ? tiedVector(R * C, c).reshape([R, C]) : randn([R, C], c),
    k,
  }));
  const expected = inputs.flatMap(({ x, k }) =>
    OPTIONS.map((opts) => topkRowsRef(x.data, x.shape[0]!, x.shape[1]!, k, opts)),
  );
  onEveryBackend((where) => {
    let e = 0;
    for (const { x, k } of inputs) {
      for (const opts of OPTIONS) {
        const got = topkRows(x, k, opts);
        const want = expected[e++]!;
        const what = `[${x.shape}] k = ${k} ${JSON.stringify(opts)}, ${where}`;
        assertSameSelection(got, want, what);
        assert.equal(got.rows, x.shape[0]);
        assert.equal(got.k, k);
      }
    }
  }, false);
});

test('topkRows: sorted, reversed, constant and two-valued rows (quickselect pivots) match the twin', () => {
  const C = 128;
  const rows = [
    (j: number) => j,
    (j: number) => C - j,
    () => 1,
    (j: number) => j % 2,
    (j: number) => (j < C / 2 ? j : C - j),
    (j: number) => ((j * 7919) % 13) - 6,
  ];
  const x = Tensor.from(
    rows.flatMap((f) => Array.from({ length: C }, (_, j) => f(j))),
    [rows.length, C],
  );
  const ks = [1, 2, 33, 63, 64, 65, 127];
  const expected = ks.map((k) => topkRowsRef(x.data, rows.length, C, k));
  onEveryBackend((where) => {
    ks.forEach((k, i) => {
      assertSameSelection(topkRows(x, k), expected[i]!, `k = ${k}, ${where}`);
    });
  }, false);
});

test('thresholdSelect and thresholdRows match the twin, including thresholds that are not f32 values', () => {
  const x = randn([100_000], 21);
  const m = randn([37, 301], 22);
  const thresholds = [0.1, 1.5, -0.3, 0, -Infinity, Infinity, Math.fround(0.7)];
  const expected = thresholds.flatMap((t) =>
    [false, true].map((abs) => ({
      flat: thresholdRef(x.data, t, abs),
      rows: thresholdRowsRef(m.data, 37, 301, t, abs),
    })),
  );
  onEveryBackend((where) => {
    let e = 0;
    for (const t of thresholds) {
      for (const abs of [false, true]) {
        const want = expected[e++]!;
        const what = `t = ${t}, abs = ${abs}, ${where}`;
        assertSameSelection(thresholdSelect(x, t, { abs }), want.flat, what);
        const rows = thresholdRows(m, t, { abs });
        assert.deepEqual([...rows.rowPtr], [...want.rows.rowPtr], what);
        assertSameSelection(rows, want.rows, what);
      }
    }
  }, false);
});

test('thresholdSelect: exact results on a tiny vector', () => {
  const x = Tensor.from([0.5, -2, 0.1, 2, -0]);
  onEveryBackend((where) => {
    // f32(0.1) = 0.10000000149… is above the number 0.1: thresholds compare exactly, not rounded to f32.
    assert.deepEqual(
      plain(thresholdSelect(x, 0.1)),
      { values: [0.5, Math.fround(0.1), 2], indices: [0, 2, 3] },
      where,
    );
    assert.deepEqual(
      plain(thresholdSelect(x, Math.fround(0.1))),
      { values: [0.5, 2], indices: [0, 3] },
      where,
    );
    assert.deepEqual(
      plain(thresholdSelect(x, 1, { abs: true })),
      { values: [-2, 2], indices: [1, 3] },
      where,
    );
    assert.deepEqual([...thresholdSelect(x, -0).indices], [0, 2, 3], where);
  });
});

test('topkMask and topkMaskRows keep exactly the top-k entries', () => {
  const x = Tensor.from([0.2, -3, 1, 1, 0]);
  const m = Tensor.from([1, 4, 2, 3, -9, 0, 9, 9], [2, 4]);
  onEveryBackend((where) => {
    assert.deepEqual([...topkMask(x, 2, { abs: true })], [0, 1, 1, 0, 0], where);
    assert.deepEqual([...topkMaskRows(m, 2)], [0, 1, 0, 1, 0, 0, 1, 1], where);
    assert.deepEqual([...topkMaskRows(m, 1, { abs: true })], [0, 1, 0, 0, 1, 0, 0, 0], where);
  });
});

test('selection: NaN/±Inf and bad k are errors naming the argument and where', () => {
  const bad = Tensor.from([1, 2, 3, 4, 5, Number.NaN, Number.POSITIVE_INFINITY]);
  const badRows = Tensor.from([1, 2, 3, 4, 5, Number.NEGATIVE_INFINITY], [2, 3]);
  onEveryBackend((where) => {
    assert.throws(() => topk(bad, 2), /topk: x\[5\] is NaN/, where);
    assert.throws(() => topkMask(bad, 2), /topkMask: x\[5\] is NaN/, where);
    assert.throws(() => thresholdSelect(bad, 0), /thresholdSelect: x\[5\] is NaN/, where);
    assert.throws(() => topkRows(badRows, 1), /topkRows: x\[1, 2\] is -Infinity/, where);
    assert.throws(() => thresholdRows(badRows, 0), /thresholdRows: x\[1, 2\] is -Infinity/, where);
    assert.throws(
      () => topk(Tensor.from([1, 2, 3, 4]), 5),
      /topk: k must be an integer in \[0, n\] with n = 4, got 5/,
    );
    assert.throws(() => topk(Tensor.from([1, 2]), -1), /k must be an integer/);
    assert.throws(() => topk(Tensor.from([1, 2]), 1.5), /k must be an integer/);
    assert.throws(() => topkRows(Tensor.from([1, 2, 3, 4], [2, 2]), 3), /topkRows: k .* with C = 2, got 3/);
    assert.throws(() => topkRows(Tensor.from([1, 2, 3]), 1), /topkRows: x: expected a rank-2 tensor/);
    assert.throws(() => thresholdSelect(Tensor.from([1]), Number.NaN), /thresholdSelect: t must be a number/);
  });
});
