/** generate and perplexity on a tiny random Llama model loaded from an HF folder (not a fake). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeRandomLlama } from '../cli/demo-model.js';
import { perplexity } from '../eval/perplexity.js';
import { loadCausalLM } from '../models/load.js';
import { generate } from './generate.js';
import { argmax } from './warpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'sparsekit-gen-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
writeRandomLlama(
  join(tmp, 'm'),
  { hiddenSize: 32, intermediateSize: 48, layers: 2, heads: 4, kvHeads: 2, maxPositions: 40 },
  { seed: 3 },
);
const lm = loadCausalLM(join(tmp, 'm'));
const V = 50257;

test('cached greedy generation = argmax of a full uncached forward at every step', async () => {
  const prompt = lm.tokenizer!.encode('The jury said Friday');
  const r = await generate(lm, prompt, { maxNewTokens: 10 });
  const seq = [...prompt];
  for (let i = 0; i < 10; i++) {
    const logits = lm.forward(seq, undefined, { lastOnly: true });
    seq.push(argmax(logits.data));
  }
  assert.deepEqual(r.tokens, seq.slice(prompt.length));
  const until = await generate(lm, prompt, { maxNewTokens: 100 });
  assert.equal(until.stopReason, 'max-positions');
  assert.equal(prompt.length + until.tokens.length, 40);
});

test('perplexity with one window = exp of the mean −log p from one full forward', async () => {
  const ids = lm.tokenizer!.encode('Only a relative handful of such reports was received, the jury said.');
  const logits = lm.forward(ids).data;
  let nll = 0;
  for (let t = 1; t < ids.length; t++) {
    const row = logits.subarray((t - 1) * V, t * V);
    let m = -Infinity;
    for (const v of row) m = Math.max(m, v);
    let z = 0;
    for (const v of row) z += Math.exp(v - m);
    nll += m + Math.log(z) - row[ids[t]!]!;
  }
  const r = await perplexity(lm, ids);
  assert.equal(r.tokens, ids.length - 1);
  assert.ok(Math.abs(r.nllSum - nll) < 1e-4, `${r.nllSum} vs ${nll}`);
  // Strided windows through the KV cache: chunking the scored positions changes nothing.
  const a = await perplexity(lm, ids, { ctx: 8, stride: 3, chunk: 1 });
  const b = await perplexity(lm, ids, { ctx: 8, stride: 3 });
  assert.ok(Math.abs(a.nllSum - b.nllSum) < 1e-4);
  assert.equal(a.tokens, ids.length - 1);
});
