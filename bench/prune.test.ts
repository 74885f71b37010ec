import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeRandomLlama } from '../src/cli/demo-model.js';
import { runPruneSuite } from './prune.js';
import { benchmarksMarkdown, pruneMarkdown } from './report.js';

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
  const r = await runPruneSuite({ quick: true, command: 'test', quiet: true, shape, sparsegpt, zoo: [] });
  const run = r.prune!;
  assert.equal(r.suite, 'prune');
  const formats = Object.fromEntries(run.variants.map((v) => [v.variant, v.formats]));
  assert.deepEqual(
    formats['magnitude 70%'],
    { csr_bf16: 14, bf16: 1 },
    'bf16 values kept exactly; the tied head unpruned, bf16 as stored',
  );
  assert.deepEqual(
    formats['magnitude 2:4'],
    { nm_bf16: 14, bf16: 1 },
    'N:M with its bf16 values kept exactly',
  );
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
  // each decode row carries its split by layer: the LM head apart from the block linears
  for (const row of run.rows.filter((x) => x.phase === 'decode')) {
    const kinds = row.split!.layers!.map((l) => l.layer);
    assert.ok(kinds.includes('lm_head') && kinds.includes('mlp.down_proj'), `${row.variant}: ${kinds}`);
  }
  assert.match(md, /Where a decode step goes/);
  assert.match(md, /\| magnitude 70% +\| +1 \| +[\d.]+ \| +[\d.]+ \| +[\d.]+ \|.*GB\/s \|/);
});

test('prune suite: zoo models get their own rows, and SparseGPT is timed on brown-llama with Brown calibration', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sparsekit-bench-prune-zoo-'));
  try {
    const zooModel = join(root, 'brown-llama');
    writeRandomLlama(zooModel, {
      hiddenSize: 32,
      intermediateSize: 64,
      layers: 2,
      heads: 2,
      kvHeads: 1,
      maxPositions: 64,
    });
    const shape = {
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 16,
      vocab_size: 64,
    };
    const r = await runPruneSuite({
      quick: true,
      command: 'test',
      quiet: true,
      shape,
      only: '2:4',
      sparsegpt: { calibCount: 2, calibLength: 128 },
      zoo: [zooModel],
    });
    const run = r.prune!;
    assert.deepEqual(run.zoo, [
      {
        name: 'brown-llama',
        parameters: 2 * (2 * 32 * 32 + 2 * 16 * 32 + 3 * 32 * 64) + 50257 * 32,
        context: 64,
        prefill: 64,
      },
    ]);
    assert.deepEqual(
      run.rows.filter((x) => x.model === 'brown-llama').map((x) => `${x.variant} ${x.phase} ${x.context}`),
      ['dense f32 decode 64', 'dense f32 prefill 64', 'magnitude 2:4 decode 64', 'magnitude 2:4 prefill 64'],
    );
    assert.ok(
      run.rows.filter((x) => x.model === 'brown-llama').every((x) => x.target === undefined),
      'targets are for the 135M shapes',
    );
    assert.equal(run.sparsegpt.model, 'brown-llama');
    assert.equal(run.sparsegpt.calibLength, 64, 'calibration sequences are capped at the model positions');
    assert.ok(run.sparsegpt.seconds > 0);
    const md = pruneMarkdown(r);
    assert.match(md, /### brown-llama/);
    assert.match(
      md,
      /SparseGPT time: [\d.]+ s to prune `brown-llama` to 50% unstructured from 2 × 64 calibration tokens/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
