import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attentionMultiplyAdds,
  flopsPerToken,
  kvBytesPerToken,
  linearParams,
  runModelsSuite,
  SMOLLM_135M,
} from './models.js';
import { benchmarksMarkdown, ms } from './report.js';

test('models cost model: SmolLM-135M multiplies 134.5 M weights per token', () => {
  // per layer: q 576², k and v 192·576 each, o 576², gate/up/down 3·1536·576; plus the tied LM head
  assert.equal(linearParams(SMOLLM_135M), 30 * 3_538_944 + 49152 * 576);
  assert.equal(kvBytesPerToken(SMOLLM_135M, 2048), 2 * 30 * 3 * 64 * 2048 * 4);
  assert.equal(flopsPerToken(SMOLLM_135M, 0), 2 * linearParams(SMOLLM_135M));
  assert.equal(flopsPerToken(SMOLLM_135M, 10) - flopsPerToken(SMOLLM_135M, 0), 4 * 30 * 9 * 64 * 10);
  // q·k and p·v over 2048 positions: 70.8 M multiply-adds a token
  assert.equal(attentionMultiplyAdds(SMOLLM_135M, 2048), 2 * 30 * 9 * 64 * 2048);
});

test('models suite: a tiny run times f32 and bf16 decode and prefill against their bounds and renders', async () => {
  const shape = {
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 32,
    vocab_size: 128,
  };
  const r = await runModelsSuite({ quick: true, command: 'test', quiet: true, shape, probeBytes: 2 ** 22 });
  const run = r.models!;
  assert.equal(r.suite, 'models');
  assert.deepEqual(
    run.rows.map((x) => `${x.weights} ${x.phase} ${x.context} t${x.threads}`),
    [
      'f32 decode 128 t1',
      'f32 decode 512 t1',
      'f32 prefill 128 t1',
      'bf16 decode 128 t1',
      'bf16 decode 512 t1',
      'bf16 prefill 128 t1',
    ],
  );
  for (const row of run.rows) {
    assert.ok(row.tokensPerSecond > 0 && Number.isFinite(row.bound), JSON.stringify(row));
    assert.equal(row.ofBound, row.tokensPerSecond / row.bound);
  }
  // each decode row's roofline is its own probe ÷ the weight bytes: bf16 halves the bytes
  const decode = (w: string) => run.rows.find((x) => x.weights === w && x.phase === 'decode')!;
  for (const w of ['f32', 'bf16']) {
    const row = decode(w);
    assert.ok(row.readBytesPerSecond! > 0, `${w}: the row's probe`);
    assert.equal(row.bound, row.readBytesPerSecond! / row.weightBytesPerToken);
  }
  assert.equal(decode('f32').weightBytesPerToken / decode('bf16').weightBytesPerToken, 2);
  // every row carries the split of its phase from profiled runs
  for (const row of run.rows) {
    const split = row.split!;
    assert.ok(split.parts.matmul > 0 && split.parts.attention > 0, JSON.stringify(split));
    assert.ok(split.kernels.length > 0 && split.profiledMs > 0, JSON.stringify(split));
  }
  const md = benchmarksMarkdown([r]);
  assert.match(md, /## models: quick run/);
  assert.match(md, /\| bf16 +\| +1 \| decode, context 128 +\|/);
  assert.match(md, /### Where the time goes/);
  assert.match(
    md,
    /\| f32 +\| +1 \| decode, context 128 +\| +[\d.]+ \| +[\d.]+ \|.*GB\/s \(\d+%\) +\| +[\d.]+ \|/,
  );
  // a decode row under its target says, in its own figures, what the step had to fit in
  const missed = structuredClone(r);
  const row = missed.models!.rows.find((x) => x.weights === 'f32' && x.phase === 'decode')!;
  row.ofBound = 0.5;
  const budget = 1000 / (row.target * row.bound);
  const text = benchmarksMarkdown([missed]);
  assert.match(
    text,
    /\*\*f32, 1 thread, context 128 \(50%\):\*\* 70% of the roofline needs a step of at most/,
  );
  assert.ok(
    text.includes(`at most ${ms(budget)} ms. The matmuls took ${ms(row.split!.parts.matmul)} ms`),
    text,
  );
  // one such text per decode row under its target, none for the others
  const missing = run.rows.filter((x) => x.phase === 'decode' && x.ofBound < x.target).length;
  assert.equal(md.match(/needs a step of at most/g)?.length ?? 0, missing);
});
