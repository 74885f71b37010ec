import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { relError } from '../backend/tolerances.js';
import { generate } from '../generate/generate.js';
import { LayerKV, type ModelKVCache } from '../nn/kvcache.js';
import { loadCausalLM } from './load.js';
import { writeTinyModel } from './testing.js';
import type { CausalLM, LoadOptions } from './types.js';

/**
 * Logits of a model run over a bf16 (or f16) cache against the same model over an f32 cache, relative to the
 * largest logit: keys and values rounded to 8 (11) significant bits move the attention output by ~2⁻⁹ (2⁻¹²)
 * relative, which the remaining layers carry (and on these random models amplify) to the logits. Measured
 * worst over 50 decode steps: 1.8e-2 (bf16) and 2.3e-3 (f16) on the tiny llama below, 2.8e-3 and 2.6e-4 on the
 * tiny gpt2; the bounds leave room for other prompts.
 */
const KV_HALF_LOGITS = { bf16: 3e-2, f16: 4e-3 } as const;

const tmp = mkdtempSync(join(tmpdir(), 'sparsekit-kv-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// head dim 16 (read in place by the half kernels); 160 positions, so decoding grows the cache past 64 and 128
const LLAMA = {
  hidden_size: 64,
  intermediate_size: 64,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 160,
};
const bf16Dir = join(tmp, 'llama-bf16');
writeTinyModel(bf16Dir, 'llama', { dtype: 'BF16', config: LLAMA, seed: 3 });
const f32Dir = join(tmp, 'gpt2-f32');
writeTinyModel(f32Dir, 'gpt2', { seed: 4 }); // head dim 8

const load = (dir: string, opts: LoadOptions = {}) => loadCausalLM(dir, opts);
const ids = (n: number, vocab: number) => Array.from({ length: n }, (_, i) => (i * 7 + 3) % vocab);

/** Logits [1 + steps, vocab]: the last prompt position, then each decode step's (one token at a time). */
function decodeLogits(
  lm: CausalLM,
  prompt: number[],
  steps: number[],
  cache = lm.newCache(),
): Float32Array[] {
  const out = [lm.forward(prompt, cache, { lastOnly: true }).data];
  for (const t of steps) out.push(lm.forward([t], cache).data);
  return out;
}

describe('KV cache dtype', () => {
  test('the default follows the weights (bf16 → bf16, f16 → f16, f32 → f32); kvDtype and newCache({ dtype }) override it', () => {
    assert.equal(load(bf16Dir, { weights: 'stored' }).newCache().dtype, 'bf16');
    assert.equal(load(bf16Dir, { weights: 'f16' }).newCache().dtype, 'f16');
    assert.equal(load(bf16Dir).newCache().dtype, 'f32', 'loaded as f32 (the plain-folder default)');
    assert.equal(load(bf16Dir, { weights: 'bf16', kvDtype: 'f32' }).newCache().dtype, 'f32');
    assert.equal(load(f32Dir, { kvDtype: 'f16' }).newCache().dtype, 'f16');
    assert.equal(load(bf16Dir, { weights: 'bf16' }).newCache({ dtype: 'f32' }).dtype, 'f32');
    assert.throws(
      () => load(f32Dir).newCache({ dtype: 'f8' as never }),
      /newCache: dtype must be one of f32, bf16, f16, got "f8"/,
    );
    assert.throws(
      () => load(f32Dir, { kvDtype: 'half' as never }),
      /loadModel: kvDtype must be one of f32, bf16, f16, got "half"/,
    );
  });

  test('a bf16-weight model over a bf16 cache: logits within KV_HALF_LOGITS.bf16 of the f32 cache, through growth past 64 and 128 positions', () => {
    const lm = load(bf16Dir, { weights: 'bf16' });
    const prompt = ids(40, 48);
    const steps = ids(110, 48).slice(20); // 90 steps: positions 40 … 129
    const want = decodeLogits(lm, prompt, steps, lm.newCache({ dtype: 'f32' }));
    const got = decodeLogits(lm, prompt, steps);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, relError(got[i]!, want[i]!));
    assert.ok(worst <= KV_HALF_LOGITS.bf16, `worst step error ${worst}`);
    assert.ok(worst > 0, 'the bf16 cache rounds (else the test compares f32 with itself)');
    // a fresh prefill of the whole sequence (the blocked kernel over widened positions) agrees with the decode steps
    const all = lm.forward([...prompt, ...steps], lm.newCache(), { lastOnly: true }).data;
    assert.ok(relError(all, got.at(-1)!) <= KV_HALF_LOGITS.bf16);
  });

  test('an f16 cache (gpt2, head dim 8) stays within KV_HALF_LOGITS.f16 of the f32 cache', () => {
    const lm = load(f32Dir);
    const prompt = ids(12, 50);
    const steps = ids(30, 50);
    const want = decodeLogits(lm, prompt, steps, lm.newCache({ dtype: 'f32' }));
    const got = decodeLogits(lm, prompt, steps, lm.newCache({ dtype: 'f16' }));
    for (let i = 0; i < want.length; i++)
      assert.ok(relError(got[i]!, want[i]!) <= KV_HALF_LOGITS.f16, `step ${i}`);
  });

  test('greedy generation over a bf16 cache gives the f32 cache tokens', async () => {
    for (const prompt of [ids(5, 48), ids(30, 48).slice(10)]) {
      const run = async (kvDtype: 'f32' | 'bf16') =>
        (await generate(load(bf16Dir, { weights: 'bf16', kvDtype }), prompt, { maxNewTokens: 12 })).tokens;
      assert.deepEqual(await run('bf16'), await run('f32'));
    }
  });

  test('a half cache holds half the bytes of an f32 cache at every capacity', () => {
    const lm = load(bf16Dir, { weights: 'bf16' });
    const wide = lm.newCache({ dtype: 'f32' }) as ModelKVCache;
    const half = lm.newCache() as ModelKVCache;
    // 2 layers × 2 kv heads × 16 dims × (k, v)
    assert.equal(wide.bytesPerPosition, 2 * 2 * 2 * 16 * 4);
    assert.equal(half.bytesPerPosition, wide.bytesPerPosition / 2);
    for (const n of [10, 60, 90]) {
      lm.forward(ids(n, 48), wide);
      lm.forward(ids(n, 48), half);
      assert.equal(half.nbytes * 2, wide.nbytes, `at ${wide.length} positions`);
    }
    assert.equal(wide.nbytes, 160 * wide.bytesPerPosition, 'grown to the model maximum (64 → 128 → 160)');
  });

  test('writes round to nearest even; reserve() keeps every head contents when the cache grows', () => {
    for (const [dtype, tie, odd] of [
      ['bf16', [0x3f80, 0x3f82], 2 ** -8],
      ['f16', [0x3c00, 0x3c02], 2 ** -11],
    ] as const) {
      const kv = new LayerKV(2, 8, 4, dtype);
      const T = 3;
      const k = new Float32Array(2 * T * 8).map((_, i) => i - 20);
      k[0] = 1 + odd; // half-way between 1 and the next half: rounds to 1 (even)
      k[1] = 1 + 3 * odd; // half-way between two halves: rounds up to the even one
      const v = k.map((x) => -x);
      kv.write(k, v, 1, T);
      assert.deepEqual([kv.k[8], kv.k[9]], tie, `${dtype} round to nearest even`);
      const before = [0, 1].map((h) => kv.k.slice((h * 4 + 1) * 8, (h * 4 + 1 + T) * 8));
      const vBefore = [0, 1].map((h) => kv.v.slice((h * 4 + 1) * 8, (h * 4 + 1 + T) * 8));
      kv.reserve(20, 1 + T, 100);
      assert.equal(kv.cap, 20);
      assert.equal(kv.nbytes, 2 * 2 * 20 * 8 * 2);
      for (const h of [0, 1]) {
        assert.deepEqual(
          kv.k.slice((h * 20 + 1) * 8, (h * 20 + 1 + T) * 8),
          before[h],
          `${dtype} k head ${h}`,
        );
        assert.deepEqual(
          kv.v.slice((h * 20 + 1) * 8, (h * 20 + 1 + T) * 8),
          vBefore[h],
          `${dtype} v head ${h}`,
        );
      }
    }
  });
});
