import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brownPlainText, brownSamples, brownSplit, brownText } from './brown.js';

test('tagged tokens become plain running text (tags dropped, quotes and punctuation attached)', () => {
  const tagged =
    "\n\n\t``/`` Only/rb a/at relative/jj handful/nn ''/'' ,/, the/at jury/nn-tl said/vbd ./.\n\n" +
    '\t(/( Psalm/nn-tl 27/cd-tl :/:-tl 1/cd-tl )/) 1/2/cd inch/nn ;/. did/dod not/* stop/vb --/-- ever/rb ?/.\n';
  assert.equal(
    brownPlainText(tagged),
    '"Only a relative handful", the jury said. (Psalm 27: 1) 1/2 inch; did not stop -- ever?',
  );
});

test('the corpus has 500 samples in 15 genres; test and validation are every 10th sample, disjoint from train', () => {
  const all = brownSamples();
  assert.equal(all.length, 500);
  assert.equal(new Set(all.map((s) => s.genre)).size, 15);
  const train = brownSplit('train').map((s) => s.id);
  const held = brownSplit('test').map((s) => s.id);
  const val = brownSplit('validation').map((s) => s.id);
  assert.equal(held.length, 50);
  assert.equal(val.length, 50);
  assert.equal(train.length, 400);
  assert.deepEqual(held.slice(0, 2), ['ca10', 'ca20'], 'test is unchanged: every 10th sample');
  assert.deepEqual(val.slice(0, 2), ['ca05', 'ca15'], 'validation: every 10th offset by 5');
  assert.deepEqual(
    [...train, ...val, ...held].sort(),
    all.map((s) => s.id),
    'the three splits partition the corpus',
  );
  for (const split of ['test', 'validation'] as const) {
    assert.ok(
      new Set(brownSplit(split).map((s) => s.genre)).size >= 14,
      `the ${split} slice spans the genres`,
    );
  }
  assert.throws(() => brownSplit('dev' as never), /split must be one of train, validation, test, all/);
});

test('the test split as text: starts with sample ca10, samples separated by a blank line', () => {
  const text = brownText('test');
  assert.ok(text.startsWith('Vincent G. Ierulli has been appointed temporary assistant district attorney,'));
  assert.equal(text.split('\n\n').length, 50);
  assert.ok(!/\/[a-z]/.test(text.slice(0, 5000)), 'no word/tag left');
  assert.ok(text.length > 500_000 && text.length < 700_000, `${text.length} characters`);
});
