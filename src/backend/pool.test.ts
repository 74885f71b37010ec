import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randn } from '../tensor/random.js';
import { denseMatmulRef } from './ops/dense.js';
import { splitByPrefix, splitEven } from './pool.js';
import { relError, TOL } from './tolerances.js';
import { useRuntime } from './wasm.js';

test('splitEven: covers [0,total) in order with aligned starts', () => {
  for (const [total, parts, align] of [
    [10, 2, 4],
    [1, 2, 1],
    [0, 2, 1],
    [17, 3, 4],
    [4096, 2, 4],
  ] as const) {
    const r = splitEven(total, parts, align);
    let at = 0;
    for (const [s, e] of r) {
      assert.equal(s, at);
      assert.ok(e > s);
      assert.equal(s % align, 0);
      at = e;
    }
    assert.equal(at, total);
    assert.ok(r.length <= parts);
  }
});

test('splitByPrefix: balances cost, not rows', () => {
  // 8 rows: the first row holds 90 of 100 non-zeros
  const prefix = [0, 90, 92, 94, 95, 96, 97, 99, 100];
  const r = splitByPrefix(prefix, 2);
  assert.deepEqual(r, [
    [0, 1],
    [1, 8],
  ]);
  const even = splitByPrefix([0, 10, 20, 30, 40], 2);
  assert.deepEqual(even, [
    [0, 2],
    [2, 4],
  ]);
});

test('pool: two threads give the same result as one, and a trapping kernel raises an error', () => {
  const w = randn([513, 300], 3);
  const x = randn([300], 4);
  const want = denseMatmulRef(w, x).data;
  const rt = useRuntime({ threads: 2 });
  assert.equal(rt.threads, 2);
  const wp = rt.upload(w.data);
  const xp = rt.upload(x.data);
  const yp = rt.alloc(513 * 4);
  rt.parallel('gemv_f32', [wp, xp, yp, 513, 300], rt.rowRanges(513, 4));
  assert.ok(relError(rt.f32(yp, 513), want) <= TOL.gemv);
  // offsets far past the end of memory: both the caller and the worker trap
  const bad = 2 ** 31;
  assert.throws(() => rt.parallel('gemv_f32', [bad, xp, yp, 513, 300], rt.rowRanges(513, 4)));
  // the pool still works afterwards
  rt.f32(yp, 513).fill(0);
  rt.parallel('gemv_f32', [wp, xp, yp, 513, 300], rt.rowRanges(513, 4));
  assert.ok(relError(rt.f32(yp, 513), want) <= TOL.gemv);
  assert.throws(() => rt.parallel('no_such_kernel', [], [[0, 1]]), /no kernel named no_such_kernel/);
  rt.close();
});

test('runtime: without SharedArrayBuffer it runs on one thread with a single notice', () => {
  const backend = fileURLToPath(new URL('./index.js', import.meta.url));
  const script = `
    const b = await import(${JSON.stringify(backend)});
    const rt = b.useRuntime({ threads: 2 });
    rt.setThreads(2);
    const { Tensor } = await import(${JSON.stringify(fileURLToPath(new URL('../tensor/tensor.js', import.meta.url)))});
    const y = b.matmul(Tensor.from([1, 2, 3, 4], [2, 2]), Tensor.from([1, 1]));
    console.log(JSON.stringify({ threads: rt.threads, y: [...y.data] }));
  `;
  const r = spawnSync(
    process.execPath,
    ['--no-harmony-sharedarraybuffer', '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { threads: 1, y: [3, 7] });
  const notices = r.stderr.split('\n').filter((l) => l.includes('SharedArrayBuffer is unavailable'));
  assert.equal(notices.length, 1, r.stderr);
});
