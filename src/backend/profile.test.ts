import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../tensor/random.js';
import { denseMatmulRef } from './ops/dense.js';
import { matmul } from './ops/matmul.js';
import { kernelCategory } from './profile.js';
import { relError, TOL } from './tolerances.js';
import { useRuntime } from './wasm.js';

test('startProfile times every kernel call and parallel run once; stopProfile restores the exports', () => {
  for (const threads of [1, 2]) {
    const rt = useRuntime({ threads });
    const direct = rt.kernels.gemv_f32;
    const w = randn([513, 300], 3);
    const x = randn([300], 4);
    const wp = rt.upload(w.data);
    const xp = rt.upload(x.data);
    const yp = rt.alloc(513 * 4);
    const p = rt.startProfile();
    assert.notEqual(rt.kernels.gemv_f32, direct, 'kernels are wrapped while the profile is open');
    assert.throws(() => rt.startProfile(), /a profile is already open/);
    for (let i = 0; i < 3; i++) rt.parallel('gemv_f32', [wp, xp, yp, 513, 300], rt.rowRanges(513, 4));
    rt.kernels.gemv_f32!(wp, xp, yp, 513, 300, 0, 513); // a direct call through the wrapper
    // the wrapped kernels compute what the exports do, through the public matmul as well
    assert.ok(relError(rt.f32(yp, 513), denseMatmulRef(w, x).data) <= TOL.gemv);
    assert.ok(relError(matmul(w, x).data, denseMatmulRef(w, x).data) <= TOL.gemv);
    assert.equal(rt.stopProfile(), p);
    assert.equal(rt.kernels.gemv_f32, direct, 'stopProfile hands out the exports again');
    assert.throws(() => rt.stopProfile(), /no profile is open/);
    const gemv = p.timings().find((t) => t.kernel === 'gemv_f32');
    // three parallel runs (one call each, whatever the thread count), one direct call, matmul's own GEMVs
    assert.ok(gemv && gemv.calls >= 4, JSON.stringify(p.timings()));
    assert.ok(gemv.ms > 0);
    assert.ok(p.kernelMs <= p.wallMs, `${p.kernelMs} ms in kernels within ${p.wallMs} ms of wall time`);
    // kernels not called are not listed; calls after stopProfile are not counted
    assert.ok(!p.timings().some((t) => t.kernel === 'softmax_rows_f32'));
    const before = gemv.calls;
    rt.parallel('gemv_f32', [wp, xp, yp, 513, 300], rt.rowRanges(513, 4));
    assert.equal(p.timings().find((t) => t.kernel === 'gemv_f32')!.calls, before);
    rt.close();
  }
});

test('kernelCategory groups the exports a model calls', () => {
  const cases: Array<[string, string]> = [
    ['gemv_bf16_f32', 'matmul'],
    ['gemm_f32', 'matmul'],
    ['csr_spmv_bf16', 'matmul'],
    ['nm24_spmv_bf16', 'matmul'],
    ['bsr_spmm_u16_f32', 'matmul'],
    ['half_pack_x', 'matmul'],
    ['decode_attention_bf16', 'attention'],
    ['attention_f32', 'attention'],
    ['softmax_rows_f32', 'attention'],
    ['rmsnorm_f32', 'norm+activation'],
    ['activate_f32', 'norm+activation'],
    ['topk_rows_f32', 'other'],
  ];
  for (const [kernel, category] of cases) assert.equal(kernelCategory(kernel), category, kernel);
});
