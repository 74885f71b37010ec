import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPruneSuite } from './prune.js';
import { benchmarksMarkdown } from './report.js';

test('prune suite: a tiny run loads CSR and N:M models from compact checkpoints, times them against dense and renders', async () => {
  const shape = {
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 32,
    vocab_size: 128,
  };
  const sparsegpt = { shape: { ...shape, max_position_embeddings: 64 }, calibCount: 2, calibLength: 16 };
  const r = await runPruneSuite({ quick: true, command: 'test', quiet: true, shape, sparsegpt });
  const run = r.prune!;
  assert.equal(r.suite, 'prune');
  const formats = Object.fromEntries(run.variants.map((v) => [v.variant, v.formats]));
  assert.deepEqual(formats['magnitude 70%'], { csr: 14, dense: 1 }, 'the tied head stays dense');
  assert.deepEqual(formats['magnitude 2:4'], { nm: 14, dense: 1 });
  assert.deepEqual(formats['dense bf16'], { bf16: 15 });
  for (const v of run.variants.filter((x) => x.source === 'compact')) assert.ok(v.maxLogitDiff! < 1e-4);
  assert.deepEqual(
    run.rows.map((x) => `${x.variant} ${x.phase} t${x.threads}`),
    ['dense f32', 'dense bf16', 'magnitude 70%', 'magnitude 2:4'].flatMap((v) => [
      `${v} decode t1`,
      `${v} prefill t1`,
    ]),
  );
  for (const row of run.rows)
    assert.ok(row.tokensPerSecond > 0 && Number.isFinite(row.vsDense), JSON.stringify(row));
  assert.equal(run.rows[0]!.vsDense, 1);
  assert.equal(run.rows.find((x) => x.variant === 'magnitude 70%' && x.phase === 'decode')!.target, 1.6);
  assert.ok(run.sparsegpt.seconds > 0);
  const md = benchmarksMarkdown([r]);
  assert.match(md, /## prune: quick run/);
  assert.match(md, /\| magnitude 2:4 +\| +1 \| decode, context 128 +\|.*\| ≥ 1\.20× \| (PASS|MISS) +\|/);
  assert.match(md, /SparseGPT time: [\d.]+ s to prune a random Llama/);
});
