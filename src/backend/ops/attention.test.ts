import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn, rng } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { setBackendMode } from '../dispatch.js';
import { attentionRef } from '../reference/attention.js';
import { kernelArray } from '../resident.js';
import { relError, TOL } from '../tolerances.js';
import { runtime, useRuntime } from '../wasm.js';
import { type AttentionOptions, attention, cachedAttention, type KVBuffers } from './attention.js';
import { onEveryRuntime } from './testing.js';

interface Case {
  H: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  d: number;
  B: number;
}

function inputs({ H, Hkv, Tq, Tk, d }: Case, seed: number) {
  return { q: randn([H, Tq, d], seed), k: randn([Hkv, Tk, d], seed + 1), v: randn([Hkv, Tk, d], seed + 2) };
}

/** A block mask with about a third of the tiles off (seeded). */
function randomMask({ H, Tq, Tk, B }: Case, seed: number): Uint8Array {
  const next = rng(seed);
  return Uint8Array.from({ length: H * Math.ceil(Tq / B) * Math.ceil(Tk / B) }, () =>
    next() < 0.35 ? 0 : 1,
  );
}

/** The twin: exact masked softmax(QKᵀ·scale)·V. */
function exact(c: Case, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Float32Array {
  const o = new Float32Array(c.H * c.Tq * c.d);
  attentionRef(q.data, k.data, v.data, o, c, {
    causal: opts.causal ?? true,
    blockSize: c.B,
    blockMask: opts.blockMask,
    scale: opts.scale ?? 1 / Math.sqrt(c.d),
  });
  return o;
}

// Odd T (1, 5, 17, 130) and d (1, 3, 16, 64, 256); decode (Tq = 1), prefill (Tq = Tk) and Tq < Tk;
// multi-head, grouped-query (H = 4 over Hkv = 2, H = 8 over Hkv = 2) and multi-query (Hkv = 1).
const CASES: Case[] = [
  { H: 1, Hkv: 1, Tq: 1, Tk: 1, d: 1, B: 64 },
  { H: 4, Hkv: 2, Tq: 5, Tk: 5, d: 3, B: 4 },
  { H: 4, Hkv: 1, Tq: 17, Tk: 17, d: 16, B: 8 },
  { H: 2, Hkv: 2, Tq: 130, Tk: 130, d: 64, B: 64 },
  { H: 4, Hkv: 2, Tq: 1, Tk: 130, d: 64, B: 16 },
  { H: 4, Hkv: 4, Tq: 17, Tk: 130, d: 1, B: 16 },
  { H: 4, Hkv: 1, Tq: 5, Tk: 17, d: 64, B: 4 },
  { H: 1, Hkv: 1, Tq: 130, Tk: 130, d: 3, B: 32 },
  { H: 2, Hkv: 1, Tq: 40, Tk: 70, d: 256, B: 16 },
  // kv groups of 4 and 8 heads: the kernel runs 4 heads of a group together.
  { H: 8, Hkv: 2, Tq: 1, Tk: 130, d: 64, B: 16 },
  { H: 8, Hkv: 1, Tq: 33, Tk: 40, d: 16, B: 8 },
];

test('attention with a dense (or absent) mask equals exact attention, causal and not', () => {
  const prepared = CASES.map((c, i) => {
    const x = inputs(c, 10 * i);
    const ones = new Uint8Array(c.H * Math.ceil(c.Tq / c.B) * Math.ceil(c.Tk / c.B)).fill(1);
    return { c, x, ones, causal: exact(c, x.q, x.k, x.v), full: exact(c, x.q, x.k, x.v, { causal: false }) };
  });
  onEveryRuntime((where) => {
    for (const { c, x, ones, causal, full } of prepared) {
      const what = `${JSON.stringify(c)}, ${where}`;
      const runs: Array<[AttentionOptions, Float32Array, string]> = [
        [{ blockSize: c.B }, causal, 'causal'],
        [{ blockSize: c.B, blockMask: ones }, causal, 'causal, all-ones mask'],
        [{ blockSize: c.B, causal: false }, full, 'non-causal'],
      ];
      for (const [opts, want, label] of runs) {
        const got = attention(x.q, x.k, x.v, opts);
        assert.deepEqual(got.shape, [c.H, c.Tq, c.d]);
        const err = relError(got.data, want);
        assert.ok(err <= TOL.attention, `${label} ${what}: error ${err} > TOL.attention ${TOL.attention}`);
      }
    }
  });
});

test('attention with random block masks equals the twin with the same masks', () => {
  const prepared = CASES.map((c, i) => {
    const x = inputs(c, 10 * i + 3);
    const mask = randomMask(c, i);
    return {
      c,
      x,
      mask,
      causal: exact(c, x.q, x.k, x.v, { blockMask: mask }),
      full: exact(c, x.q, x.k, x.v, { blockMask: mask, causal: false, scale: 0.3 }),
    };
  });
  onEveryRuntime((where) => {
    for (const { c, x, mask, causal, full } of prepared) {
      const what = `${JSON.stringify(c)}, ${where}`;
      let err = relError(attention(x.q, x.k, x.v, { blockSize: c.B, blockMask: mask }).data, causal);
      assert.ok(err <= TOL.attention, `causal ${what}: error ${err} > TOL.attention ${TOL.attention}`);
      const opts = { blockSize: c.B, blockMask: mask, causal: false, scale: 0.3 };
      err = relError(attention(x.q, x.k, x.v, opts).data, full);
      assert.ok(err <= TOL.attention, `non-causal ${what}: error ${err} > TOL.attention ${TOL.attention}`);
    }
  });
});

test('causal attention: the first query of a prefill reads only key 0; a decode step reads every key', () => {
  const c = { H: 2, Hkv: 1, Tq: 9, Tk: 9, d: 5, B: 4 };
  const { q, k, v } = inputs(c, 77);
  // The last query row of each head, as a decode step: [2, 1, 5].
  const decodeQ = new Tensor(
    Float32Array.from([...q.data.subarray(40, 45), ...q.data.subarray(85, 90)]),
    [2, 1, 5],
  );
  onEveryRuntime((where) => {
    const o = attention(q, k, v, { blockSize: 4 });
    for (const h of [0, 1]) {
      const row0 = o.data.subarray(h * 45, h * 45 + 5);
      assert.ok(relError(row0, v.data.subarray(0, 5)) <= TOL.attention, `${where}: head ${h} query 0 = v[0]`);
    }
    // Decoding the last position (Tq = 1 against all 9 keys) reproduces the prefill's last row.
    const dec = attention(decodeQ, k, v, { blockSize: 4 });
    for (const h of [0, 1]) {
      const want = o.data.subarray(h * 45 + 40, h * 45 + 45);
      assert.ok(
        relError(dec.data.subarray(h * 5, h * 5 + 5), want) <= TOL.attention,
        `${where}: decode head ${h}`,
      );
    }
  });
});

test('grouped-query attention equals multi-head attention with each kv head repeated', () => {
  const c = { H: 4, Hkv: 2, Tq: 17, Tk: 17, d: 16, B: 8 };
  const { q, k, v } = inputs(c, 5);
  const repeat = (t: Tensor) => {
    const out = new Float32Array(4 * 17 * 16);
    for (let h = 0; h < 4; h++) out.set(t.data.subarray((h >> 1) * 272, ((h >> 1) + 1) * 272), h * 272);
    return new Tensor(out, [4, 17, 16]);
  };
  onEveryRuntime((where) => {
    const gqa = attention(q, k, v, { blockSize: 8 });
    const mha = attention(q, repeat(k), repeat(v), { blockSize: 8 });
    assert.ok(relError(gqa.data, mha.data) <= TOL.attention, where);
  });
});

test('a query row whose every key is masked out outputs zeros', () => {
  // Tq = Tk = 8, B = 4: query block 0 (rows 0–3) may only see key block 0 under the causal mask, and the
  // mask turns that tile off for head 2, so head 2's rows 0–3 have no key. Its rows 4–7 keep key block 1.
  // Four heads over one kv head run together in the kernel, so heads 0, 1, 3 must be unaffected.
  const c = { H: 4, Hkv: 1, Tq: 8, Tk: 8, d: 6, B: 4 };
  const { q, k, v } = inputs(c, 9);
  const blockMask = new Uint8Array(4 * 2 * 2).fill(1);
  blockMask[2 * 4] = 0; // head 2, query block 0, key block 0
  const dense = exact(c, q, k, v);
  const check = (where: string) => {
    const o = attention(q, k, v, { blockSize: 4, blockMask });
    const head = (h: number) => o.data.subarray(h * 48, h * 48 + 48);
    assert.deepEqual([...head(2).subarray(0, 24)], new Array(24).fill(0), `${where}: head 2 rows 0–3`);
    assert.ok(
      head(2)
        .subarray(24)
        .some((x) => x !== 0),
      `${where}: head 2 rows 4–7 are not zero`,
    );
    for (const h of [0, 1, 3]) {
      const err = relError(head(h), dense.subarray(h * 48, h * 48 + 48));
      assert.ok(err <= TOL.attention, `${where}: head ${h} matches dense attention`);
    }
    assert.ok(relError(o.data, exact(c, q, k, v, { blockMask })) <= TOL.attention, where);
  };
  onEveryRuntime(check);
  setBackendMode('reference');
  try {
    check('reference');
  } finally {
    setBackendMode('auto');
  }
});

test('attention: bad shapes and options are errors naming the argument', () => {
  const q = randn([4, 5, 8], 1);
  const k = randn([2, 7, 8], 2);
  const v = randn([2, 7, 8], 3);
  assert.throws(
    () => attention(randn([5, 8], 1), k, v),
    /attention: q must be \[H, Tq, d\], got shape \[5, 8\]/,
  );
  assert.throws(() => attention(q, randn([2, 7, 6], 1), v), /attention: k has head dim 6 but q has 8/);
  assert.throws(() => attention(q, k, randn([2, 6, 8], 1)), /attention: v must have k's shape \[2, 7, 8\]/);
  assert.throws(
    () => attention(q, randn([3, 7, 8], 1), randn([3, 7, 8], 1)),
    /q's 4 heads must be a multiple of k's 3/,
  );
  assert.throws(() => attention(randn([4, 9, 8], 1), k, v), /q has 9 queries but k has 7 keys/);
  assert.throws(
    () => attention(q, k, v, { blockSize: 4, blockMask: new Uint8Array(7) }),
    /blockMask must have H·ceil\(Tq\/B\)·ceil\(Tk\/B\) = 4·2·2 = 16 bytes .* got 7/,
  );
  assert.throws(() => attention(q, k, v, { blockSize: 0 }), /blockSize must be an integer ≥ 1, got 0/);
  assert.throws(() => attention(q, k, v, { scale: Number.NaN }), /scale must be a finite number/);
});

/** A [Hkv, cap, d] cache holding k's Tk positions per head at the start of each head's block. */
function cacheOf(k: Tensor, v: Tensor, cap: number, inKernel: boolean): KVBuffers {
  const [Hkv, Tk, d] = k.shape as [number, number, number];
  const make = () =>
    inKernel ? kernelArray(runtime(), Float32Array, Hkv * cap * d) : new Float32Array(Hkv * cap * d);
  const kc = make();
  const vc = make();
  kc.fill(Number.NaN); // positions past Tk must never be read
  vc.fill(Number.NaN);
  for (let h = 0; h < Hkv; h++) {
    kc.set(k.data.subarray(h * Tk * d, (h + 1) * Tk * d), h * cap * d);
    vc.set(v.data.subarray(h * Tk * d, (h + 1) * Tk * d), h * cap * d);
  }
  return { k: kc, v: vc, kvHeads: Hkv, cap, headDim: d };
}

test('cachedAttention over a KV cache equals attention on its first Tk positions (in place and copied)', () => {
  onEveryRuntime((where) => {
    for (const c of CASES) {
      const { q, k, v } = inputs(c, 7);
      const want = exact(c, q, k, v, { blockSize: c.B });
      for (const inKernel of [true, false]) {
        const cache = cacheOf(k, v, c.Tk + 11, inKernel);
        const got = cachedAttention(q, cache, c.Tk, { blockSize: c.B });
        const e = relError(got.data, want);
        assert.ok(e <= TOL.attention, `${where} ${JSON.stringify(c)} inKernel=${inKernel}: error ${e}`);
      }
    }
  });
  setBackendMode('reference');
  try {
    const c = CASES[4]!;
    const { q, k, v } = inputs(c, 8);
    const got = cachedAttention(q, cacheOf(k, v, 200, false), c.Tk, { blockSize: c.B });
    assert.ok(relError(got.data, exact(c, q, k, v)) <= 1e-6, 'the reference path reads the cache stride');
  } finally {
    setBackendMode('auto');
  }
});

test('cachedAttention runs a decode step on the decode kernel, reading a kernel-array cache in place; a short one stays on one thread', () => {
  const rt = useRuntime({ variant: 'simd', threads: 2 });
  const uploads: number[] = [];
  const ranges: number[] = [];
  const upload = rt.upload.bind(rt);
  const parallel = rt.parallel.bind(rt);
  rt.upload = (a) => {
    uploads.push(a.byteLength);
    return upload(a);
  };
  rt.parallel = (kernel, args, r) => {
    if (kernel === 'decode_attention_f32') ranges.push(r.length);
    parallel(kernel, args, r);
  };
  try {
    // SmolLM's heads: 9 query heads over 3 kv heads, d = 64
    for (const Tk of [128, 2048]) {
      const c = { H: 9, Hkv: 3, Tq: 1, Tk, d: 64, B: 64 };
      const { q, k, v } = inputs(c, 9);
      const cache = cacheOf(k, v, Tk, true);
      uploads.length = 0;
      ranges.length = 0;
      const got = cachedAttention(q, cache, Tk);
      assert.ok(relError(got.data, exact(c, q, k, v)) <= TOL.attention);
      assert.ok(Math.max(...uploads) <= 9 * 64 * 4, `only q is uploaded, got ${uploads} bytes`);
      assert.deepEqual(ranges, [Tk === 128 ? 1 : 2], `context ${Tk}: thread ranges`);
    }
  } finally {
    useRuntime({});
  }
});

test('cachedAttention: a bad cache or Tk is an error naming it', () => {
  const q = randn([4, 1, 8], 1);
  const cache = {
    k: new Float32Array(2 * 10 * 8),
    v: new Float32Array(2 * 10 * 8),
    kvHeads: 2,
    cap: 10,
    headDim: 8,
  };
  assert.throws(() => cachedAttention(q, cache, 11), /Tk must be an integer in \[0, 10\]/);
  assert.throws(() => cachedAttention(q, { ...cache, headDim: 4 }, 5), /head dim 4 but q has 8/);
  assert.throws(() => cachedAttention(q, { ...cache, kvHeads: 3 }, 5), /multiple of the cache's 3 kv heads/);
  assert.throws(() => cachedAttention(q, { ...cache, k: new Float32Array(3) }, 5), /k and v must hold/);
});
