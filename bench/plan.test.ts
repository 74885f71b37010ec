import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelPlan } from './plan.js';

const ids = (groups: ReturnType<typeof kernelPlan>) => groups.flatMap((g) => g.cases.map((c) => c.id));

test('the full plan holds every case the issue targets name, at 1 and 2 threads', () => {
  const all = ids(kernelPlan({ quick: false, threads: [1, 2] }));
  for (const t of [1, 2]) {
    for (const id of [
      `gemm 1024x1024 N=1024 dense t${t}`,
      `gemm 1024x1024 N=1024 ort-xw t${t}`,
      `matmul 4096x4096 N=1 dense t${t}`,
      `matmul 4096x11008 N=64 ort-wx t${t}`,
      `matmul 4096x4096 N=1 csr 90% t${t}`,
      `matmul 4096x11008 N=8 csr 90% t${t}`,
      `matmul 4096x4096 N=64 csr 90% t${t}`,
      `matmul 4096x4096 N=1 csr 65% t${t}`,
      `matmul 4096x4096 N=1 bitmask 50% t${t}`,
      `matmul 4096x4096 N=1 nm2:4 t${t}`,
      `matmul 4096x11008 N=8 bsr4x4 95% t${t}`,
      `colsparse_gemv 4096x4096 N=1 dense 50% inputs active t${t}`,
    ]) {
      assert.ok(all.includes(id), `missing ${id}`);
    }
  }
  assert.equal(new Set(all).size, all.length, 'case ids are unique');
});

test('--quick is one shape, batch 1 and 8, one thread', () => {
  const all = kernelPlan({ quick: true, threads: [1] }).flatMap((g) => g.cases);
  assert.ok(all.every((c) => c.threads === 1));
  assert.ok(
    all.filter((c) => c.op === 'matmul').every((c) => c.M === 4096 && c.K === 4096 && [1, 8].includes(c.N)),
  );
  assert.ok(all.some((c) => c.op === 'gemm'));
});

test('--only keeps matching cases plus the dense baselines they are compared with', () => {
  const groups = kernelPlan({ quick: false, threads: [1], only: 'matmul 4096x4096 N=8 csr 90%' });
  const got = ids(groups).sort();
  assert.deepEqual(got, [
    'matmul 4096x4096 N=8 csr 90% t1',
    'matmul 4096x4096 N=8 dense t1',
    'matmul 4096x4096 N=8 dense t1 pass2',
    'matmul 4096x4096 N=8 ort-wx t1',
    'matmul 4096x4096 N=8 ort-wx t1 pass2',
    'matmul 4096x4096 N=8 ort-xw t1',
    'matmul 4096x4096 N=8 ort-xw t1 pass2',
  ]);
  // the second pass of the baselines comes after the case
  const order = ids(groups);
  assert.ok(
    order.indexOf('matmul 4096x4096 N=8 csr 90% t1') < order.indexOf('matmul 4096x4096 N=8 dense t1 pass2'),
  );
  assert.deepEqual(kernelPlan({ quick: false, threads: [1], only: 'no such case' }), []);
});
