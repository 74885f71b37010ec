import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { IoError } from '../io/errors.js';
import { DEBIAN_FASHION_MNIST_DIR, imageBatch, loadFashionMnist } from './fashion-mnist.js';
import { encodeIdx, parseIdx } from './idx.js';

const dir = mkdtempSync(join(tmpdir(), 'sparsekit-fmnist-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A folder with a tiny Fashion-MNIST-shaped split: n images of 2×3 pixels (pixel = image index · 10 + p). */
function writeSplit(folder: string, prefix: string, n: number, gz: boolean, labels?: number[]): void {
  const px = new Uint8Array(n * 6).map((_, i) => Math.floor(i / 6) * 10 + (i % 6));
  const lab = Uint8Array.from(labels ?? Array.from({ length: n }, (_, i) => i % 10));
  const put = (name: string, bytes: Uint8Array) =>
    writeFileSync(join(folder, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  put(`${prefix}-images-idx3-ubyte`, encodeIdx([n, 2, 3], px));
  put(`${prefix}-labels-idx1-ubyte`, encodeIdx([lab.length], lab));
}

test('fashion-mnist: reads gzipped and plain IDX splits, images and labels aligned', () => {
  writeSplit(dir, 'train', 12, true);
  writeSplit(dir, 't10k', 4, false);
  const train = loadFashionMnist('train', dir);
  assert.equal(train.count, 12);
  assert.deepEqual([train.rows, train.cols], [2, 3]);
  assert.equal(train.labels[11], 1);
  assert.equal(train.classes[9], 'Ankle boot');
  const test4 = loadFashionMnist('test', dir);
  assert.equal(test4.count, 4);
  const batch = imageBatch(test4, 1, 3);
  assert.deepEqual(batch.shape, [2, 6]);
  assert.equal(batch.data[0], Math.fround(10 / 255));
  assert.equal(batch.data[11], Math.fround(25 / 255));
  assert.throws(() => imageBatch(test4, 3, 5), /0 ≤ start ≤ end ≤ 4/);
});

test('fashion-mnist: malformed or missing files are errors naming the file and the fix', () => {
  const bad = mkdtempSync(join(dir, 'bad-'));
  assert.throws(() => loadFashionMnist('train', bad), /apt-get install dataset-fashion-mnist/);
  writeSplit(bad, 'train', 5, false, [0, 1, 2, 3]);
  assert.throws(() => loadFashionMnist('train', bad), /has 4 labels but .* has 5 images/);
  writeSplit(bad, 'train', 3, false, [0, 1, 10]);
  assert.throws(() => loadFashionMnist('train', bad), /label 2 is 10, outside the 10 classes/);
  writeFileSync(
    join(bad, 'train-images-idx3-ubyte'),
    encodeIdx([3, 2, 3], new Uint8Array(18)).subarray(0, 20),
  );
  assert.throws(() => loadFashionMnist('train', bad), IoError);
  assert.throws(
    () => loadFashionMnist('train', bad),
    /is truncated: shape \[3, 2, 3\] needs 18 data bytes, the file has 4/,
  );
  writeFileSync(join(bad, 'train-images-idx3-ubyte.gz'), Uint8Array.from([0x1f, 0x8b, 1, 2, 3]));
  rmSync(join(bad, 'train-images-idx3-ubyte'));
  assert.throws(() => loadFashionMnist('train', bad), /damaged gzip file/);
});

test('idx: header fields are checked', () => {
  assert.throws(() => parseIdx(Uint8Array.from([1, 0, 8, 1]), 'x'), /not an IDX file/);
  assert.throws(
    () => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), 'x'),
    /holds f32 elements/,
  );
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 2, 0, 0, 0]), 'x'), /truncated inside its header/);
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 1, 7, 7]), 'x'), /trailing bytes/);
  assert.deepEqual(parseIdx(encodeIdx([2], Uint8Array.from([4, 5])), 'x').data, Uint8Array.from([4, 5]));
});

test('fashion-mnist: the real Debian dataset, when installed, has 60000 + 10000 28×28 images', {
  skip: !existsSync(DEBIAN_FASHION_MNIST_DIR),
}, () => {
  const testSet = loadFashionMnist('test', DEBIAN_FASHION_MNIST_DIR);
  assert.equal(testSet.count, 10_000);
  assert.deepEqual([testSet.rows, testSet.cols], [28, 28]);
  const perClass = new Array(10).fill(0);
  for (const l of testSet.labels) perClass[l]++;
  assert.deepEqual(perClass, new Array(10).fill(1000), 'the test set has 1000 images per class');
});
