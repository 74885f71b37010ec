import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constantLogits, FakeLM } from '../generate/testing.js';
import { Tensor } from '../tensor/tensor.js';
import { perplexity, rowNll, slidingWindows } from './perplexity.js';

const close = (a: number, b: number, tol = 1e-6) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('uniform logits give perplexity = vocabulary size, whatever the window', async () => {
  const model = new FakeLM(7, 16, constantLogits(new Float32Array(7)));
  const ids = Array.from({ length: 40 }, (_, i) => (i * 3) % 7);
  for (const [ctx, stride] of [
    [16, 16],
    [16, 5],
    [4, 1],
  ] as const) {
    const r = await perplexity(model, ids, { ctx, stride });
    close(r.ppl, 7, 1e-6);
    close(r.nllSum, r.tokens * Math.log(7), 1e-6);
    assert.equal(r.complete, true);
  }
});

/**
 * A model that knows the text is all 0s, more surely the more context its window gives it: after a prefix
 * of length L its logits are [L, 0, 0, …], so −ln p(0) = ln(1 + (V − 1)·e^(−L)) =: f(L).
 */
function contextModel(V: number, maxPositions: number) {
  return new FakeLM(V, maxPositions, (prefix) => {
    const row = new Float32Array(V);
    row[0] = prefix.length;
    return row;
  });
}
const f = (V: number, L: number) => Math.log(1 + (V - 1) * Math.exp(-L));

test('strided windows by hand: stride = ctx scores disjoint chunks, stride < ctx keeps context', async () => {
  const V = 5;
  const model = contextModel(V, 8);
  const ids = new Array(10).fill(0);
  // ctx 4, stride 4: windows [0,4) [4,8) [8,10); each window's first token is unscored.
  const disjoint = await perplexity(model, ids, { ctx: 4, stride: 4 });
  const nllDisjoint = 2 * (f(V, 1) + f(V, 2) + f(V, 3)) + f(V, 1);
  assert.equal(disjoint.tokens, 7);
  assert.equal(disjoint.windows, 3);
  close(disjoint.nllSum, nllDisjoint);
  close(disjoint.ppl, Math.exp(nllDisjoint / 7));
  // ctx 4, stride 2: windows [0,4) [2,6) [4,8) [6,10); later windows score their last 2 tokens with 2 and 3
  // tokens of context.
  const strided = await perplexity(model, ids, { ctx: 4, stride: 2 });
  const nllStrided = f(V, 1) + f(V, 2) + f(V, 3) + 3 * (f(V, 2) + f(V, 3));
  assert.equal(strided.tokens, 9);
  assert.equal(strided.windows, 4);
  close(strided.nllSum, nllStrided);
  assert.ok(strided.ppl < disjoint.ppl, 'more context, lower perplexity');
  // Chunking the scored positions through the KV cache changes nothing.
  const chunked = await perplexity(model, ids, { ctx: 4, stride: 2, chunk: 1 });
  close(chunked.nllSum, nllStrided);
});

test('windows follow the guide loop: begin every stride until a window reaches the end', () => {
  assert.deepEqual(slidingWindows(10, 4, 2), [
    { begin: 0, end: 4, scoreFrom: 1 },
    { begin: 2, end: 6, scoreFrom: 4 },
    { begin: 4, end: 8, scoreFrom: 6 },
    { begin: 6, end: 10, scoreFrom: 8 },
  ]);
  assert.deepEqual(slidingWindows(3, 8, 8), [{ begin: 0, end: 3, scoreFrom: 1 }]);
});

test('progress reaches the total; shouldStop returns a partial result', async () => {
  const model = contextModel(5, 8);
  const ids = new Array(30).fill(0);
  const seen: number[] = [];
  const full = await perplexity(model, ids, {
    ctx: 8,
    stride: 4,
    chunk: 2,
    onProgress: (p) => seen.push(p.scored),
  });
  assert.equal(seen.at(-1), 29);
  assert.ok(seen.every((v, i) => i === 0 || v > seen[i - 1]!));
  let polls = 0;
  const part = await perplexity(model, ids, { ctx: 8, stride: 4, chunk: 2, shouldStop: () => ++polls > 3 });
  assert.equal(part.complete, false);
  assert.equal(part.tokens, 6);
  assert.ok(part.tokens < full.tokens && Number.isFinite(part.ppl));
});

test('bad options name the option and its range', async () => {
  const model = contextModel(5, 8);
  await assert.rejects(perplexity(model, [0]), /the text has 1 token\(s\); it needs at least 2/);
  await assert.rejects(perplexity(model, [0, 0, 0], { ctx: 9 }), /ctx must be an integer in \[2, 8\]/);
  await assert.rejects(
    perplexity(model, [0, 0, 0], { ctx: 4, stride: 5 }),
    /stride must be an integer in \[1, ctx = 4\]/,
  );
  await assert.rejects(
    perplexity(model, [0, 7, 0], { ctx: 4 }),
    /token 1 is id 7, outside the vocabulary \[0, 5\)/,
  );
});

test('row nll matches an f64 log-sum-exp, also for a target far below the favourite', () => {
  const V = 1000;
  const x = new Float32Array(2 * V);
  for (let i = 0; i < V; i++) x[i] = Math.sin(i) * 3;
  x[V] = 40; // row 1: one favourite, the target 250 nats below it
  x[V + 7] = -210;
  const nll = rowNll(new Tensor(x, [2, V]), [5, 7]);
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(x[i]! - 3);
  close(nll[0]!, 3 + Math.log(z) - x[5]!);
  close(nll[1]!, 40 + Math.log(1 + (V - 2) * Math.exp(-40) + Math.exp(-250)) + 210);
});
