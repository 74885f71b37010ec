/**
 * Zoo recipes for Fashion-MNIST classifiers: `fmnist-mlp` (784 → 512 → 256 → 10, ReLU, dropout) and
 * `fmnist-cnn` (two conv3×3 → ReLU → max-pool 2×2 blocks, then a linear classifier). Both train with AdamW,
 * linear warmup + cosine decay, on the first 55,000 training images in seeded epoch orders; the last 5,000
 * training images are the validation set evaluated during training; the test set (10,000) is scored once,
 * at the end, with the weights as saved (f16).
 */

import { performance } from 'node:perf_hooks';
import { crossEntropy } from '../autograd/loss.js';
import { noGrad, param } from '../autograd/tape.js';
import { FASHION_MNIST_CLASSES, type ImageSet, loadFashionMnist } from '../data/fashion-mnist.js';
import { fromBf16, fromF16, toBf16, toF16 } from '../tensor/dtype.js';
import { shuffledIndices } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { train } from '../train/loop.js';
import { AdamW } from '../train/optim.js';
import { warmupCosine } from '../train/schedule.js';
import type { BuildOptions, BuildResult } from './recipe.js';
import { makeRecipe, prepareWork } from './recipe.js';
import {
  initVisionModel,
  parseVisionConfig,
  saveVisionModel,
  type VisionDType,
  type VisionModel,
  visionForward,
} from './vision.js';
import { buildEnvironment, type CurvePoint, recordFiles, writeZooChecksums, zooWorkDir } from './zoo.js';

/** Everything that determines a vision model's training. */
export interface VisionHyper {
  /** config.json fields (model_type, sizes, dropout, pixel normalisation). */
  readonly config: Record<string, unknown>;
  readonly seed: number;
  readonly batchSize: number;
  readonly epochs: number;
  /** The last `validation` training images are held out for evaluation during training. */
  readonly validation: number;
  readonly lr: number;
  readonly minLr: number;
  readonly warmupSteps: number;
  readonly weightDecay: number;
  readonly betas: readonly [number, number];
  readonly clipNorm: number;
  /** Evaluate on the validation images every this many steps (and at the end). */
  readonly evalEvery: number;
  readonly checkpointEvery: number;
  /** Weight dtype of the saved model. */
  readonly dtype: VisionDType;
}

/** The images a build uses (the real dataset unless a test passes tiny ones). */
export interface VisionData {
  train: ImageSet;
  test: ImageSet;
}

/** Pixels of images `ids` of `set` as [n, rows·cols] in [0, 1], and their labels. */
export function gatherImages(set: ImageSet, ids: ArrayLike<number>): { x: Tensor; y: Uint8Array } {
  const px = set.rows * set.cols;
  const x = new Float32Array(ids.length * px);
  const y = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const src = set.images.subarray(id * px, id * px + px);
    for (let j = 0; j < px; j++) x[i * px + j] = src[j]! / 255;
    y[i] = set.labels[id]!;
  }
  return { x: new Tensor(x, [ids.length, px]), y };
}

/** Accuracy and mean cross-entropy of `model` on images `ids` of `set` (no tape), in batches of 500. */
export function evaluateVision(
  model: VisionModel,
  set: ImageSet,
  ids: ArrayLike<number> = Uint32Array.from({ length: set.count }, (_, i) => i),
): { accuracy: number; loss: number } {
  let correct = 0;
  let lossSum = 0;
  noGrad(() => {
    for (let s = 0; s < ids.length; s += 500) {
      const chunk = Array.from({ length: Math.min(500, ids.length - s) }, (_, i) => ids[s + i]!);
      const { x, y } = gatherImages(set, chunk);
      const logits = visionForward(model, x);
      lossSum += crossEntropy(logits, y).value.data[0]! * chunk.length;
      const L = model.config.numLabels;
      const d = logits.value.data;
      for (let r = 0; r < chunk.length; r++) {
        let best = 0;
        for (let j = 1; j < L; j++) if (d[r * L + j]! > d[r * L + best]!) best = j;
        if (best === y[r]) correct++;
      }
    }
  });
  return { accuracy: correct / ids.length, loss: lossSum / ids.length };
}

/** A copy of the model with every weight rounded to `dtype` (what the saved file holds). */
export function roundedModel(model: VisionModel, dtype: VisionDType): VisionModel {
  const params = Object.fromEntries(
    Object.entries(model.params).map(([k, v]) => {
      const d = v.value.data;
      const r = dtype === 'F16' ? fromF16(toF16(d)) : dtype === 'BF16' ? fromBf16(toBf16(d)) : d.slice();
      return [k, param(new Tensor(r, v.shape), { name: k })];
    }),
  );
  return { config: model.config, params };
}

/** Train a vision model by `hyper` and write `<root>/<name>` (see the file header). */
export async function buildVision(
  name: string,
  description: string,
  hyper: VisionHyper,
  o: BuildOptions,
  data: VisionData = { train: loadFashionMnist('train'), test: loadFashionMnist('test') },
): Promise<BuildResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const work = prepareWork(zooWorkDir(o.root, name), name, hyper as unknown as Record<string, unknown>, o);
  const config = parseVisionConfig(
    { ...hyper.config, id2label: Object.fromEntries(FASHION_MNIST_CLASSES.map((c, i) => [String(i), c])) },
    `${name} recipe`,
  );
  const model = initVisionModel(config, hyper.seed);
  const { train: trainSet, test: testSet } = data;
  const nTrain = trainSet.count - hyper.validation;
  if (nTrain < hyper.batchSize)
    throw new RangeError(`${name}: ${nTrain} training images are fewer than one batch of ${hyper.batchSize}`);
  const valIds = Uint32Array.from({ length: hyper.validation }, (_, i) => nTrain + i);
  const perEpoch = Math.floor(nTrain / hyper.batchSize);
  const steps = perEpoch * hyper.epochs;
  const orders = new Map<number, Uint32Array>();
  const order = (epoch: number) => {
    if (!orders.has(epoch)) {
      orders.clear();
      orders.set(epoch, shuffledIndices(nTrain, hyper.seed * 100_003 + epoch));
    }
    return orders.get(epoch)!;
  };
  const B = hyper.batchSize;
  const t0 = performance.now();
  const result = await train({
    params: model.params,
    optimizer: new AdamW(Object.values(model.params), {
      lr: hyper.lr,
      betas: [hyper.betas[0], hyper.betas[1]],
      weightDecay: hyper.weightDecay,
    }),
    steps,
    seed: hyper.seed,
    schedule: warmupCosine({ peak: hyper.lr, warmup: hyper.warmupSteps, total: steps, floor: hyper.minLr }),
    clipNorm: hyper.clipNorm,
    lossFn: ({ step, rng }) => {
      const ep = Math.floor(step / perEpoch);
      const at = (step % perEpoch) * B;
      const { x, y } = gatherImages(trainSet, order(ep).subarray(at, at + B));
      return { loss: crossEntropy(visionForward(model, x, { rng }), y), items: B };
    },
    itemName: 'samples',
    evalEvery: hyper.evalEvery,
    evaluate: (): Record<string, number> => {
      if (!valIds.length) return {};
      const v = evaluateVision(model, trainSet, valIds);
      return { valLoss: v.loss, valAcc: v.accuracy };
    },
    checkpoint: { path: work.checkpoint, every: hyper.checkpointEvery },
    resume: true,
    progress: o.progress,
    log,
  });
  work.addSeconds((performance.now() - t0) / 1000);
  const seconds = work.priorSeconds + (performance.now() - t0) / 1000;
  if (result.interrupted) return { complete: false, dir: '', metrics: {} };
  const saved = roundedModel(model, hyper.dtype);
  const test = evaluateVision(saved, testSet);
  const val = valIds.length
    ? evaluateVision(saved, trainSet, valIds)
    : { accuracy: Number.NaN, loss: Number.NaN };
  const metrics = { testAccuracy: test.accuracy, testLoss: test.loss, valAccuracy: val.accuracy };
  log(
    `${name}: test accuracy ${(100 * test.accuracy).toFixed(2)}% (${testSet.count} images, ${hyper.dtype} weights)`,
  );
  const curve: CurvePoint[] = [];
  let prev = 0;
  for (const e of result.evals) {
    const window = result.losses.slice(prev, e.step);
    curve.push({
      step: e.step,
      seen: e.step * B,
      trainLoss: window.reduce((a, b) => a + b, 0) / Math.max(1, window.length),
      metrics: e.metrics,
    });
    prev = e.step;
  }
  const parameters = Object.values(model.params).reduce((s, v) => s + v.size, 0);
  const dir = `${o.root}/${name}`;
  const record = {
    name,
    description,
    command: o.command ?? `sparsekit zoo build ${name}`,
    hyperparameters: { ...hyper, trainImages: nTrain, stepsPerEpoch: perEpoch, steps },
    metrics,
    metricNotes: {
      testAccuracy: `top-1 accuracy on the ${testSet.count} Fashion-MNIST test images, ${hyper.dtype} weights as saved`,
      testLoss: 'mean cross-entropy (nats) on the test images',
      valAccuracy: `accuracy on the ${valIds.length} held-out training images (last of the training file)`,
    },
    curve,
    parameters,
    steps,
    seconds,
    rate: (steps * B) / Math.max(seconds, 1e-9),
    itemName: 'samples',
    environment: buildEnvironment(o.threads),
    date: new Date().toISOString(),
  };
  saveVisionModel(dir, saved, { dtype: hyper.dtype, extraFiles: recordFiles(record) });
  writeZooChecksums(o.root);
  return { complete: true, dir, metrics };
}

const FMNIST_IMAGE = {
  image_size: [28, 28],
  num_channels: 1,
  num_labels: 10,
  pixel_mean: 0.286,
  pixel_std: 0.353,
};

/** fmnist-mlp: 784 → 512 → 256 → 10 (ReLU, dropout 0.2), 30 epochs. */
export const FMNIST_MLP_HYPER: VisionHyper = {
  config: { model_type: 'sparsekit_mlp', ...FMNIST_IMAGE, hidden_sizes: [512, 256], dropout: 0.2 },
  seed: 1,
  batchSize: 128,
  epochs: 30,
  validation: 5000,
  lr: 1e-3,
  minLr: 1e-5,
  warmupSteps: 200,
  weightDecay: 0.01,
  betas: [0.9, 0.999],
  clipNorm: 5,
  evalEvery: 858,
  checkpointEvery: 429,
  dtype: 'F16',
};

/** fmnist-cnn: conv3×3(32) → ReLU → pool, conv3×3(64) → ReLU → pool, dropout 0.25, linear 3136 → 10; 10 epochs. */
export const FMNIST_CNN_HYPER: VisionHyper = {
  config: {
    model_type: 'sparsekit_cnn',
    ...FMNIST_IMAGE,
    conv_channels: [32, 64],
    kernel_size: 3,
    dropout: 0.25,
  },
  seed: 1,
  batchSize: 256,
  epochs: 10,
  validation: 5000,
  lr: 2e-3,
  minLr: 1e-5,
  warmupSteps: 100,
  weightDecay: 0.01,
  betas: [0.9, 0.999],
  clipNorm: 5,
  evalEvery: 214,
  checkpointEvery: 50,
  dtype: 'F16',
};

const visionRecipe = makeRecipe<VisionHyper>('vision', buildVision);

export const FMNIST_MLP = visionRecipe(
  'fmnist-mlp',
  'Fashion-MNIST classifier: a multilayer perceptron with two hidden layers (784 → 512 → 256 → 10, ReLU).',
  FMNIST_MLP_HYPER,
);

export const FMNIST_CNN = visionRecipe(
  'fmnist-cnn',
  'Fashion-MNIST classifier: a small CNN (conv3×3 32 → ReLU → max-pool, conv3×3 64 → ReLU → max-pool, linear 3136 → 10).',
  FMNIST_CNN_HYPER,
);
