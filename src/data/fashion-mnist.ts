/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70,000 28×28 greyscale images of clothing in 10 classes,
 * 60,000 for training and 10,000 for testing, read from the IDX files of Debian's `dataset-fashion-mnist`
 * package (/usr/share/datasets/fashion-mnist, gzipped) or any folder holding the same four files.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IoError } from '../io/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { readIdx } from './idx.js';

/** Class names in label order (from the dataset's README). */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** Where Debian's `dataset-fashion-mnist` puts the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** A labelled image set: `images` is count × rows × cols bytes (0 = background), row-major. */
export interface ImageSet {
  readonly split: 'train' | 'test';
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly classes: readonly string[];
}

/** The folder to read: `SPARSEKIT_FASHION_MNIST` if set, else Debian's. */
export function fashionMnistDir(): string {
  return process.env.SPARSEKIT_FASHION_MNIST || DEBIAN_FASHION_MNIST_DIR;
}

const PREFIX = { train: 'train', test: 't10k' } as const;

function findFile(dir: string, base: string): string {
  for (const name of [base, `${base}.gz`]) if (existsSync(join(dir, name))) return join(dir, name);
  throw new IoError(
    join(dir, base),
    `is missing (nor ${base}.gz). Install Debian's package (apt-get install dataset-fashion-mnist), ` +
      'or set SPARSEKIT_FASHION_MNIST to a folder with the four Fashion-MNIST IDX files',
  );
}

/**
 * Load one split. Checks that images are [n, rows, cols], labels are [n] with the same n, and every label
 * is a class index; errors name the file and the fix.
 * @example const train = loadFashionMnist('train'); train.count // 60000
 */
export function loadFashionMnist(split: 'train' | 'test', dir = fashionMnistDir()): ImageSet {
  if (split !== 'train' && split !== 'test') {
    throw new RangeError(`loadFashionMnist: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  }
  const imagesFile = findFile(dir, `${PREFIX[split]}-images-idx3-ubyte`);
  const labelsFile = findFile(dir, `${PREFIX[split]}-labels-idx1-ubyte`);
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.shape.length !== 3) {
    throw new IoError(
      imagesFile,
      `must hold [count, rows, cols] images, has shape [${images.shape.join(', ')}]`,
    );
  }
  if (labels.shape.length !== 1) {
    throw new IoError(labelsFile, `must hold [count] labels, has shape [${labels.shape.join(', ')}]`);
  }
  const [count, rows, cols] = images.shape as [number, number, number];
  if (labels.shape[0] !== count) {
    throw new IoError(labelsFile, `has ${labels.shape[0]} labels but ${imagesFile} has ${count} images`);
  }
  const classes = FASHION_MNIST_CLASSES.length;
  const bad = labels.data.findIndex((l) => l >= classes);
  if (bad >= 0) {
    throw new IoError(
      labelsFile,
      `label ${bad} is ${labels.data[bad]}, outside the ${classes} classes 0…${classes - 1}`,
    );
  }
  return {
    split,
    count,
    rows,
    cols,
    images: images.data,
    labels: labels.data,
    classes: FASHION_MNIST_CLASSES,
  };
}

/** Images [start, end) as a Tensor [n, rows·cols] of pixel / 255 in [0, 1]. */
export function imageBatch(set: ImageSet, start: number, end: number): Tensor {
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= set.count)) {
    throw new RangeError(`imageBatch: need 0 ≤ start ≤ end ≤ ${set.count}, got [${start}, ${end})`);
  }
  const px = set.rows * set.cols;
  const out = new Float32Array((end - start) * px);
  const src = set.images.subarray(start * px, end * px);
  for (let i = 0; i < out.length; i++) out[i] = src[i]! / 255;
  return new Tensor(out, [end - start, px]);
}
