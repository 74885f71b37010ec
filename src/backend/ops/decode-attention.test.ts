import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DType, toBf16, toF16 } from '../../tensor/dtype.js';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { attentionRef } from '../reference/attention.js';
import { type DecodeMasking, decodeAttentionRef } from '../reference/decode-attention.js';
import { kernelArray } from '../resident.js';
import { relError, TOL } from '../tolerances.js';
import { runtime, useRuntime } from '../wasm.js';
import { cachedAttention, type KVBuffers } from './attention.js';
import { decodeAttentionReference, decodeAttentionWasm, decodePlan, kvAsF32 } from './decode-attention.js';
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

/** NaN in each storage (what the cache holds past Tk in these tests: never to be read). */
const NAN_BITS: Record<DType, number> = { f32: Number.NaN, bf16: 0x7fc0, f16: 0x7e00 };

/**
 * A [Hkv, Tk + 3, d] cache holding random keys and values (times `magnitude`; rounded to nearest even in a half
 * cache), NaN past Tk (never to be read). Kernel arrays when the kernel can read them in place.
 */
function makeCase(
  H: number,
  Hkv: number,
  Tk: number,
  d: number,
  seed: number,
  opts: Partial<DecodeMasking> = {},
  dtype: DType = 'f32',
  magnitude = 1,
  ramp = false,
): Case {
  const cap = Tk + 3;
  const n = Hkv * cap * d;
  const half = dtype !== 'f32';
  const inKernel = d % (half ? 8 : 4) === 0;
  const make = (): Float32Array | Uint16Array => {
    if (half) return inKernel ? kernelArray(runtime(), Uint16Array, n) : new Uint16Array(n);
    return inKernel ? kernelArray(runtime(), Float32Array, n) : new Float32Array(n);
  };
  const store = (x: Float32Array) => (dtype === 'bf16' ? toBf16(x) : dtype === 'f16' ? toF16(x) : x);
  const k = make();
  const v = make();
  k.fill(NAN_BITS[dtype]);
  v.fill(NAN_BITS[dtype]);
  // ramp: key j = (0.2 + 3j/Tk)·c_u + noise/4 for one random c_u per kv head, so a row's scores rise (q·c_u > 0)
  // or fall along the keys and its running maximum grows in every block of keys
  const c = randn([Hkv, d], seed + 2).data;
  const ramped = (x: number, i: number) => {
    const u = Math.floor(i / (Tk * d));
    const j = Math.floor(i / d) % Tk;
    return (0.2 + (3 * j) / Tk) * 4 * c[u * d + (i % d)]! + x / 4;
  };
  const kr = store(randn([Hkv, Tk, d], seed).data.map((x, i) => (ramp ? ramped(x, i) : x) * magnitude));
  const vr = store(randn([Hkv, Tk, d], seed + 1).data.map((x) => x * magnitude));
  for (let h = 0; h < Hkv; h++) {
    k.set(kr.subarray(h * Tk * d, (h + 1) * Tk * d) as never, h * cap * d);
    v.set(vr.subarray(h * Tk * d, (h + 1) * Tk * d) as never, h * cap * d);
  }
  const masking = { causal: opts.causal ?? true, scale: opts.scale ?? 1 / Math.sqrt(d) };
  return { H, Hkv, Tk, d, masking, cols: H * d, kv: { k, v, kvHeads: Hkv, cap, headDim: d, dtype } };
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
  [2, 1, 5000, 8, {}],
];

test('decode attention: the kernel equals its twin (GQA groups 1, 2, 3, 4; d 64, 32, 8, 6; contexts 1, 17, 2048, 5000)', () => {
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
  assert.deepEqual(decodePlan(3, big, 1), { chunks: 1, ranges: [[0, 3]] });
  assert.deepEqual(decodePlan(3, 1000, 2), { chunks: 1, ranges: [[0, 3]] }, 'too little work to split');
  assert.deepEqual(decodePlan(3, big, 2), {
    chunks: 2,
    ranges: [
      [0, 3],
      [3, 6],
    ],
  });
  assert.deepEqual(decodePlan(4, big, 2).chunks, 1);
});

for (const dtype of ['f32', 'bf16'] as const) {
  test(`decode attention over a ${dtype} cache on 2 threads splits SmolLM-shaped heads into merged key chunks`, () => {
    const rt = useRuntime({ variant: 'simd', threads: 2 });
    const kernels: string[] = [];
    const parallel = rt.parallel.bind(rt);
    rt.parallel = (kernel, args, r) => {
      kernels.push(`${kernel}×${r.length}`);
      parallel(kernel, args, r);
    };
    try {
      const c = makeCase(9, 3, 2048, 64, 5, {}, dtype);
      const b = randn([c.cols], 6);
      const got = wasm(c, b);
      assert.deepEqual(kernels, [`decode_attention_${dtype}×2`, 'decode_attention_merge_f32×1']);
      assert.ok(relError(got.data, reference(c, b).data) <= TOL.attention);
    } finally {
      useRuntime({});
    }
  });
}

// A half cache: the same shapes plus d = 12 (a multiple of 4, not of 8: the host pads rows to 8 and copies),
// tiny magnitudes (f16 subnormals: below 6.1e-5) and large ones (bf16's 8 exponent bits), with a
// scale that keeps the scores moderate.
const HALF_SHAPES: Array<[number, number, number, number, Partial<DecodeMasking>, number]> = [
  ...SHAPES.map(
    ([H, Hkv, Tk, d, opts]) =>
      [H, Hkv, Tk, d, opts, 1] as [number, number, number, number, Partial<DecodeMasking>, number],
  ),
  [6, 2, 33, 12, {}, 1],
  [4, 2, 40, 16, { scale: 1e4 }, 3e-5],
];

for (const dtype of ['bf16', 'f16'] as const) {
  test(`decode attention over a ${dtype} cache: the kernel equals its twin, which decodes the same bits (GQA 1, 3, 4; d 64, 32, 16, 12, 6; Tq 1–4; 2 threads: merged chunks)`, () => {
    forEachRuntime((where, use) => {
      use();
      HALF_SHAPES.forEach(([H, Hkv, Tk, d, opts, mag], i) => {
        const c = makeCase(H, Hkv, Tk, d, 10 * i, opts, dtype, mag);
        for (const Tq of [1, 2, 3, 4].filter((t) => t <= Tk)) {
          const what = `${where}, ${dtype} H=${H} Hkv=${Hkv} Tk=${Tk} d=${d} ${JSON.stringify(opts)} ×${mag} Tq=${Tq}`;
          assertTwin(wasm, reference, c, Tq, what, 100 + i, TOLS);
        }
      });
    });
  });
}

test('a half cache: the twin is exact attention over the widened keys and values', () => {
  for (const dtype of ['bf16', 'f16'] as const) {
    const c = makeCase(6, 2, 37, 8, 3, { scale: 0.4 }, dtype);
    const { k, v } = kvAsF32(c.kv, c.Tk);
    for (const causal of [true, false]) {
      const q = randn([6, 3, 8], 1).data;
      const want = new Float32Array(q.length);
      attentionRef(
        q,
        k,
        v,
        want,
        { H: 6, Hkv: 2, Tq: 3, Tk: 37, d: 8 },
        { causal, blockSize: 64, scale: 0.4 },
      );
      for (const chunks of [1, 3]) {
        const got = new Float32Array(want.length);
        const dims = { H: 6, Hkv: 2, Tq: 3, Tk: 37, d: 8, kvStride: c.kv.cap };
        decodeAttentionRef(q, c.kv.k, c.kv.v, got, dims, { causal, scale: 0.4 }, chunks, dtype);
        assert.ok(relError(got, want) <= 1e-12, `${dtype} causal=${causal} chunks=${chunks}`);
      }
    }
  }
});

test('cachedAttention over a half cache: decode kernel for Tq ≤ 4, widened positions for the blocked kernel', () => {
  for (const dtype of ['bf16', 'f16'] as const) {
    const c = makeCase(9, 3, 70, 64, 8, {}, dtype);
    const { k, v } = kvAsF32(c.kv, c.Tk);
    const f32: Case = { ...c, kv: { k, v, kvHeads: 3, cap: c.Tk, headDim: 64 } };
    for (const Tq of [1, 4, 5, 70]) {
      const b = randn([c.cols, Tq], Tq);
      const err = relError(viaCache(c, b).data, viaCache(f32, b).data);
      assert.ok(
        err <= TOL.attention,
        `${dtype} Tq=${Tq}: error ${err} against the f32 cache of the same values`,
      );
    }
    assert.throws(
      () => cachedAttention(randn([9, 1, 64], 1), { ...c.kv, dtype: 'f32' }, c.Tk),
      /a f32 cache holds k and v as Float32Arrays \(values\), got Uint16Array and Uint16Array/,
    );
  }
});

// The kernel scores and accumulates keys in blocks of 64 with an online softmax (a row's earlier sums rescaled
// when its maximum grows), 2 to 4 keys per step by group size, and query rows in quads: group sizes G = 1…12,
// key counts below, at and across the block and step sizes, head dims that are not a multiple of 8 (16 for a
// half cache's padded rows), and keys whose scores rise or fall along the cache (the maximum grows in every block).
test('decode attention in blocks of keys: G = 1…12, Tk around the block size, rising and falling scores', () => {
  forEachRuntime((where, use) => {
    use();
    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      const dims = dtype === 'f32' ? [4, 20, 64] : [8, 24, 64];
      let i = 0;
      for (const group of [1, 2, 3]) {
        for (const Tk of [5, 64, 65, 197]) {
          for (const ramp of [false, true]) {
            const d = dims[i % 3]!;
            const c = makeCase(group, 1, Tk, d, 7 * i, {}, dtype, 1, ramp);
            for (const Tq of [1, 2, 3, 4].filter((t) => t <= Tk)) {
              const what = `${where}, ${dtype} G=${group * Tq} Tk=${Tk} d=${d}${ramp ? ' ramp' : ''} Tq=${Tq}`;
              assertTwin(wasm, reference, c, Tq, what, 200 + i, TOLS);
            }
            i++;
          }
        }
      }
    }
  });
});

test('decode attention on 2 threads: merged key chunks whose maxima differ (rising and falling scores)', () => {
  useRuntime({ variant: 'simd', threads: 2 });
  try {
    for (const dtype of ['f32', 'bf16'] as const) {
      const c = makeCase(9, 3, 1001, 64, 11, {}, dtype, 1, true);
      assert.equal(decodePlan(3, 9 * 1001 * 64 * 4, 2).chunks, 2);
      for (const Tq of [1, 3]) assertTwin(wasm, reference, c, Tq, `${dtype} ramp Tq=${Tq}`, 300 + Tq, TOLS);
    }
  } finally {
    useRuntime({});
  }
});
