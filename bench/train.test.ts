import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchmarksMarkdown } from './report.js';
import { MFU_TARGET, runTrainSuite, trainFlopsPerToken, trainMarkdown } from './train.js';

test('train FLOPs per token: 6 per product parameter plus causal attention (6·L·H·d·T/2)', () => {
  const c = { num_hidden_layers: 2, num_attention_heads: 4, head_dim: 8 };
  assert.equal(trainFlopsPerToken(c, 16, 1000), 6000 + 6 * 2 * 4 * 8 * 8);
});

test('bench train on a tiny Llama: tokens/s and MFU per thread count, dense vs 90% CSR MLP backward, a markdown section', async () => {
  const r = await runTrainSuite({
    quick: true,
    threads: [1],
    reps: 1,
    command: 'sparsekit bench train --quick',
    quiet: true,
    config: {
      vocab_size: 64,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 8,
      max_position_embeddings: 32,
    },
    batch: { B: 2, T: 16 },
    mlp: { C: 32, I: 64, N: 64 },
  });
  assert.equal(r.suite, 'train');
  const row = r.train.rows[0]!;
  assert.equal(row.threads, 1);
  assert.ok(row.tokensPerSecond > 0 && row.gemmFlopsPerSecond > 0);
  assert.equal(row.mfu, (row.tokensPerSecond * row.flopsPerToken) / row.gemmFlopsPerSecond);
  assert.equal(row.target, MFU_TARGET);
  assert.deepEqual(
    r.train.sparseBackward.map((x) => x.part),
    ['up_proj', 'SwiGLU MLP'],
  );
  for (const sb of r.train.sparseBackward) {
    assert.equal(sb.sparsity, 0.9);
    assert.ok(sb.speedup > 0 && sb.denseMs.length === 1);
  }
  const md = trainMarkdown(r);
  assert.match(md, /## train: quick run/);
  assert.match(md, /\| 1 \| 2 × 16 \|/);
  assert.match(md, /\| 1 \| up_proj \| 32 × 64 \| 64 \|/);
  assert.match(md, /\| 1 \| SwiGLU MLP \| 32 × 64 \| 64 \|/);
});

test('BENCHMARKS.md ends with the built zoo models: size, held-out result, training time', () => {
  const record = {
    parameters: 50186,
    metrics: { testAccuracy: 0.9167, testLoss: 0.239, valAccuracy: 0.922 },
    seconds: 1998,
    rate: 274.2,
    itemName: 'samples',
    environment: { threads: '2' },
    date: '2026-11-30T01:11:00.000Z',
  };
  const md = benchmarksMarkdown([], [{ name: 'fmnist-cnn', record: record as never, bytes: 116_000 }]);
  assert.match(md, /## Reference models \(zoo\)/);
  assert.match(
    md,
    /\| `fmnist-cnn` \| 50,186 \| 0\.12 \| testAccuracy 91\.67%, valAccuracy 92\.20% \| 33\.3 min, 274 samples\/s \| 2 threads, 2026-11-30 \|/,
  );
  assert.doesNotMatch(benchmarksMarkdown([]), /Reference models/);
});
