import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { resolveModelDir } from '../cli/common.js';
import { FASHION_MNIST_CLASSES, type ImageSet } from '../data/fashion-mnist.js';
import { encodeIdx } from '../data/idx.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { rng } from '../tensor/random.js';
import { buildVision, evaluateVision, type VisionHyper } from './fmnist.js';
import { BuildError } from './recipe.js';
import { isVisionFolder, loadVisionModel, visionPredict } from './vision.js';
import { listZoo, zooChecksums } from './zoo.js';

const tmp = mkdtempSync(join(tmpdir(), 'sparsekit-zoo-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** n 8×8 images: class c lights the 2×2 patch at cell c of a 4×4 grid (plus seeded noise). */
function images(n: number, seed: number, split: 'train' | 'test'): ImageSet {
  const img = new Uint8Array(n * 64);
  const labels = new Uint8Array(n);
  const rand = rng(seed);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    labels[i] = c;
    for (let p = 0; p < 64; p++) img[i * 64 + p] = Math.floor(rand() * 60);
    const [gy, gx] = [Math.floor(c / 4) * 2, (c % 4) * 2];
    for (const [dy, dx] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ] as const)
      img[i * 64 + (gy + dy) * 8 + gx + dx] = 255;
  }
  return { split, count: n, rows: 8, cols: 8, images: img, labels, classes: FASHION_MNIST_CLASSES };
}
const data = { train: images(240, 1, 'train'), test: images(100, 2, 'test') };

const IMAGE = { image_size: [8, 8], num_channels: 1, num_labels: 10, pixel_mean: 0.3, pixel_std: 0.4 };
const MLP: VisionHyper = {
  config: { model_type: 'sparsekit_mlp', ...IMAGE, hidden_sizes: [16, 16], dropout: 0.1 },
  seed: 3,
  batchSize: 20,
  epochs: 6,
  validation: 40,
  lr: 1e-2,
  minLr: 1e-4,
  warmupSteps: 5,
  weightDecay: 0.01,
  betas: [0.9, 0.999],
  clipNorm: 5,
  evalEvery: 20,
  checkpointEvery: 7,
  dtype: 'F16',
};
const quiet = { threads: 1, progress: 'none' as const, log: () => {} };

test('zoo build (MLP): an HF-style folder with config, f16 weights, TRAINING.md; SHA256SUMS; it learns', async () => {
  const root = join(tmp, 'a');
  mkdirSync(root);
  const res = await buildVision('tiny-mlp', 'a test model', MLP, { root, ...quiet }, data);
  assert.ok(res.complete);
  const dir = join(root, 'tiny-mlp');
  assert.ok(isVisionFolder(dir));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.model_type, 'sparsekit_mlp');
  assert.deepEqual(config.hidden_sizes, [16, 16]);
  assert.equal(config.id2label['9'], 'Ankle boot');
  const st = SafetensorsFile.open(join(dir, 'model.safetensors'));
  assert.deepEqual(st.names().sort(), [
    'layers.0.bias',
    'layers.0.weight',
    'layers.1.bias',
    'layers.1.weight',
    'layers.2.bias',
    'layers.2.weight',
  ]);
  assert.equal(st.info('layers.0.weight').dtype, 'F16');
  assert.deepEqual(st.info('layers.0.weight').shape, [16, 64]);
  st.close();
  assert.ok(res.metrics.testAccuracy! > 0.8, `test accuracy ${res.metrics.testAccuracy}`);
  const md = readFileSync(join(dir, 'TRAINING.md'), 'utf8');
  assert.match(md, /## Hyperparameters[\s\S]*\| batchSize \| `20` \|/);
  assert.match(md, /\| step \| samples seen \| train loss \| valLoss \| valAcc \|\n\|---/);
  assert.match(md, /\| 60 \| 1200 \| /, 'the last curve row is the last step');
  // the folder loads back and scores what the build reported
  const loaded = loadVisionModel(dir);
  assert.equal(evaluateVision(loaded, data.test).accuracy, res.metrics.testAccuracy);
  // SHA256SUMS lists every file of the model with its hash
  const sums = readFileSync(join(root, 'SHA256SUMS'), 'utf8');
  assert.equal(sums, zooChecksums(root));
  const line = sums.split('\n').find((l) => l.endsWith('  tiny-mlp/model.safetensors'))!;
  const hex = createHash('sha256')
    .update(readFileSync(join(dir, 'model.safetensors')))
    .digest('hex');
  assert.equal(line.slice(0, 64), hex);
  assert.deepEqual(
    listZoo(root).map((z) => [z.name, z.record?.steps]),
    [['tiny-mlp', 60]],
  );
});

test('zoo build: Ctrl-C saves a checkpoint; --resume finishes with the same weights as an uninterrupted build', async () => {
  const whole = join(tmp, 'whole');
  const cut = join(tmp, 'cut');
  mkdirSync(whole);
  mkdirSync(cut);
  const hyper = { ...MLP, epochs: 2 };
  await buildVision('m', 'x', hyper, { root: whole, ...quiet }, data);
  let sent = false;
  const first = await buildVision(
    'm',
    'x',
    hyper,
    {
      root: cut,
      threads: 1,
      progress: 'lines',
      log: (l) => {
        if (!sent && l.startsWith('step ')) {
          sent = true;
          process.emit('SIGINT'); // as a Ctrl-C: stop after this step and save
        }
      },
    },
    data,
  );
  assert.equal(first.complete, false);
  assert.ok(!existsSync(join(cut, 'm')), 'no model folder from an interrupted build');
  assert.ok(existsSync(join(cut, '.work', 'm', 'checkpoint.safetensors')));
  await assert.rejects(
    buildVision('m', 'x', hyper, { root: cut, ...quiet }, data),
    (e: Error) => e instanceof BuildError && /pass --resume to continue it or --fresh/.test(e.message),
  );
  await assert.rejects(
    buildVision('m', 'x', { ...hyper, lr: 0.5 }, { root: cut, resume: true, ...quiet }, data),
    /other hyperparameters/,
  );
  const second = await buildVision('m', 'x', hyper, { root: cut, resume: true, ...quiet }, data);
  assert.ok(second.complete);
  assert.deepEqual(
    readFileSync(join(cut, 'm', 'model.safetensors')),
    readFileSync(join(whole, 'm', 'model.safetensors')),
  );
});

test('zoo build (CNN): conv → relu → pool twice, then linear; saved, reloaded, same predictions', async () => {
  const root = join(tmp, 'c');
  mkdirSync(root);
  const hyper: VisionHyper = {
    ...MLP,
    config: { model_type: 'sparsekit_cnn', ...IMAGE, conv_channels: [4, 6], kernel_size: 3, dropout: 0.1 },
    epochs: 8,
    dtype: 'BF16',
  };
  const res = await buildVision('tiny-cnn', 'a test model', hyper, { root, ...quiet }, data);
  const dir = join(root, 'tiny-cnn');
  const st = SafetensorsFile.open(join(dir, 'model.safetensors'));
  assert.deepEqual(st.info('convs.1.weight').shape, [6, 4, 3, 3]);
  assert.deepEqual(st.info('classifier.weight').shape, [10, 6 * 2 * 2]);
  assert.equal(st.info('classifier.weight').dtype, 'BF16');
  st.close();
  const model = loadVisionModel(dir);
  const x = new Float32Array(data.test.images.length).map((_, i) => data.test.images[i]! / 255);
  const { Tensor } = await import('../tensor/tensor.js');
  const pred = visionPredict(model, new Tensor(x, [100, 64]));
  const acc = pred.reduce((s, p, i) => s + (p === data.test.labels[i] ? 1 : 0), 0) / 100;
  assert.equal(acc, res.metrics.testAccuracy);
  assert.ok(acc > 0.5, `CNN test accuracy ${acc}`);
});

test('a zoo name resolves to its folder wherever a model dir is taken; paths and unknown names stay as given', () => {
  const root = join(tmp, 'a');
  const was = process.env.SPARSEKIT_ZOO;
  process.env.SPARSEKIT_ZOO = root;
  try {
    assert.equal(resolveModelDir('tiny-mlp'), join(root, 'tiny-mlp'));
    assert.equal(resolveModelDir('./tiny-mlp'), './tiny-mlp');
    assert.equal(resolveModelDir('no-such-model'), 'no-such-model');
  } finally {
    if (was === undefined) delete process.env.SPARSEKIT_ZOO;
    else process.env.SPARSEKIT_ZOO = was;
  }
});

test('sparsekit eval acc <zoo name> scores the Fashion-MNIST test images; zoo list shows the build; a language-model command refuses a classifier', () => {
  const fm = join(tmp, 'fm');
  mkdirSync(fm);
  const put = (name: string, bytes: Uint8Array) => writeFileSync(join(fm, `${name}.gz`), gzipSync(bytes));
  for (const [prefix, set] of [
    ['train', data.train],
    ['t10k', data.test],
  ] as const) {
    put(`${prefix}-images-idx3-ubyte`, encodeIdx([set.count, 8, 8], set.images));
    put(`${prefix}-labels-idx1-ubyte`, encodeIdx([set.count], set.labels));
  }
  const bin = fileURLToPath(new URL('../../../bin/sparsekit.js', import.meta.url));
  const env = { ...process.env, SPARSEKIT_ZOO: join(tmp, 'a'), SPARSEKIT_FASHION_MNIST: fm };
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, cwd: tmp });
  const r = run('eval', 'acc', 'tiny-mlp', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const expected = JSON.parse(readFileSync(join(tmp, 'a', 'tiny-mlp', 'training.json'), 'utf8'));
  assert.equal(out.images, 100);
  assert.equal(out.accuracy, expected.metrics.testAccuracy);
  const list = run('zoo', 'list');
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /fmnist-mlp\s+vision not built/);
  const gen = run('generate', 'tiny-mlp', '--prompt', 'hi');
  assert.equal(gen.status, 2);
  assert.match(
    gen.stderr,
    /is an image classifier, not a language model; score it with sparsekit eval acc tiny-mlp/,
  );
  const bad = run('eval', 'acc', 'nothing-here');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /is not an image classifier/);
});
