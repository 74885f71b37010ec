import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { attentionRef } from '../reference/attention.js';
import { type DecodeMasking, decodeAttentionRef } from '../reference/decode-attention.js';
import { kernelArray } from '../resident.js';
import { relError, TOL } from '../tolerances.js';
import { runtime, useRuntime } from '../wasm.js';
import { cachedAttention, type KVBuffers } from './attention.js';
import { decodeAttentionReference, decodeAttentionWasm, decodePlan } from './decode-attention.js';
import { assertDispatchesToWasm, assertTwin, forEachRuntime } from './testing.js';

/** One decode-attention call: a cache of Tk positions (capacity Tk + 3) and its options; cols = H·d. */
interface Case {
  readonly H: number;
  readonly Hkv: number;
  readonly Tk: number;
  readonly d: number;
  readonly masking: DecodeMasking;
  readonly cols: number;
  readonly kv: KVBuffers;
}

/** A [Hkv, Tk + 3, d] cache holding random keys and values, NaN past Tk (never to be read). */
function makeCase(
  H: number,
  Hkv: number,
  Tk: number,
  d: number,
  seed: number,
  opts: Partial<DecodeMasking> = {},
): Case {
  const cap = Tk + 3;
  const n = Hkv * cap * d;
  const inKernel = d % 4 === 0;
  const make = () => (inKernel ? kernelArray(runtime(), Float32Array, n) : new Float32Array(n));
  const k = make();
  const v = make();
  k.fill(Number.NaN);
  v.fill(Number.NaN);
  const kr = randn([Hkv, Tk, d], seed).data;
  const vr = randn([Hkv, Tk, d], seed + 1).data;
  for (let h = 0; h < Hkv; h++) {
    k.set(kr.subarray(h * Tk * d, (h + 1) * Tk * d), h * cap * d);
    v.set(vr.subarray(h * Tk * d, (h + 1) * Tk * d), h * cap * d);
  }
  const masking = { causal: opts.causal ?? true, scale: opts.scale ?? 1 / Math.sqrt(d) };
  return { H, Hkv, Tk, d, masking, cols: H * d, kv: { k, v, kvHeads: Hkv, cap, headDim: d } };
}

/** b [H·d] or [H·d, Tq] (feature-major, as a model's projections give it) → q [H, Tq, d]. */
function queries(c: Case, b: Tensor): Tensor {
  const Tq = b.rank === 1 ? 1 : b.shape[1]!;
  const q = new Float32Array(c.H * Tq * c.d);
  for (let f = 0; f < c.H * c.d; f++) {
    const h = Math.floor(f / c.d);
    for (let t = 0; t < Tq; t++) q[(h * Tq + t) * c.d + (f % c.d)] = b.data[f * Tq + t]!;
  }
  return new Tensor(q, [c.H, Tq, c.d]);
}

const wasm = (c: Case, b: Tensor) => decodeAttentionWasm(queries(c, b), c.kv, c.Tk, c.masking);
const reference = (c: Case, b: Tensor) => decodeAttentionReference(queries(c, b), c.kv, c.Tk, c.masking);
const viaCache = (c: Case, b: Tensor) => cachedAttention(queries(c, b), c.kv, c.Tk, c.masking);
const TOLS = { vector: TOL.attention, block: TOL.attention };

// GQA groups 1, 3 and 4; head dims 64 and 32 (and 6, which the host pads); contexts 1, 17 and 2048; the
// default scale and another one; causal and not. Each runs with Tq = 1 (a decode step) and Tq = 2, 4.
const SHAPES: Array<[number, number, number, number, Partial<DecodeMasking>]> = [
  [3, 3, 1, 64, {}],
  [3, 3, 17, 32, { scale: 0.3 }],
  [9, 3, 17, 64, {}],
  [9, 3, 2048, 64, {}],
  [8, 2, 17, 32, { causal: false }],
  [12, 3, 2048, 32, { scale: 0.05 }],
  [4, 1, 130, 64, {}],
  [6, 2, 17, 6, {}],
];

test('decode attention: the kernel equals its twin (GQA groups 1, 3, 4; d 64, 32, 6; contexts 1, 17, 2048)', () => {
  forEachRuntime((where, use) => {
    use();
    SHAPES.forEach(([H, Hkv, Tk, d, opts], i) => {
      const c = makeCase(H, Hkv, Tk, d, 10 * i, opts);
      for (const Tq of [1, 2, 4].filter((t) => t <= Tk)) {
        const what = `${where}, H=${H} Hkv=${Hkv} Tk=${Tk} d=${d} ${JSON.stringify(opts)} Tq=${Tq}`;
        assertTwin(wasm, reference, c, Tq, what, 100 + i, TOLS);
      }
    });
  });
});

test('cachedAttention takes the decode kernel for Tq ≤ 4 without a block mask', () => {
  for (const variant of ['simd', 'relaxed'] as const) {
    useRuntime({ variant, threads: 1 });
    const cases = SHAPES.map(([H, Hkv, Tk, d, opts], i) => makeCase(H, Hkv, Tk, d, 10 * i, opts));
    const inputs = cases.flatMap((c, i) => [
      [c, randn([c.cols], i)] as const,
      [c, randn([c.cols, Math.min(3, c.Tk)], i)] as const,
    ]);
    assertDispatchesToWasm(variant, inputs, viaCache, wasm);
  }
  useRuntime({});
});

test('the twin is exact attention, however the keys are cut into chunks', () => {
  const dims = { H: 6, Hkv: 2, Tq: 3, Tk: 37, d: 5 };
  const q = randn([6, 3, 5], 1).data;
  const k = randn([2, 37, 5], 2).data;
  const v = randn([2, 37, 5], 3).data;
  for (const causal of [true, false]) {
    const want = new Float32Array(6 * 3 * 5);
    attentionRef(q, k, v, want, dims, { causal, blockSize: 64, scale: 0.4 });
    for (const chunks of [1, 2, 3, 10]) {
      const got = new Float32Array(want.length);
      decodeAttentionRef(q, k, v, got, dims, { causal, scale: 0.4 }, chunks);
      assert.ok(relError(got, want) <= 1e-12, `causal=${causal} chunks=${chunks}`);
    }
  }
});

test('decode plan: whole kv heads per thread when they divide evenly, else one key chunk per thread', () => {
  const big = 1 << 24;
  assert.deepEqual(decodePlan(3, 2048, big, 1), { chunks: 1, ranges: [[0, 3]] });
  assert.deepEqual(decodePlan(3, 2048, 1000, 2), { chunks: 1, ranges: [[0, 3]] }, 'too little work to split');
  assert.deepEqual(decodePlan(3, 2048, big, 2), {
    chunks: 2,
    ranges: [
      [0, 3],
      [3, 6],
    ],
  });
  assert.deepEqual(decodePlan(4, 2048, big, 2).chunks, 1);
  assert.deepEqual(decodePlan(4, 10000, big, 1).chunks, 3, 'chunks of at most 4096 keys');
});

test('decode attention on 2 threads splits SmolLM-shaped heads into merged key chunks', () => {
  const rt = useRuntime({ variant: 'simd', threads: 2 });
  const kernels: string[] = [];
  const parallel = rt.parallel.bind(rt);
  rt.parallel = (kernel, args, r) => {
    kernels.push(`${kernel}×${r.length}`);
    parallel(kernel, args, r);
  };
  try {
    const c = makeCase(9, 3, 2048, 64, 5);
    const b = randn([c.cols], 6);
    const got = wasm(c, b);
    assert.deepEqual(kernels, ['decode_attention_f32×2', 'decode_attention_merge_f32×1']);
    assert.ok(relError(got.data, reference(c, b).data) <= TOL.attention);
  } finally {
    useRuntime({});
  }
});
