import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TextStream } from '../io/tokenizer.js';
import { generate, samplingOf } from './generate.js';
import { constantLogits, countingLogits, FakeLM } from './testing.js';

/** A tokenizer whose id i is the letter 'a' + i. */
const letters = {
  stream(): TextStream {
    return { push: (id) => String.fromCharCode(97 + id), flush: () => '' };
  },
};

test('greedy: one batched prefill of the prompt, then one cached single-token forward per new token', async () => {
  const model = new FakeLM(10, 64, countingLogits(10));
  const r = await generate(model, [2, 7, 3], { maxNewTokens: 5 });
  assert.deepEqual(r.tokens, [4, 5, 6, 7, 8]);
  assert.equal(r.stopReason, 'max-new-tokens');
  assert.deepEqual(
    model.calls.map((c) => [c.ids, c.cached, c.lastOnly]),
    [
      [[2, 7, 3], 0, true],
      [[4], 3, true],
      [[5], 4, true],
      [[6], 5, true],
      [[7], 6, true],
    ],
  );
  assert.equal(r.promptTokens, 3);
  assert.equal(r.decodeTokens, 4);
  assert.ok(r.prefillTokensPerSecond > 0 && r.decodeTokensPerSecond > 0);
});

test('stops at a stop token (kept in the output) and at the model positions with a clear message', async () => {
  const model = new FakeLM(10, 64, countingLogits(10));
  const r = await generate(model, [3], { maxNewTokens: 20, stopTokenIds: [9, 6] });
  assert.deepEqual(r.tokens, [4, 5, 6]);
  assert.equal(r.stopReason, 'stop-token');
  assert.match(r.message, /stop token id 6/);

  const short = new FakeLM(10, 6, countingLogits(10));
  const s = await generate(short, [0, 1, 2], { maxNewTokens: 20 });
  assert.deepEqual(s.tokens, [3, 4, 5]);
  assert.equal(s.stopReason, 'max-positions');
  assert.match(s.message, /prompt \(3\) \+ output filled the model's 6 positions/);
  await assert.rejects(
    generate(short, [0, 1, 2, 3, 4, 5], {}),
    /prompt has 6 tokens but the model reads at most 6/,
  );
  await assert.rejects(generate(short, [], {}), /the prompt has no tokens/);
  await assert.rejects(generate(short, [1], { maxNewTokens: 0 }), /maxNewTokens must be an integer ≥ 1/);
});

test('streams each token and its text as it is produced; stop strings end generation', async () => {
  const model = new FakeLM(26, 64, countingLogits(26));
  const seen: string[] = [];
  const r = await generate(model, [0], {
    maxNewTokens: 20,
    tokenizer: letters,
    stopStrings: ['ef'],
    onToken: (id, i) => seen.push(`${i}:${id}`),
    onText: (t) => seen.push(t),
  });
  assert.equal(r.text, 'bcdef');
  assert.equal(r.stopReason, 'stop-string');
  assert.deepEqual(seen, ['0:1', 'b', '1:2', 'c', '2:3', 'd', '3:4', 'e', '4:5', 'f']);
  await assert.rejects(generate(model, [0], { stopStrings: ['x'] }), /stopStrings need a tokenizer/);
});

test('shouldStop interrupts between tokens', async () => {
  const model = new FakeLM(10, 64, countingLogits(10));
  let n = 0;
  const r = await generate(model, [0], { maxNewTokens: 50, shouldStop: () => ++n >= 3 });
  assert.deepEqual(r.tokens, [1, 2, 3]);
  assert.equal(r.stopReason, 'interrupted');
});

test('sampling is reproducible from the seed; top-k 1 and temperature 0 are greedy', async () => {
  const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i)); // spread-out distribution
  const model = new FakeLM(50, 256, constantLogits(logits));
  const run = (o: object) => generate(model, [1], { maxNewTokens: 40, ...o }).then((r) => r.tokens);
  const a = await run({ temperature: 1, seed: 11 });
  assert.deepEqual(a, await run({ temperature: 1, seed: 11 }));
  assert.notDeepEqual(a, await run({ temperature: 1, seed: 12 }));
  assert.ok(new Set(a).size > 5, 'sampling visits several tokens');
  const greedy = await run({});
  assert.deepEqual(new Set(greedy), new Set([33])); // argmax of sin(i), i < 50
  assert.deepEqual(await run({ topK: 1, seed: 5 }), greedy);
  assert.deepEqual(await run({ temperature: 0 }), greedy);
  const nucleus = await run({ topP: 0.2, seed: 2 });
  assert.ok(
    nucleus.every((t) => logits[t]! > 0.95),
    'top-p 0.2 keeps only the highest logits',
  );
});

test('samplingOf: fields given turn sampling on; bad values name the option', () => {
  assert.deepEqual(samplingOf({}), { doSample: false, temperature: 1, topK: 0, topP: 1 });
  assert.equal(samplingOf({ topP: 0.9 }).doSample, true);
  assert.equal(samplingOf({ temperature: 0.7, doSample: false }).doSample, false);
  assert.throws(() => samplingOf({ temperature: -1 }), /temperature must be > 0/);
  assert.throws(() => samplingOf({ topK: 1.5 }), /topK must be an integer ≥ 0/);
  assert.throws(() => samplingOf({ topP: 1.5 }), /topP must be in \(0, 1\]/);
});
