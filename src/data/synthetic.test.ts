import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyTask, IGNORE, mqar, passkeyPrompt } from './synthetic.js';

test('mqar: every scored position is a key asked again, labelled with the value that followed it', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const V = 512;
    const n = 8;
    const { inputs, labels } = mqar({ vocabSize: V, seqLen: 128, numKvPairs: n, seed });
    assert.equal(inputs.length, 128);
    const pairValue = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const k = inputs[2 * i]!;
      const v = inputs[2 * i + 1]!;
      assert.ok(k >= 1 && k < V / 2, `key ${k} in [1, V/2)`);
      assert.ok(v >= V / 2 && v < V, `value ${v} in [V/2, V)`);
      pairValue.set(k, v);
    }
    assert.equal(pairValue.size, n, 'keys are distinct');
    const scored = [...labels.keys()].filter((t) => labels[t] !== IGNORE);
    assert.equal(scored.length, n, 'each key is queried once');
    for (const t of scored) {
      assert.ok(t >= 2 * n && (t - 2 * n) % 2 === 0, 'queries sit at even offsets after the pairs');
      assert.equal(labels[t], pairValue.get(inputs[t]!));
    }
  }
  assert.deepEqual(
    mqar({ vocabSize: 100, seqLen: 64, seed: 3 }),
    mqar({ vocabSize: 100, seqLen: 64, seed: 3 }),
  );
});

test('mqar: a small power-law exponent puts most queries close to the pairs', () => {
  let near = 0;
  let far = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const { labels } = mqar({ vocabSize: 1024, seqLen: 512, numKvPairs: 4, seed, powerA: 0.01 });
    for (let t = 8; t < 512; t++) if (labels[t] !== IGNORE) t < 8 + 100 ? near++ : far++;
  }
  assert.ok(near > 2 * far, `near ${near} vs far ${far}`);
});

test('mqar: random non-queries fill the zeros; without them the gaps stay 0', () => {
  const plain = mqar({ vocabSize: 200, seqLen: 64, numKvPairs: 4, seed: 9, randomNonQueries: false });
  assert.ok(plain.inputs.slice(8).filter((x) => x === 0).length >= 64 - 8 - 4);
  const noisy = mqar({ vocabSize: 200, seqLen: 64, numKvPairs: 4, seed: 9 });
  assert.ok(noisy.inputs.filter((x) => x === 0).length < 5);
});

test('mqar and copy: impossible sizes are errors naming the option', () => {
  assert.throws(() => mqar({ vocabSize: 64, seqLen: 64, seed: 1 }), /vocabSize must be an integer > seqLen/);
  assert.throws(() => mqar({ vocabSize: 512, seqLen: 63, seed: 1 }), /seqLen must be an even integer/);
  assert.throws(() => mqar({ vocabSize: 512, seqLen: 32, numKvPairs: 9, seed: 1 }), /need seqLen ≥ 36/);
  assert.throws(() => copyTask({ vocabSize: 2, length: 4, seed: 1 }), /vocabSize must be an integer ≥ 3/);
});

test('copy: the second half repeats the first and only it is scored', () => {
  const { inputs, labels } = copyTask({ vocabSize: 50, length: 6, seed: 2 });
  assert.equal(inputs.length, 12);
  assert.equal(inputs[6], 1);
  for (let i = 0; i < 6; i++) {
    assert.equal(labels[i], IGNORE);
    assert.equal(labels[6 + i], inputs[i]);
  }
  for (let i = 0; i < 5; i++) assert.equal(inputs[7 + i], inputs[i]);
});

test('passkey: the key is in the prompt at the requested depth and is the answer', () => {
  const start = passkeyPrompt({ fillerRepeats: 10, depth: 0, seed: 1 });
  const end = passkeyPrompt({ fillerRepeats: 10, depth: 1, seed: 1 });
  assert.match(start.answer, /^[1-9]\d{4}$/);
  assert.ok(start.prompt.includes(`The pass key is ${start.answer}. Remember it.`));
  assert.ok(start.prompt.endsWith('What is the pass key? The pass key is'));
  assert.ok(start.prompt.indexOf(start.answer) < end.prompt.indexOf(end.answer));
  assert.equal(start.prompt.split('The grass is green.').length - 1, 10);
  assert.throws(() => passkeyPrompt({ fillerRepeats: 3, depth: 2, seed: 1 }), /depth must be in \[0, 1\]/);
});
