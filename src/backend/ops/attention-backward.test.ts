import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn, rng } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { setFallbackPolicy } from '../dispatch.js';
import { type AttentionMasking, attentionRef } from '../reference/attention.js';
import { attentionBackwardRef } from '../reference/attention-backward.js';
import { relError, TOL } from '../tolerances.js';
import { type AttentionOptions, attention } from './attention.js';
import { attentionBackward } from './attention-backward.js';
import { onEveryRuntime } from './testing.js';

interface Case {
  H: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  d: number;
  B: number;
}

// Odd T and d (tails of every tile and of the 4-float head dim), prefill and Tq < Tk (decode included),
// multi-head, grouped-query and multi-query; the 130-position cases are large enough to use both threads.
const CASES: Case[] = [
  { H: 1, Hkv: 1, Tq: 1, Tk: 1, d: 1, B: 64 },
  { H: 4, Hkv: 2, Tq: 5, Tk: 5, d: 3, B: 4 },
  { H: 4, Hkv: 1, Tq: 17, Tk: 17, d: 16, B: 8 },
  { H: 2, Hkv: 2, Tq: 130, Tk: 130, d: 64, B: 64 },
  { H: 6, Hkv: 2, Tq: 130, Tk: 130, d: 64, B: 32 },
  { H: 4, Hkv: 2, Tq: 1, Tk: 130, d: 64, B: 16 },
  { H: 4, Hkv: 4, Tq: 17, Tk: 130, d: 5, B: 16 },
  { H: 2, Hkv: 1, Tq: 40, Tk: 70, d: 130, B: 16 },
  { H: 8, Hkv: 1, Tq: 33, Tk: 40, d: 16, B: 7 },
];

function masking(c: Case, opts: AttentionOptions): AttentionMasking {
  return {
    causal: opts.causal ?? true,
    blockSize: c.B,
    blockMask: opts.blockMask,
    scale: opts.scale ?? 1 / Math.sqrt(c.d),
  };
}

/** Inputs, the exact forward (o and lse from the twin), a random output gradient, and the twin's gradients. */
function prepare(c: Case, seed: number, opts: AttentionOptions) {
  const q = randn([c.H, c.Tq, c.d], seed);
  const k = randn([c.Hkv, c.Tk, c.d], seed + 1);
  const v = randn([c.Hkv, c.Tk, c.d], seed + 2);
  const dO = randn([c.H, c.Tq, c.d], seed + 3);
  const o = Tensor.zeros([c.H, c.Tq, c.d]);
  const lse = Tensor.zeros([c.H, c.Tq]);
  attentionRef(q.data, k.data, v.data, o.data, c, masking(c, opts), lse.data);
  const want = { dq: new Float32Array(q.size), dk: new Float32Array(k.size), dv: new Float32Array(v.size) };
  attentionBackwardRef(
    q.data,
    k.data,
    v.data,
    o.data,
    lse.data,
    dO.data,
    want.dq,
    want.dk,
    want.dv,
    c,
    masking(c, opts),
  );
  return { q, k, v, dO, o, lse, want };
}

function randomMask({ H, Tq, Tk, B }: Case, seed: number): Uint8Array {
  const next = rng(seed);
  return Uint8Array.from({ length: H * Math.ceil(Tq / B) * Math.ceil(Tk / B) }, () =>
    next() < 0.35 ? 0 : 1,
  );
}

test('the forward fills lse with the twin log-sum-exp and its output does not change', () => {
  const prepared = CASES.map((c, i) => ({ c, ...prepare(c, 20 * i, { blockSize: c.B }) }));
  onEveryRuntime((where) => {
    for (const { c, q, k, v, lse } of prepared) {
      const what = `${JSON.stringify(c)}, ${where}`;
      const got = Tensor.zeros([c.H, c.Tq]);
      const withLse = attention(q, k, v, { blockSize: c.B, lse: got });
      assert.deepEqual([...withLse.data], [...attention(q, k, v, { blockSize: c.B }).data], `output ${what}`);
      const err = relError(got.data, lse.data);
      assert.ok(err <= TOL.attention, `lse ${what}: error ${err} > TOL.attention ${TOL.attention}`);
    }
  });
});

test('attention backward equals the twin: causal, non-causal with a scale, random block masks', () => {
  setFallbackPolicy('throw'); // the WebAssembly kernel, never a silent fallback
  const prepared = CASES.flatMap((c, i) => {
    const mask = randomMask(c, i);
    const runs: AttentionOptions[] = [
      { blockSize: c.B },
      { blockSize: c.B, causal: false, scale: 0.3 },
      { blockSize: c.B, blockMask: mask },
      { blockSize: c.B, blockMask: mask, causal: false },
    ];
    return runs.map((opts, r) => ({ c, opts, ...prepare(c, 40 * i + 4 * r, opts) }));
  });
  try {
    onEveryRuntime((where) => {
      for (const { c, opts, q, k, v, o, lse, dO, want } of prepared) {
        const got = attentionBackward(q, k, v, o, lse, dO, opts);
        const what = `${JSON.stringify(c)} causal=${opts.causal ?? true} mask=${Boolean(opts.blockMask)}, ${where}`;
        for (const name of ['dq', 'dk', 'dv'] as const) {
          assert.deepEqual(got[name].shape, name === 'dq' ? q.shape : k.shape, `${name} shape ${what}`);
          const err = relError(got[name].data, want[name]);
          assert.ok(
            err <= TOL.attentionBackward,
            `${name} ${what}: error ${err} > TOL.attentionBackward ${TOL.attentionBackward}`,
          );
        }
      }
    });
  } finally {
    setFallbackPolicy('warn');
  }
});

test('attention backward: skipped tiles and masked keys get no gradient; grouped-query sums its heads', () => {
  // Two key blocks of 4; head 0 skips key block 1 everywhere, so keys 4..7 get gradient only from head 1.
  const c = { H: 2, Hkv: 1, Tq: 8, Tk: 8, d: 4, B: 4 };
  const blockMask = Uint8Array.from([1, 0, 1, 0, 1, 0, 1, 1]); // [H, 2, 2]
  const { q, k, v, o, lse, dO } = prepare(c, 3, { blockSize: 4, blockMask });
  onEveryRuntime((where) => {
    const both = attentionBackward(q, k, v, o, lse, dO, { blockSize: 4, blockMask });
    // Head 1 alone (its q, o, dO, lse and mask row) gives exactly the kv gradients of keys 4..7.
    const h1 = (t: Tensor, per: number, shape: number[]) => new Tensor(t.data.slice(per, 2 * per), shape);
    const one = attentionBackward(
      h1(q, 32, [1, 8, 4]),
      k,
      v,
      h1(o, 32, [1, 8, 4]),
      h1(lse, 8, [1, 8]),
      h1(dO, 32, [1, 8, 4]),
      { blockSize: 4, blockMask: blockMask.slice(4) },
    );
    for (const name of ['dk', 'dv'] as const) {
      const err = relError(both[name].data.subarray(16), one[name].data.subarray(16));
      assert.ok(
        err <= TOL.attentionBackward,
        `${where}: ${name} of keys 4..7 come from head 1 only (${err})`,
      );
    }
    // Causal: the first query of head 0 sees key 0 only, so its dq is scale·P(dP − D)·k_0 = 0 (P = 1, D = dP).
    for (let x = 0; x < 4; x++) assert.ok(Math.abs(both.dq.data[x]!) < 1e-6, `${where}: dq of query 0`);
  });
});

test('attention backward names the argument that is wrong', () => {
  const q = randn([2, 3, 4], 1);
  const k = randn([1, 3, 4], 2);
  const lse = Tensor.zeros([2, 3]);
  assert.throws(
    () => attentionBackward(q, k, k, q, lse, randn([2, 3, 5], 3)),
    /dO must be the output gradient/,
  );
  assert.throws(() => attentionBackward(q, k, k, k, lse, q), /o must be the forward's output/);
  assert.throws(
    () => attentionBackward(q, k, k, q, Tensor.zeros([3, 2]), q),
    /lse must be the forward's log-sum-exp \[H, Tq\] = \[2, 3\]/,
  );
  assert.throws(
    () => attention(q, k, k, { lse: Tensor.zeros([2]) }),
    /lse must be a Tensor \[H, Tq\] = \[2, 3\]/,
  );
});
