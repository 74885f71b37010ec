import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { perplexity } from '../eval/perplexity.js';
import { loadTokenizer } from '../io/tokenizer.js';
import { loadCausalLM } from '../models/load.js';
import { BROWN_GPT2_HYPER, BROWN_LLAMA_HYPER, buildLm, type LmData, type LmHyper } from './brown-lm.js';
import { zooChecksums } from './zoo.js';

const tmp = mkdtempSync(join(tmpdir(), 'sparsekit-zoo-lm-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const sentences = [
  'The jury said the city was well run.',
  'The court heard the case on Friday.',
  'A new road was built near the river.',
  'The mayor said the vote would come soon.',
  'Children played in the park after school.',
  'The report praised the work of the staff.',
];
const doc = (k: number) =>
  Array.from({ length: 12 }, (_, i) => sentences[(i * 5 + k) % sentences.length]).join(' ');
const data: LmData = {
  train: [0, 1, 2, 3, 4, 5, 6, 7].map(doc),
  validation: [doc(9)],
  validationText: doc(9),
  test: [doc(10), doc(11)].join('\n\n'),
  name: 'test sentences',
};

/** The recipe's training settings on a tiny Llama (the real recipes differ only in sizes and steps). */
const tiny: LmHyper = {
  ...BROWN_LLAMA_HYPER,
  config: {
    ...BROWN_LLAMA_HYPER.config,
    vocab_size: 320,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 8,
    max_position_embeddings: 32,
  },
  tokenizer: { vocabSize: 320, minFrequency: 2 },
  batchSize: 4,
  seqLen: 32,
  steps: 40,
  lr: 1e-2,
  warmupSteps: 5,
  evalEvery: 20,
  evalWindows: 4,
  checkpointEvery: 10,
  pplCtx: 32,
};
const quiet = { threads: 1, progress: 'none' as const, log: () => {} };

test('zoo LM recipes: ~8.5M parameters each, vocab = tokenizer size, one width and depth for both', () => {
  for (const h of [BROWN_GPT2_HYPER, BROWN_LLAMA_HYPER]) {
    assert.equal(h.config.vocab_size, h.tokenizer.vocabSize);
    assert.equal(h.seqLen, h.pplCtx);
  }
  assert.equal(BROWN_GPT2_HYPER.config.n_embd, BROWN_LLAMA_HYPER.config.hidden_size);
});

test('zoo build (LM): BPE tokenizer + trained Llama in an HF folder that eval ppl scores as recorded', async () => {
  const root = tmp;
  const res = await buildLm('tiny-llama', 'a test LM', tiny, { root, ...quiet }, data);
  assert.ok(res.complete);
  const dir = join(root, 'tiny-llama');
  for (const f of [
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'generation_config.json',
    'TRAINING.md',
  ])
    assert.ok(existsSync(join(dir, f)), f);
  const record = JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8'));
  assert.equal(record.hyperparameters.tokenizer.vocabSize, 320);
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).torch_dtype, 'float16');
  const curve = record.curve as Array<{ metrics: { valLoss: number } }>;
  assert.equal(curve.length, 2);
  assert.ok(
    curve[1]!.metrics.valLoss < Math.log(320) - 1,
    `validation loss ${curve[1]!.metrics.valLoss} fell`,
  );
  const tok = loadTokenizer(dir);
  assert.equal(tok.decode(tok.encode(sentences[0]!)), sentences[0]);
  const ppl = await perplexity(loadCausalLM(dir), tok.encode(data.test), { ctx: 32, stride: 32 });
  assert.equal(ppl.ppl, res.metrics.testPerplexity);
  assert.ok(ppl.ppl < 40, `test perplexity ${ppl.ppl} (uniform would be 320)`);
  assert.equal(readFileSync(join(root, 'SHA256SUMS'), 'utf8'), zooChecksums(root));
  // by name, from the command line
  const text = join(tmp, 'test.txt');
  writeFileSync(text, data.test);
  const bin = fileURLToPath(new URL('../../../bin/sparsekit.js', import.meta.url));
  const r = spawnSync(
    process.execPath,
    [bin, 'eval', 'ppl', 'tiny-llama', '--data', text, '--ctx', '32', '--json'],
    { encoding: 'utf8', cwd: tmp, env: { ...process.env, SPARSEKIT_ZOO: root } },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).ppl, res.metrics.testPerplexity);
  const inspect = spawnSync(process.execPath, [bin, 'inspect', 'tiny-llama', '--json'], {
    encoding: 'utf8',
    cwd: tmp,
    env: { ...process.env, SPARSEKIT_ZOO: root },
  });
  assert.equal(inspect.status, 0, inspect.stderr);
  assert.match(inspect.stdout, /model\.layers\.0\.mlp\.up_proj\.weight/);
});
