import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadText, parseTextSource, readTextFile } from './text.js';

const dir = mkdtempSync(join(tmpdir(), 'sparsekit-text-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a UTF-8 file reads as text (byte-order mark dropped)', () => {
  const p = join(dir, 'ok.txt');
  writeFileSync(p, '\uFEFFnaïve café — ok\n');
  assert.equal(readTextFile(p), 'naïve café — ok\n');
  assert.deepEqual(loadText(p), { text: 'naïve café — ok\n', name: p });
});

test('missing, folder, binary, non-UTF-8 and empty files are errors naming the path and the fix', () => {
  const bin = join(dir, 'model.bin');
  writeFileSync(bin, Buffer.from([1, 2, 0, 3]));
  const latin1 = join(dir, 'latin1.txt');
  writeFileSync(latin1, Buffer.from([0x63, 0x61, 0x66, 0xe9])); // "café" in Latin-1
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '  \n');
  mkdirSync(join(dir, 'sub'));
  for (const [path, message] of [
    [join(dir, 'nope.txt'), /nope\.txt does not exist; give the path of a UTF-8 text file/],
    [join(dir, 'sub'), /sub is a folder/],
    [bin, /model\.bin is not a text file \(byte 2 is NUL\)/],
    [latin1, /latin1\.txt is not valid UTF-8; convert it first/],
    [empty, /empty\.txt is empty/],
  ] as const)
    assert.throws(() => readTextFile(path), message);
});

test('data specs: brown means the held-out test split; other names are files', () => {
  assert.deepEqual(parseTextSource('brown'), { kind: 'brown', split: 'test' });
  assert.deepEqual(parseTextSource('brown:train'), { kind: 'brown', split: 'train' });
  assert.deepEqual(parseTextSource('brown:validation'), { kind: 'brown', split: 'validation' });
  assert.deepEqual(parseTextSource('brown.txt'), { kind: 'file', path: 'brown.txt' });
  assert.throws(
    () => parseTextSource('brown:dev'),
    /names no Brown split; use brown, brown:train, brown:validation, brown:test, brown:all/,
  );
  assert.equal(loadText('brown').name, 'Brown corpus, test split');
});
