/**
 * Small image classifiers for the zoo (Fashion-MNIST): an MLP and a CNN, described by a small config.json
 * and stored as model.safetensors with HF-style tensor names, built on the autograd rules so the same code
 * trains and evaluates them.
 *
 * config.json of each kind:
 * - `{"model_type": "sparsekit_mlp", "image_size": [28, 28], "num_channels": 1, "num_labels": 10,
 *    "hidden_sizes": [512, 256], "hidden_act": "relu", "pixel_mean": 0.286, "pixel_std": 0.353, ...}`
 *   tensors `layers.{i}.weight` [out, in] and `layers.{i}.bias` [out]; the last layer is the classifier.
 * - `{"model_type": "sparsekit_cnn", ..., "conv_channels": [32, 64], "kernel_size": 3}`: each conv block is
 *   conv k×k (stride 1, padding k>>1) → relu → 2×2 max pool; tensors `convs.{i}.weight` [O, C, k, k],
 *   `convs.{i}.bias` [O], then `classifier.weight` [labels, C·h·w] and `classifier.bias`.
 * Inputs are [N, channels·H·W] pixels in [0, 1]; the model standardises them with pixel_mean/pixel_std.
 */

import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { conv2d, maxPool2d } from '../autograd/conv.js';
import { addScalar, relu, scale } from '../autograd/elementwise.js';
import { dropout } from '../autograd/embedding.js';
import { linear } from '../autograd/linear.js';
import { Rng } from '../autograd/rng.js';
import { reshape } from '../autograd/shape.js';
import { constant, noGrad, param, type Var } from '../autograd/tape.js';
import { writeAll, writeDirAtomic, writeFileAtomic } from '../io/atomic.js';
import { IoError } from '../io/errors.js';
import { SafetensorsFile, toFloat32 } from '../io/safetensors.js';
import { type TensorEntry, writeSafetensors } from '../io/safetensors-write.js';
import { toBf16, toF16 } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';

/** The `model_type` values of the zoo's image classifiers. */
export const VISION_MODEL_TYPES = ['sparsekit_mlp', 'sparsekit_cnn'] as const;
export type VisionModelType = (typeof VISION_MODEL_TYPES)[number];

/** A parsed vision config (snake_case on disk, camelCase here). */
export interface VisionConfig {
  readonly modelType: VisionModelType;
  /** [H, W] of the input images. */
  readonly imageSize: readonly [number, number];
  readonly numChannels: number;
  readonly numLabels: number;
  /** Class names in label order (`id2label`), if known. */
  readonly labels: readonly string[];
  /** MLP: widths of the hidden layers. */
  readonly hiddenSizes: readonly number[];
  /** CNN: output channels of each conv block. */
  readonly convChannels: readonly number[];
  /** CNN: conv kernel size (odd; padding k>>1 keeps the size). */
  readonly kernelSize: number;
  /** Dropout before each linear layer while training (0 = none). */
  readonly dropout: number;
  /** x ← (x − mean) / std on pixels in [0, 1]. */
  readonly pixelMean: number;
  readonly pixelStd: number;
}

function fail(file: string, msg: string): never {
  throw new IoError(file, msg);
}

function posInt(file: string, raw: Record<string, unknown>, key: string): number {
  const v = raw[key];
  if (!Number.isInteger(v) || (v as number) < 1)
    fail(file, `${key} must be a whole number ≥ 1, got ${JSON.stringify(v)}`);
  return v as number;
}

function intList(file: string, raw: Record<string, unknown>, key: string, min: number): number[] {
  const v = raw[key];
  if (!Array.isArray(v) || v.length < min || !v.every((x) => Number.isInteger(x) && x >= 1))
    fail(file, `${key} must be a list of at least ${min} whole numbers ≥ 1, got ${JSON.stringify(v)}`);
  return v as number[];
}

/** Parse a vision config.json object; errors name the file and the field. */
export function parseVisionConfig(raw: unknown, file = 'config.json'): VisionConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, 'must hold a JSON object');
  const r = raw as Record<string, unknown>;
  const type = r.model_type;
  if (!(VISION_MODEL_TYPES as readonly unknown[]).includes(type))
    fail(file, `model_type must be one of ${VISION_MODEL_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
  const size = intList(file, r, 'image_size', 2);
  const numLabels = posInt(file, r, 'num_labels');
  const id2label = r.id2label as Record<string, unknown> | undefined;
  const labels = Array.from({ length: numLabels }, (_, i) => String(id2label?.[String(i)] ?? `LABEL_${i}`));
  const num = (key: string, dflt: number) => {
    const v = r[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v))
      fail(file, `${key} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const cnn = type === 'sparsekit_cnn';
  const kernelSize = cnn ? posInt(file, r, 'kernel_size') : 0;
  if (cnn && kernelSize % 2 === 0)
    fail(file, `kernel_size must be odd (padding k>>1 keeps the size), got ${kernelSize}`);
  const config: VisionConfig = {
    modelType: type as VisionModelType,
    imageSize: [size[0]!, size[1]!],
    numChannels: posInt(file, r, 'num_channels'),
    numLabels,
    labels,
    hiddenSizes: cnn ? [] : intList(file, r, 'hidden_sizes', 0),
    convChannels: cnn ? intList(file, r, 'conv_channels', 1) : [],
    kernelSize,
    dropout: num('dropout', 0),
    pixelMean: num('pixel_mean', 0),
    pixelStd: num('pixel_std', 1),
  };
  if (!(config.dropout >= 0 && config.dropout < 1))
    fail(file, `dropout must be in [0, 1), got ${config.dropout}`);
  if (!(config.pixelStd > 0)) fail(file, `pixel_std must be > 0, got ${config.pixelStd}`);
  if (cnn) {
    let [h, w] = config.imageSize;
    for (const _ of config.convChannels) [h, w] = [h >> 1, w >> 1];
    if (h < 1 || w < 1)
      fail(
        file,
        `${config.convChannels.length} 2×2 poolings do not fit a ${config.imageSize.join('×')} image`,
      );
  }
  return config;
}

/** The config.json object of a parsed config (what {@link saveVisionModel} writes). */
export function visionConfigJson(c: VisionConfig): Record<string, unknown> {
  const cnn = c.modelType === 'sparsekit_cnn';
  return {
    architectures: [cnn ? 'SparsekitCnnForImageClassification' : 'SparsekitMlpForImageClassification'],
    model_type: c.modelType,
    image_size: [...c.imageSize],
    num_channels: c.numChannels,
    num_labels: c.numLabels,
    id2label: Object.fromEntries(c.labels.map((l, i) => [String(i), l])),
    ...(cnn ? { conv_channels: [...c.convChannels], kernel_size: c.kernelSize, pool: 'max2x2' } : {}),
    ...(cnn ? {} : { hidden_sizes: [...c.hiddenSizes] }),
    hidden_act: 'relu',
    dropout: c.dropout,
    pixel_mean: c.pixelMean,
    pixel_std: c.pixelStd,
  };
}

/** Tensor names and shapes of a config, in forward order. */
export function visionParamShapes(c: VisionConfig): Array<[string, number[]]> {
  const [H, W] = c.imageSize;
  const out: Array<[string, number[]]> = [];
  if (c.modelType === 'sparsekit_mlp') {
    const widths = [c.numChannels * H * W, ...c.hiddenSizes, c.numLabels];
    for (let i = 0; i + 1 < widths.length; i++) {
      out.push([`layers.${i}.weight`, [widths[i + 1]!, widths[i]!]]);
      out.push([`layers.${i}.bias`, [widths[i + 1]!]]);
    }
    return out;
  }
  let [h, w, ch] = [H, W, c.numChannels];
  const k = c.kernelSize;
  c.convChannels.forEach((o, i) => {
    out.push([`convs.${i}.weight`, [o, ch, k, k]]);
    out.push([`convs.${i}.bias`, [o]]);
    [h, w, ch] = [h >> 1, w >> 1, o];
  });
  out.push(['classifier.weight', [c.numLabels, ch * h * w]]);
  out.push(['classifier.bias', [c.numLabels]]);
  return out;
}

/** An image classifier: its config and parameters by tensor name. */
export interface VisionModel {
  readonly config: VisionConfig;
  readonly params: Record<string, Var>;
}

/**
 * Fresh parameters with PyTorch's default initialisation (nn.Linear / nn.Conv2d: weight and bias uniform in
 * ±1/√fan_in), drawn from a seeded generator.
 */
export function initVisionModel(config: VisionConfig, seed: number): VisionModel {
  const rng = new Rng(seed);
  const params: Record<string, Var> = {};
  let fanIn = 1;
  for (const [name, shape] of visionParamShapes(config)) {
    if (name.endsWith('.weight')) fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn);
    const t = Tensor.zeros(shape);
    for (let i = 0; i < t.size; i++) t.data[i] = (2 * rng.next() - 1) * bound;
    params[name] = param(t, { name });
  }
  return { config, params };
}

/**
 * Logits [N, labels] of images x [N, channels·H·W] (pixels in [0, 1]). With `train.rng`, dropout is
 * applied before each linear layer (training mode).
 */
export function visionForward(model: VisionModel, x: Tensor, train?: { rng: Rng }): Var {
  const c = model.config;
  const p = model.params;
  const [H, W] = c.imageSize;
  const N = x.shape[0]!;
  if (x.shape.length !== 2 || x.shape[1] !== c.numChannels * H * W)
    throw new RangeError(
      `visionForward: x must be [N, ${c.numChannels * H * W}], got [${x.shape.join(', ')}]`,
    );
  let h = addScalar(scale(constant(x), 1 / c.pixelStd), -c.pixelMean / c.pixelStd);
  const drop = (v: Var) => (train && c.dropout > 0 ? dropout(v, c.dropout, train.rng) : v);
  const get = (n: string) => p[n] ?? fail(n, 'is missing from the model');
  if (c.modelType === 'sparsekit_mlp') {
    const layers = c.hiddenSizes.length + 1;
    for (let i = 0; i < layers; i++) {
      if (i > 0) h = drop(h);
      h = linear(h, get(`layers.${i}.weight`), get(`layers.${i}.bias`));
      if (i + 1 < layers) h = relu(h);
    }
    return h;
  }
  h = reshape(h, [N, c.numChannels, H, W]);
  c.convChannels.forEach((_, i) => {
    h = maxPool2d(relu(conv2d(h, get(`convs.${i}.weight`), get(`convs.${i}.bias`), c.kernelSize >> 1)), 2);
  });
  h = reshape(h, [N, h.size / N]);
  return linear(drop(h), get('classifier.weight'), get('classifier.bias'));
}

/** Predicted class of each image of x [N, channels·H·W] (no tape), in batches of `batch`. */
export function visionPredict(model: VisionModel, x: Tensor, batch = 1000): Uint8Array {
  const N = x.shape[0]!;
  const D = x.shape[1]!;
  const out = new Uint8Array(N);
  noGrad(() => {
    for (let s = 0; s < N; s += batch) {
      const e = Math.min(N, s + batch);
      const logits = visionForward(model, new Tensor(x.data.subarray(s * D, e * D), [e - s, D])).value;
      const L = model.config.numLabels;
      for (let r = 0; r < e - s; r++) {
        let best = 0;
        for (let j = 1; j < L; j++) if (logits.data[r * L + j]! > logits.data[r * L + best]!) best = j;
        out[s + r] = best;
      }
    }
  });
  return out;
}

/** Weight dtypes a vision model can be saved in. */
export type VisionDType = 'F32' | 'F16' | 'BF16';

/**
 * Write `dir` atomically: config.json and model.safetensors (`dtype`, default F16), plus `extraFiles`
 * (name → text, e.g. TRAINING.md). Replaces an existing folder.
 */
export function saveVisionModel(
  dir: string,
  model: VisionModel,
  { dtype = 'F16', extraFiles = {} }: { dtype?: VisionDType; extraFiles?: Record<string, string> } = {},
): void {
  const entries: Record<string, TensorEntry> = {};
  for (const [name, shape] of visionParamShapes(model.config)) {
    const v = model.params[name]!.value.data;
    const data = dtype === 'F32' ? v.slice() : dtype === 'F16' ? toF16(v) : toBf16(v);
    entries[name] = { dtype, shape, data };
  }
  const config = {
    ...visionConfigJson(model.config),
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
  };
  const text = (path: string, s: string) =>
    writeFileAtomic(path, (fd) => writeAll(fd, new TextEncoder().encode(s)));
  writeDirAtomic(
    dir,
    (tmp) => {
      chmodSync(tmp, 0o755); // a model folder others may read (mkdtemp makes it private)
      text(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
      writeSafetensors(join(tmp, 'model.safetensors'), entries, { metadata: { format: 'pt' } });
      for (const [name, body] of Object.entries(extraFiles)) text(join(tmp, name), body);
    },
    { overwrite: true },
  );
}

/** True when `dir/config.json` names a vision model type. */
export function isVisionFolder(dir: string): boolean {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) return false;
  try {
    const t = (JSON.parse(readFileSync(file, 'utf8')) as { model_type?: unknown }).model_type;
    return (VISION_MODEL_TYPES as readonly unknown[]).includes(t);
  } catch {
    return false;
  }
}

/** Load a folder written by {@link saveVisionModel}: weights in f32 (as parameters, so it can train on). */
export function loadVisionModel(dir: string): VisionModel {
  const file = join(dir, 'config.json');
  if (!existsSync(file))
    throw new IoError(dir, 'has no config.json; give a folder written by sparsekit zoo build');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new IoError(file, `is not valid JSON (${(e as Error).message})`);
  }
  const config = parseVisionConfig(raw, file);
  const st = SafetensorsFile.open(join(dir, 'model.safetensors'));
  try {
    const params: Record<string, Var> = {};
    for (const [name, shape] of visionParamShapes(config)) {
      const t = st.readTensor(name);
      if (t.shape.join(',') !== shape.join(','))
        throw new IoError(
          join(dir, 'model.safetensors'),
          `tensor ${name} has shape [${t.shape.join(', ')}], config.json implies [${shape.join(', ')}]`,
        );
      params[name] = param(new Tensor(toFloat32(t), shape), { name });
    }
    return { config, params };
  } finally {
    st.close();
  }
}
