import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rng } from '../tensor/random.js';
import {
  applyTemperature,
  argmax,
  chooseToken,
  sampleIndex,
  softmaxRow,
  topKFilter,
  topPFilter,
} from './warpers.js';

const kept = (x: Float32Array) => [...x.keys()].filter((i) => x[i] !== -Infinity);
const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

test('temperature divides the logits; argmax takes the first of equal maxima', () => {
  assert.deepEqual([...applyTemperature(Float32Array.from([1, -2, 4]), 2)], [0.5, -1, 2]);
  assert.throws(() => applyTemperature(new Float32Array(2), 0), /temperature must be a finite number > 0/);
  assert.equal(argmax([1, 3, 3, 2]), 1);
});

test('top-k keeps the k largest logits and every logit tied with the k-th', () => {
  const x = Float32Array.from([0.1, 5, -3, 2, 2, 7]);
  assert.deepEqual(kept(topKFilter(x, 2)), [1, 5]);
  assert.deepEqual(kept(topKFilter(x, 3)), [1, 3, 4, 5]); // 2 and 2 tie for third place: both stay
  assert.deepEqual(kept(topKFilter(x, 100)), [0, 1, 2, 3, 4, 5]);
  const already = Float32Array.from([-Infinity, 1, 3, -Infinity]);
  assert.deepEqual(kept(topKFilter(already, 1)), [2]);
});

test('top-p keeps the smallest set of most likely tokens whose probability reaches p', () => {
  const x = logitsOf([0.05, 0.5, 0.15, 0.3]);
  assert.deepEqual(kept(topPFilter(x, 0.75)), [1, 3]); // 0.5 + 0.3 ≥ 0.75
  assert.deepEqual(kept(topPFilter(x, 0.5)), [1]); // 0.5 alone reaches 0.5
  assert.deepEqual(kept(topPFilter(x, 0.9)), [1, 2, 3]);
  assert.deepEqual(kept(topPFilter(x, 1e-9)), [1]); // always at least one token
  assert.deepEqual(kept(topPFilter(x, 1)), [0, 1, 2, 3]);
  assert.throws(() => topPFilter(x, 0), /p must be in \(0, 1\]/);
});

test('warpers run in transformers order: top-p sees the distribution renormalised after top-k', () => {
  // probs 0.4, 0.3, 0.2, 0.1. top-k 2 leaves 0.4/0.7 and 0.3/0.7 = 0.571, 0.429; top-p 0.5 then keeps one.
  const x = logitsOf([0.4, 0.3, 0.2, 0.1]);
  const s = { doSample: true, temperature: 1, topK: 2, topP: 0.5 };
  const next = rng(3);
  for (let i = 0; i < 50; i++) assert.equal(chooseToken(x, s, next), 0);
  // Without top-k, top-p 0.5 keeps 0.4 + 0.3: both tokens appear.
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(chooseToken(x, { ...s, topK: 0 }, next));
  assert.deepEqual([...seen].sort(), [0, 1]);
});

test('sampling draws tokens with their probabilities, reproducibly from a seed', () => {
  const probs = [0.1, 0.6, 0.3];
  const draw = (seed: number) => {
    const next = rng(seed);
    const s = { doSample: true, temperature: 1, topK: 0, topP: 1 };
    return Array.from({ length: 4000 }, () => chooseToken(logitsOf(probs), s, next));
  };
  const a = draw(7);
  assert.deepEqual(a, draw(7));
  assert.notDeepEqual(a, draw(8));
  for (let t = 0; t < 3; t++) {
    const freq = a.filter((v) => v === t).length / a.length;
    assert.ok(Math.abs(freq - probs[t]!) < 0.03, `token ${t}: frequency ${freq}, probability ${probs[t]}`);
  }
  // Temperature → 0 concentrates on the argmax; a high temperature flattens.
  const cold = softmaxRow(applyTemperature(logitsOf(probs), 0.1));
  const hot = softmaxRow(applyTemperature(logitsOf(probs), 10));
  assert.ok(cold[1]! > 0.99 && hot[1]! < 0.4);
});

test('sampleIndex never picks a zero-probability token and rejects an all-zero row', () => {
  const p = Float64Array.from([0, 0.5, 0, 0.5, 0]);
  for (const u of [0, 0.25, 0.5, 0.75, 0.9999999]) assert.ok([1, 3].includes(sampleIndex(p, u)));
  assert.throws(() => sampleIndex(new Float64Array(3), 0.5), /every token has probability 0/);
});
