import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { halfFromDense } from '../formats/half.js';
import { randn } from '../tensor/random.js';
import { denseMatmulRef } from './ops/dense.js';
import { matmul } from './ops/index.js';
import { inKernelMemory, kernelArray, kernelOffset, release, toKernelMemory } from './resident.js';
import { relError, TOL } from './tolerances.js';
import { runtime } from './wasm.js';

test('kernel arrays: a weight in kernel memory is multiplied in place, with no second copy', () => {
  const rt = runtime();
  const w = inKernelMemory(randn([37, 29], 1));
  assert.notEqual(kernelOffset(rt, w.data), undefined);
  const x = randn([29], 2);
  matmul(randn([64, 512], 3), randn([512], 4)); // the runtime's call-frame scratch (beginFrame): allocated once
  const used = rt.heap.used;
  const y = matmul(w, x);
  assert.equal(rt.heap.used, used, 'matmul allocated no resident copy');
  assert.ok(relError(y.data, denseMatmulRef(w, x).data) <= TOL.gemv);
  // an edit through .data is what the next call sees, without release()
  w.data.fill(0, 0, 29);
  w.data[0] = 2;
  assert.equal(matmul(w, x).data[0], 2 * x.data[0]!);
  // release() has no copy to free and the data stays valid
  release(w);
  assert.ok(relError(matmul(w, x).data, denseMatmulRef(w, x).data) <= TOL.gemv);
  assert.equal(rt.heap.used, used);
});

test('kernel arrays: bf16 weights and reshapes share the region; toKernelMemory keeps a kernel array as is', () => {
  const rt = runtime();
  const t = randn([16, 40], 3);
  const h = inKernelMemory(halfFromDense(t, 'bf16'));
  assert.notEqual(kernelOffset(rt, h.data), undefined);
  const x = randn([40, 3], 4);
  const used = rt.heap.used;
  const ref = matmul(halfFromDense(t, 'bf16'), x);
  const got = matmul(h, x);
  assert.deepEqual(got.data, ref.data);
  const w = inKernelMemory(t);
  assert.equal(inKernelMemory(w), w);
  assert.equal(toKernelMemory(rt, w.data), w.data);
  assert.equal(kernelOffset(rt, w.reshape([40, 16]).data), kernelOffset(rt, w.data));
  assert.equal(kernelOffset(rt, w.data.subarray(1)), undefined, 'a subarray is not a kernel array');
  assert.ok(rt.heap.used >= used);
});

test('kernel arrays: zeroed, and a bad length is an error naming it', () => {
  const a = kernelArray(runtime(), Float32Array, 100);
  assert.equal(a.length, 100);
  assert.ok(a.every((v) => v === 0));
  assert.throws(() => kernelArray(runtime(), Float32Array, -1), /kernelArray: length must be an integer ≥ 0/);
});

test('kernel arrays: without SharedArrayBuffer they are plain arrays and matmul still works', () => {
  const index = fileURLToPath(new URL('../index.js', import.meta.url));
  const script = `
    const s = await import(${JSON.stringify(index)});
    const t = s.randn([9, 21], 1);
    const w = s.inKernelMemory(t);
    const x = s.randn([21], 2);
    console.log(JSON.stringify({ same: w === t, shared: typeof SharedArrayBuffer === 'function',
      err: s.relError(s.matmul(w, x).data, s.denseMatmulRef(t, x).data) }));
  `;
  const r = spawnSync(
    process.execPath,
    ['--no-harmony-sharedarraybuffer', '--input-type=module', '-e', script],
    { encoding: 'utf8', env: { ...process.env, SPARSEKIT_QUIET: '1' } },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { same: boolean; shared: boolean; err: number };
  assert.equal(out.same, true, 'the weight is kept as it was');
  assert.equal(out.shared, false);
  assert.ok(out.err <= TOL.gemv, `error ${out.err}`);
});
