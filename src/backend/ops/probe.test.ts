import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../../tensor/random.js';
import { fmaChainsRef, streamSumRef } from '../reference/probe.js';
import { relError } from '../tolerances.js';
import { runtime } from '../wasm.js';
import { BandwidthProber, multiplyAddRate, readBandwidth } from './probe.js';
import { forEachRuntime } from './testing.js';

forEachRuntime((label, use) => {
  test(`probe: the streaming sum matches its twin and the probe reports a rate (${label})`, () => {
    use();
    const rt = runtime();
    const data = randn([64 * 256], 3).data; // 64 chunks of 256 floats (1 KiB)
    const p = rt.upload(data);
    const out = rt.alloc(64 * 4);
    rt.parallel('stream_sum_f32', [p, 1024, out], rt.rowRanges(64));
    assert.ok(relError(rt.f32(out, 64), streamSumRef(data, 256)) <= 1e-5);
    rt.free(p);
    rt.free(out);
    const r = readBandwidth(8 * 2 ** 20, 2);
    assert.equal(r.bytes, 8 * 2 ** 20);
    assert.equal(r.seconds.length, 2);
    assert.equal(r.threads, rt.threads);
    assert.ok(r.bytesPerSecond > 1e8, `${r.bytesPerSecond} B/s`);
  });
});

test('probe: bad sizes are errors naming the argument', () => {
  assert.throws(() => readBandwidth(0), /readBandwidth: bytes must be a positive number, got 0/);
  assert.throws(() => readBandwidth(1024, 0), /readBandwidth: passes must be an integer ≥ 1, got 0/);
});

test('probe: a buffer of one chunk, and a prober measured twice then freed', () => {
  assert.ok(readBandwidth(1024, 1).bytesPerSecond > 0, 'fewer than the 4 chunks the sums are checked on');
  const p = new BandwidthProber(3 * 2 ** 20);
  try {
    const [a, b] = [p.measure(1), p.measure(2)];
    assert.equal(a.bytes, 3 * 2 ** 20);
    assert.equal(b.seconds.length, 2);
  } finally {
    p.free();
  }
  assert.throws(() => p.measure(), /the probe buffer was freed/);
});

forEachRuntime((label, use) => {
  test(`probe: the multiply-add chains match their twin and the arithmetic probe reports a rate (${label})`, () => {
    use();
    const rt = runtime();
    const out = rt.alloc(3 * 4);
    for (const iters of [0, 1, 7, 5000]) {
      rt.parallel('fma_chains_f32', [iters, out], [[0, 3]]);
      const want = fmaChainsRef(iters);
      for (const v of rt.f32(out, 3))
        assert.ok(Math.abs(v - want) <= 1e-5 * Math.max(1, want), `${iters}: ${v} vs ${want}`);
    }
    rt.free(out);
    assert.ok(
      Math.abs(fmaChainsRef(0) - 4 * (66 / 12)) < 1e-6,
      'chain c starts at c / 12 in each of 4 lanes',
    );
    // every chain converges to D / (1 − C) = 1, until a step's change falls under half an ulp (1 − a < 2⁻¹⁵)
    assert.ok(Math.abs(fmaChainsRef(1e5) - 48) < 48 * 2 ** -14, 'the chains converge to 1');
    const r = multiplyAddRate(2);
    assert.equal(r.threads, rt.threads);
    assert.ok(r.multiplyAddsPerSecond > 1e8, `${r.multiplyAddsPerSecond} multiply-adds/s`);
  });
});

test('probe: multiplyAddRate names a bad pass count', () => {
  assert.throws(() => multiplyAddRate(0), /passes must be an integer ≥ 1, got 0/);
});
