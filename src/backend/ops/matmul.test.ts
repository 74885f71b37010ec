import assert from 'node:assert/strict';
import { test } from 'node:test';
import { halfFromDense } from '../../formats/half.js';
import { toFormat } from '../../formats/index.js';
import { nmPruneMagnitude } from '../../formats/nm.js';
import { randn, sparsify } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { setBackendMode } from '../dispatch.js';
import { kernelArray, release } from '../resident.js';
import { runtime } from '../wasm.js';
import { type MatmulWeight, matmul, matmulInto, matmulShared } from './matmul.js';
import { onEveryRuntime } from './testing.js';
import './index.js';

test('matmul: a [K,1] block runs each sparse format’s matrix-vector kernel and returns [M,1]', () => {
  const w = randn([24, 40], 1);
  const x = randn([40], 2);
  const rt = runtime();
  const parallel = rt.parallel.bind(rt);
  const kernels: string[] = [];
  rt.parallel = (name, ...rest) => {
    kernels.push(name);
    parallel(name, ...rest);
  };
  try {
    for (const a of [
      toFormat(sparsify(w, 0.7, 3), { format: 'csr' }),
      toFormat(nmPruneMagnitude(w, 2, 4), { format: 'nm', n: 2, m: 4 }),
      toFormat(sparsify(w, 0.7, 3), { format: 'bitmask' }),
    ]) {
      kernels.length = 0;
      const col = matmul(a, x.reshape([40, 1]));
      assert.deepEqual(col.shape, [24, 1]);
      assert.deepEqual(col.data, matmul(a, x).data, `${a.format}: the same numbers as the vector product`);
      assert.ok(
        kernels.length > 0 && kernels.every((k) => !k.includes('spmm')),
        `${a.format} ran ${kernels.join(', ')}`,
      );
    }
  } finally {
    rt.parallel = parallel;
  }
});

test('matmulShared: the same numbers and shapes as one matmul per weight, for every format mix and column count', () => {
  const K = 37; // not a multiple of 8: the half GEMV's scalar tail runs
  const dense = [randn([16, K], 1), randn([5, K], 2), randn([9, K], 3)];
  const sets: Array<[string, MatmulWeight[]]> = [
    ['dense', dense],
    ['bf16', dense.map((w) => halfFromDense(w, 'bf16'))],
    ['f16', dense.map((w) => halfFromDense(w, 'f16'))],
    ['dense + bf16', [dense[0]!, halfFromDense(dense[1]!, 'bf16')]],
    ['csr', dense.map((w) => toFormat(sparsify(w, 0.6, 4), { format: 'csr' }))],
  ];
  onEveryRuntime((where) => {
    for (const [name, ws] of sets) {
      for (const b of [randn([K], 5), randn([K, 1], 6), randn([K, 3], 7)]) {
        const got = matmulShared(ws, b);
        const want = ws.map((w) => matmul(w, b));
        assert.equal(got.length, ws.length);
        got.forEach((g, i) => {
          assert.deepEqual(g.shape, want[i]!.shape, `${where} ${name} [${b.shape}] #${i}: shape`);
          assert.deepEqual(g.data, want[i]!.data, `${where} ${name} [${b.shape}] #${i}: values`);
        });
      }
    }
  });
});

test('matmulShared: bf16 weights sharing one column run one GEMV each, nothing else', () => {
  const ws = [randn([8, 24], 1), randn([4, 24], 2), randn([4, 24], 3)].map((w) => halfFromDense(w, 'bf16'));
  const rt = runtime();
  const parallel = rt.parallel.bind(rt);
  const kernels: string[] = [];
  rt.parallel = (name, ...rest) => {
    kernels.push(name);
    parallel(name, ...rest);
  };
  try {
    matmulShared(ws, randn([24, 1], 4));
  } finally {
    rt.parallel = parallel;
  }
  assert.deepEqual(kernels, ['gemv_bf16_f32', 'gemv_bf16_f32', 'gemv_bf16_f32']);
});

test('matmulShared: errors name the argument', () => {
  assert.throws(() => matmulShared([], randn([4], 1)), /ws must be a non-empty array/);
  assert.throws(
    () => matmulShared([randn([3, 4], 1), randn([3, 5], 2)], randn([4], 3)),
    /matmulShared: b has 4 rows but a weight has 5 columns/,
  );
});

test('matmulInto: a repeated (w, x, y) runs what its first call prepared, and follows x, threads, release and the backend mode', () => {
  const rt = runtime();
  const w32 = randn([40, 24], 5);
  const weights = [
    w32,
    halfFromDense(w32, 'bf16'),
    halfFromDense(w32, 'f16'),
    toFormat(sparsify(w32, 0.7, 3), { format: 'csr' }),
    toFormat(sparsify(w32, 0.7, 3), { format: 'csr_bf16' }),
    toFormat(nmPruneMagnitude(w32, 2, 4), { format: 'nm', n: 2, m: 4 }),
    toFormat(nmPruneMagnitude(w32, 2, 4), { format: 'nm_bf16', n: 2, m: 4 }),
    toFormat(nmPruneMagnitude(w32, 1, 3), { format: 'nm', n: 1, m: 3 }),
    toFormat(nmPruneMagnitude(w32, 2, 8), { format: 'nm', n: 2, m: 8 }), // 24 = 3 groups of 8
  ] as MatmulWeight[];
  for (const w of weights) {
    const x = kernelArray(rt, Float32Array, 24);
    const y = kernelArray(rt, Float32Array, 40);
    const check = (what: string) => {
      const want = matmul(w, new Tensor(x.slice(), [24])).data;
      assert.deepEqual([...y], [...want], what);
    };
    x.set(randn([24], 6).data);
    matmulInto(w, x, y);
    check('first call');
    // the prepared call: one profiled product runs only the pack and the GEMV kernels
    x.set(randn([24], 7).data);
    const p = rt.startProfile();
    matmulInto(w, x, y);
    rt.stopProfile();
    check('new x, same arrays');
    const ran = p.timings().map((t) => t.kernel);
    const format = w instanceof Tensor ? 'dense' : w.format;
    const expected: Record<string, string[]> = {
      dense: ['gemv_f32'],
      bf16: ['gemv_bf16_f32', 'half_pack_x'],
      f16: ['gemv_f16_f32', 'half_pack_x'],
      csr: ['csr_spmv_f32'],
      csr_bf16: ['csr_spmv_bf16'],
    };
    if (format in expected) assert.deepEqual(ran.sort(), expected[format]!.sort(), format);
    else assert.ok(ran.length > 0 && ran.every((k) => k.startsWith('nm')), `${format}: ${ran}`);
    // two threads, then one again
    rt.setThreads(2);
    x.set(randn([24], 8).data);
    matmulInto(w, x, y);
    check('two threads');
    rt.setThreads(1);
    matmulInto(w, x, y); // prepared again for one thread
    check('one thread again');
    // a weight edited in place and released: the next call reads the new values
    if (w instanceof Tensor) {
      w.data[0] = 100;
      release(w);
      matmulInto(w, x, y);
      check('after release');
    }
    // reference mode: the prepared call is not reused, no kernel runs
    setBackendMode('reference');
    try {
      const q = rt.startProfile();
      matmulInto(w, x, y);
      rt.stopProfile();
      assert.deepEqual(q.timings(), [], 'reference mode runs the TypeScript twin');
    } finally {
      setBackendMode('auto');
    }
    // another output array: prepared anew, the old one untouched
    const y2 = kernelArray(rt, Float32Array, 40);
    const before = y.slice();
    x.set(randn([24], 9).data);
    matmulInto(w, x, y2);
    assert.deepEqual([...y2], [...matmul(w, new Tensor(x.slice(), [24])).data]);
    assert.deepEqual([...y], [...before]);
  }
});
