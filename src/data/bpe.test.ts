import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadTokenizer } from '../io/tokenizer.js';
import { byteToUnicode, countPieces, trainBpe } from './bpe.js';

const dir = mkdtempSync(join(tmpdir(), 'sparsekit-bpe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TEXT = [
  'the cat sat on the mat. the cat ate the rat.',
  'The theatre thereafter: 12 cats, 3 rats!',
  'naïve café — ünïcödé and emoji 🐈 too\nnew lines\ttabs',
];

test('bpe: bytes_to_unicode is a bijection onto printable characters, space ↦ Ġ', () => {
  const t = byteToUnicode();
  assert.equal(new Set(t).size, 256);
  assert.equal(t[0x20], 'Ġ');
  assert.equal(t[0x41], 'A');
  assert.equal(t[0x0a], 'Ċ');
});

test('bpe: pieces are split as GPT-2 does and counted', () => {
  const c = countPieces(["it's the cat's  cat"]);
  assert.equal(c.get('Ġcat'), 2);
  assert.equal(c.get("'s"), 2);
  assert.equal(c.get('it'), 1);
  assert.equal(c.get('Ġ'), 1, 'the first of two spaces stays alone');
});

test('bpe: learns the frequent merges first, exact vocab size, deterministic', () => {
  const a = trainBpe(TEXT, { vocabSize: 257 + 20, minFrequency: 2 });
  const b = trainBpe(TEXT, { vocabSize: 257 + 20, minFrequency: 2 });
  assert.deepEqual(a.merges, b.merges);
  assert.ok(a.vocab.size <= 277);
  // the first merge is the most frequent adjacent pair, counted here by brute force
  const pairs = new Map<string, number>();
  for (const [piece, n] of countPieces(TEXT)) {
    const ch = [...piece];
    for (let i = 0; i + 1 < ch.length; i++)
      pairs.set(`${ch[i]} ${ch[i + 1]}`, (pairs.get(`${ch[i]} ${ch[i + 1]}`) ?? 0) + n);
  }
  const best = Math.max(...pairs.values());
  const first = [...pairs]
    .filter(([, n]) => n === best)
    .map(([p]) => p)
    .sort((x, y) => (x.replace(' ', '') < y.replace(' ', '') ? -1 : 1))[0];
  assert.equal(a.merges[0]!.join(' '), first);
  assert.ok(a.vocab.has('Ġthe'), 'the most frequent word becomes one symbol');
  assert.equal(a.vocab.get('<|endoftext|>'), 0);
  assert.equal(a.vocab.get('!'), 1 + 0x21, 'the 256 byte symbols follow the special tokens in byte order');
  const all = trainBpe(TEXT, { vocabSize: 5000, minFrequency: 1 });
  assert.ok(all.vocab.size < 5000, 'stops when no pair is left');
});

test('bpe: the tokenizer.json loads in the tokenizers library and round-trips any text', () => {
  const trained = trainBpe(TEXT, { vocabSize: 300 });
  const file = join(dir, 'tokenizer.json');
  writeFileSync(file, JSON.stringify(trained.json));
  const tok = loadTokenizer(file);
  for (const text of [...TEXT, 'unseen words: zebra Ωmega 😀 \r\n  spaces', '']) {
    const ids = tok.encode(text, { addSpecialTokens: false });
    assert.equal(tok.decode(ids), text);
  }
  const the = tok.encode(' the', { addSpecialTokens: false });
  assert.deepEqual(the, [trained.vocab.get('Ġthe')], "' the' encodes to the learned symbol");
  assert.deepEqual(tok.encode('<|endoftext|>', { addSpecialTokens: false }), [0]);
});

test('bpe: bad options name the option and the bound', () => {
  assert.throws(() => trainBpe(TEXT, { vocabSize: 100 }), /vocabSize must be an integer ≥ 257/);
  assert.throws(
    () => trainBpe(TEXT, { vocabSize: 300, minFrequency: 0 }),
    /minFrequency must be an integer ≥ 1/,
  );
  assert.throws(() => trainBpe(TEXT, { vocabSize: 300, specialTokens: ['<a>', '<a>'] }), /duplicates/);
});
