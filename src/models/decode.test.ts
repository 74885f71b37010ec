import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runtime } from '../backend/wasm.js';
import { tempDir } from '../io/testing.js';
import { loadCausalLM } from './index.js';
import { writeTinyModel } from './testing.js';

const tmp = tempDir();
after(() => tmp.cleanup());

test('llama decode steps on the decode-attention kernel give the full forward logits (GQA group 3)', () => {
  // 6 query heads over 2 kv heads (SmolLM's group of 3), head dim 8, 3 layers
  const dir = join(tmp.dir, 'llama-gqa3');
  const config = { hidden_size: 48, num_attention_heads: 6, num_key_value_heads: 2, num_hidden_layers: 3 };
  writeTinyModel(dir, 'llama', { config, seed: 11 });
  const lm = loadCausalLM(dir);
  const V = lm.config.vocabSize;
  const x = Array.from({ length: 80 }, (_, i) => (i * 7 + 5) % V);
  const full = lm.forward(x).data;
  const rt = runtime();
  const parallel = rt.parallel;
  let decodeRuns = 0;
  rt.parallel = (kernel, args, ranges) => {
    if (kernel === 'decode_attention_f32') decodeRuns++;
    parallel.call(rt, kernel, args, ranges);
  };
  try {
    const cache = lm.newCache();
    lm.forward(x.slice(0, 70), cache);
    assert.equal(decodeRuns, 0, 'a 70-token prefill runs the blocked kernel');
    let err = 0;
    for (let t = 70; t < 80; t++) {
      const step = lm.forward([x[t]!], cache).data;
      for (let i = 0; i < V; i++) err = Math.max(err, Math.abs(step[i]! - full[t * V + i]!));
    }
    assert.equal(decodeRuns, 10 * 3, 'one decode-kernel run per layer and step');
    assert.ok(err <= 1e-4, `max abs logit difference ${err}`);
  } finally {
    rt.parallel = parallel;
  }
});
