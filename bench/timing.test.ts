import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Interrupted, median, sampleCount, timeCold } from './timing.js';

test('median of odd and even lists', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), /empty/);
});

test('sample count: at least reps, more for cheap calls, at most 3 rounds of copies', () => {
  const plan = { copies: 4, reps: 5, budgetSeconds: 0.5 };
  assert.equal(sampleCount(plan, 200), 5); // expensive: just reps
  assert.equal(sampleCount(plan, 0.01), 12); // cheap: 3 rounds of 4 copies
  assert.equal(sampleCount({ ...plan, copies: 2 }, 0.01), 6);
});

test('timeCold warms every copy once, then cycles through the copies', async () => {
  const calls: number[] = [];
  const s = await timeCold(
    (c) => calls.push(c),
    { copies: 3, reps: 5, budgetSeconds: 1 },
    () => false,
  );
  assert.deepEqual(calls.slice(0, 3), [0, 1, 2], 'warm-up visits each copy');
  assert.deepEqual(calls.slice(3), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
  assert.equal(s.ms.length, 9);
  assert.equal(s.first, 1, 'the first warm-up result is returned for checking');
});

test('timeCold awaits async calls and stops with Interrupted when asked', async () => {
  let n = 0;
  await timeCold(
    async () => n++,
    { copies: 2, reps: 2, budgetSeconds: 0 },
    () => false,
  );
  assert.equal(n, 4);
  let stop = false;
  await assert.rejects(
    timeCold(
      () => {
        stop = true;
      },
      { copies: 2, reps: 5, budgetSeconds: 0 },
      () => stop,
    ),
    Interrupted,
  );
});
