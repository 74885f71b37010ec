/**
 * TrainableLM: a GPT-2 or Llama-family causal LM whose every parameter is an autograd Var keyed by its Hugging
 * Face name. Load it from any HF folder `loadModel` reads (or initialise it as transformers does), take the
 * next-token loss of a batch, step an optimizer, and save an HF folder that `loadModel` runs unchanged.
 */

import { type SparseWeight, sparseParam } from '../../autograd/linear.js';
import { crossEntropy } from '../../autograd/loss.js';
import { transposeData } from '../../autograd/shape.js';
import { noGrad, param, type Var } from '../../autograd/tape.js';
import { type SparseMatrix, toDense } from '../../formats/index.js';
import { type ModelConfig, parseConfig } from '../../io/config.js';
import type { JsonObject } from '../../io/fields.js';
import { openHfFolder, writeHfFolder } from '../../io/hf.js';
import { toFloat32 } from '../../io/safetensors.js';
import type { TensorEntry } from '../../io/safetensors-write.js';
import type { Mask } from '../../sparsity/mask.js';
import { toBf16, toF16 } from '../../tensor/dtype.js';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { type BatchShape, gpt2Forward, llamaForward, type ParamLookup } from './forward.js';
import { gpt2Specs, llamaSpecs, type ParamSpec, type TrainableConfig } from './spec.js';

/**
 * A batch of token sequences [B, T]: B arrays of T ids, or flat ids with their shape. Every row has the same
 * length (pad with any id and mask it out with `labels` = ignoreIndex).
 */
export type TokenBatch =
  | readonly ArrayLike<number>[]
  | { readonly data: ArrayLike<number>; readonly shape: readonly [number, number] };

/** Options of {@link TrainableLM.lossOn}. */
export interface LossOptions {
  /** Targets [B, T] as in transformers (`labels`, shifted inside: position t predicts labels[t+1]); default the ids. */
  labels?: TokenBatch;
  /** Labels equal to this are not counted (default −100, as transformers). */
  ignoreIndex?: number;
}

/** Options of {@link TrainableLM.save}. */
export interface LmSaveOptions {
  /** Dtype of every tensor (default f32); config.json's torch_dtype follows. */
  dtype?: 'f32' | 'bf16' | 'f16';
  /** Replace an existing folder (default false). */
  overwrite?: boolean;
  /** tokenizer.json text to write beside the weights (default: the source folder's, if any). */
  tokenizerJson?: string;
  /** generation_config.json object (default: the source folder's, if any). */
  generationConfig?: JsonObject;
}

const TORCH_DTYPE = { f32: 'float32', bf16: 'bfloat16', f16: 'float16' } as const;

function trainableConfig(c: ModelConfig, what: string): TrainableConfig {
  if (c.modelType === 'bert') {
    throw new TypeError(
      `${what}: config is a bert model; only causal LMs (gpt2, llama, qwen2, mistral) train here`,
    );
  }
  return c;
}

/** Flat ids and [B, T] of a batch; `what` names the argument in errors. */
function batchOf(b: TokenBatch, what: string): { data: ArrayLike<number>; B: number; T: number } {
  if (Array.isArray(b)) {
    const rows = b as readonly ArrayLike<number>[];
    const T = rows[0]?.length ?? 0;
    if (rows.length === 0 || T === 0)
      throw new RangeError(`${what}: the batch is empty; pass [B, T] token ids with B, T ≥ 1`);
    const data = new Int32Array(rows.length * T);
    rows.forEach((r, i) => {
      if (r.length !== T) {
        throw new RangeError(
          `${what}: row ${i} has ${r.length} tokens but row 0 has ${T}; every row needs the same length`,
        );
      }
      for (let t = 0; t < T; t++) data[i * T + t] = r[t]!;
    });
    return { data, B: rows.length, T };
  }
  const { data, shape } = b as { data: ArrayLike<number>; shape: readonly [number, number] };
  const [B, T] = shape ?? [];
  if (!(Number.isInteger(B) && Number.isInteger(T) && B! > 0 && T! > 0) || data?.length !== B! * T!) {
    throw new RangeError(`${what}: need an array of rows or { data, shape: [B, T] } with data.length = B·T`);
  }
  return { data, B: B!, T: T! };
}

/**
 * A trainable causal LM (GPT-2, Llama, Qwen2, Mistral) built from autograd ops.
 *
 * ```ts
 * const lm = TrainableLM.init({ model_type: 'llama', vocab_size: 4096, hidden_size: 256, ... }, 1);
 * const opt = new AdamW(lm.parameters(), { lr: 3e-4 });
 * const loss = lm.lossOn(batch); // batch: [B, T] token ids
 * backward(loss); opt.step(); opt.zeroGrad();
 * lm.save('out/brown-llama');
 * ```
 */
export class TrainableLM {
  /** Every parameter by HF name (linear weights [out, in]; a sparse weight's entry is its `values` Var). */
  readonly params: ReadonlyMap<string, Var>;
  private readonly table = new Map<string, Var>();
  private readonly sparse = new Map<string, SparseWeight>();
  /** Every parameter's HF name, shape in memory, HF init and whether the checkpoint stores it transposed. */
  readonly specs: readonly ParamSpec[];

  private constructor(
    readonly config: TrainableConfig,
    /** 'transformer.' or '' for GPT-2 key names; '' for Llama. */
    private readonly prefix: string,
    values: ReadonlyMap<string, Float32Array>,
    private readonly source: { tokenizerJson?: string; generationConfig?: JsonObject } = {},
  ) {
    this.specs = config.modelType === 'gpt2' ? gpt2Specs(config, prefix) : llamaSpecs(config);
    for (const s of this.specs)
      this.table.set(s.name, param(new Tensor(values.get(s.name)!, s.shape), { name: s.name }));
    this.params = this.table;
  }

  /**
   * A model initialised as transformers' `_init_weights` does (see spec.ts): normal(0, initializer_range)
   * linear and embedding weights, GPT-2's c_proj weights with std/√(2·n_layer), zero biases, norm weights 1.
   * `config` is a config.json object or a parsed config; the same seed gives the same weights.
   */
  static init(config: ModelConfig | JsonObject, seed: number): TrainableLM {
    const parsed = trainableConfig(
      'modelType' in config ? (config as ModelConfig) : parseConfig(config),
      'TrainableLM.init',
    );
    if (!Number.isInteger(seed))
      throw new RangeError(`TrainableLM.init: seed must be an integer, got ${seed}`);
    const prefix = parsed.modelType === 'gpt2' ? 'transformer.' : '';
    const specs = parsed.modelType === 'gpt2' ? gpt2Specs(parsed, prefix) : llamaSpecs(parsed);
    const values = new Map<string, Float32Array>();
    specs.forEach((s, i) => {
      let v: Float32Array;
      if (s.init === 'zeros') v = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
      else if (s.init === 'ones') v = new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(1);
      else {
        v = randn(s.shape, (Math.imul(seed, 0x9e3779b1) + i * 7919) >>> 0).data;
        for (let j = 0; j < v.length; j++) v[j]! *= s.init.normal;
      }
      values.set(s.name, v);
    });
    const pad = parsed.modelType !== 'gpt2' ? parsed.padTokenId : null;
    if (parsed.modelType !== 'gpt2' && pad !== null && pad >= 0 && pad < parsed.vocabSize) {
      const C = parsed.hiddenSize;
      values.get('model.embed_tokens.weight')!.fill(0, pad * C, (pad + 1) * C); // nn.Embedding padding_idx
    }
    return new TrainableLM(parsed, prefix, values);
  }

  /** Load every parameter of an HF folder (any dtype; GPT-2 with or without the `transformer.` prefix) as f32. */
  static fromHfFolder(dir: string): TrainableLM {
    const folder = openHfFolder(dir);
    try {
      const c = trainableConfig(folder.config, `TrainableLM.fromHfFolder(${dir})`);
      const prefix = c.modelType === 'gpt2' && !folder.weights.has('wte.weight') ? 'transformer.' : '';
      const specs = c.modelType === 'gpt2' ? gpt2Specs(c, prefix) : llamaSpecs(c);
      const values = new Map<string, Float32Array>();
      for (const s of specs) {
        if (!folder.weights.has(s.name)) {
          throw new RangeError(
            `${dir}: the checkpoint has no tensor "${s.name}" (a ${c.modelType} model needs it)`,
          );
        }
        const raw = folder.weights.readTensor(s.name);
        const want = s.transposed ? [s.shape[1]!, s.shape[0]!] : s.shape;
        if (raw.shape.join() !== want.join()) {
          throw new RangeError(
            `${dir}: tensor "${s.name}" has shape [${raw.shape.join(', ')}] but config.json implies [${want.join(', ')}]`,
          );
        }
        const f = toFloat32(raw);
        values.set(s.name, s.transposed ? transposeData(f, want[0]!, want[1]!) : Float32Array.from(f));
      }
      return new TrainableLM(c, prefix, values, {
        ...(folder.tokenizer ? { tokenizerJson: folder.tokenizer.json } : {}),
        ...(folder.generationConfig ? { generationConfig: folder.generationConfig.raw } : {}),
      });
    } finally {
      folder.close();
    }
  }

  /** Every trainable Var, for an optimizer (a tied head is the embedding: listed once). */
  parameters(): Var[] {
    return [...this.table.values()];
  }

  /** Total number of parameters (stored entries; a sparse weight counts its value slots). */
  get numParameters(): number {
    let n = 0;
    for (const v of this.table.values()) n += v.size;
    return n;
  }

  /** HF names of the linear-layer weights (masks and sparse formats apply to these), LM head last if untied. */
  linearNames(): string[] {
    return this.specs.filter((s) => s.linear).map((s) => s.name);
  }

  private linearSpec(name: string, what: string): ParamSpec {
    const s = this.specs.find((x) => x.name === name);
    if (!s?.linear) {
      throw new RangeError(
        `TrainableLM.${what}: "${name}" is not a linear weight; use one of linearNames() (e.g. ${this.linearNames()[0]})`,
      );
    }
    return s;
  }

  /** Hold a linear weight at zero off `mask` (sparsity Mask or keep bytes over [out, in]); null removes it. */
  setMask(name: string, mask: Mask | Uint8Array | null): void {
    this.linearSpec(name, 'setMask');
    if (this.sparse.has(name))
      throw new RangeError(`TrainableLM.setMask: "${name}" is stored sparse; its structure is its mask`);
    this.table.get(name)!.setMask(mask);
  }

  /**
   * Store a linear weight in a sparse format (`matrix` [out, in], e.g. csrFromDense of the pruned weight): the
   * forward and backward run that format's kernels and `params.get(name)` becomes the matrix's values Var.
   * Call before creating the optimizer.
   */
  setSparse(name: string, matrix: SparseMatrix, options: { denseGrad?: boolean } = {}): SparseWeight {
    const s = this.linearSpec(name, 'setSparse');
    if (matrix.rows !== s.shape[0] || matrix.cols !== s.shape[1]) {
      throw new RangeError(
        `TrainableLM.setSparse: "${name}" is [${s.shape.join(', ')}], got a [${matrix.rows}, ${matrix.cols}] matrix`,
      );
    }
    const w = sparseParam(matrix, { name, ...options });
    this.sparse.set(name, w);
    this.table.set(name, w.values);
    return w;
  }

  /** The sparse weight stored under `name`, if any. */
  sparseWeight(name: string): SparseWeight | undefined {
    return this.sparse.get(name);
  }

  private lookup(): ParamLookup {
    const get = (name: string): Var => {
      const v = this.table.get(name);
      if (!v || this.sparse.has(name)) throw new Error(`TrainableLM: no dense parameter "${name}"`);
      return v;
    };
    return Object.assign(get, {
      linear: (name: string) => this.sparse.get(name) ?? get(name),
      has: (name: string) => this.table.has(name),
    });
  }

  /** Logits [B·T, vocab] of a batch (recorded on the tape unless inside noGrad). */
  forward(batch: TokenBatch): Var {
    const { data, B, T } = batchOf(batch, 'TrainableLM.forward');
    const c = this.config;
    const max = c.modelType === 'gpt2' ? c.nPositions : c.maxPositionEmbeddings;
    if (T > max)
      throw new RangeError(
        `TrainableLM.forward: sequences of ${T} tokens exceed the model's ${max} positions`,
      );
    const s: BatchShape = { ids: data, batch: B, seqLen: T };
    return c.modelType === 'gpt2'
      ? gpt2Forward(c, this.lookup(), this.prefix, s)
      : llamaForward(c, this.lookup(), s);
  }

  /**
   * Mean next-token cross-entropy of a batch [B, T], as transformers' `model(input_ids, labels=labels).loss`:
   * position t of row b predicts labels[b][t+1]; the last position and labels equal to ignoreIndex are not
   * counted. Returns a one-element Var to `backward`.
   */
  lossOn(batch: TokenBatch, opts: LossOptions = {}): Var {
    const ignore = opts.ignoreIndex ?? -100;
    const { data, B, T } = batchOf(batch, 'TrainableLM.lossOn');
    const labels =
      opts.labels === undefined ? { data, B, T } : batchOf(opts.labels, 'TrainableLM.lossOn labels');
    if (labels.B !== B || labels.T !== T) {
      throw new RangeError(
        `TrainableLM.lossOn: labels are [${labels.B}, ${labels.T}] but the batch is [${B}, ${T}]`,
      );
    }
    const targets = new Int32Array(B * T).fill(ignore);
    for (let b = 0; b < B; b++)
      for (let t = 0; t + 1 < T; t++) targets[b * T + t] = labels.data[b * T + t + 1]!;
    const logits = this.forward({ data, shape: [B, T] });
    return crossEntropy(logits, targets, { ignoreIndex: ignore });
  }

  /** Logits [T, vocab] of one sequence, without recording (evaluation, tests). */
  logits(ids: ArrayLike<number>): Tensor {
    return noGrad(() => this.forward([ids]).value);
  }

  /** Dense f32 value of a parameter in memory layout (a sparse weight decoded). */
  private dense(spec: ParamSpec): Float32Array {
    const sw = this.sparse.get(spec.name);
    return sw ? toDense(sw.matrix).data : this.table.get(spec.name)!.value.data;
  }

  /**
   * Write an HF folder (config.json, model.safetensors, generation_config.json and tokenizer.json when known)
   * atomically: HF names and layout (GPT-2 Conv1D weights [in, out]), sparse weights dense, a tied head not
   * stored. `loadModel(dir)` computes the same logits as this model.
   */
  save(dir: string, opts: LmSaveOptions = {}): void {
    const dtype = opts.dtype ?? 'f32';
    if (!Object.hasOwn(TORCH_DTYPE, dtype)) {
      throw new RangeError(
        `TrainableLM.save: dtype must be f32, bf16 or f16, got ${JSON.stringify(opts.dtype)}`,
      );
    }
    const weights = new Map<string, TensorEntry>();
    for (const s of this.specs) {
      const shape = s.transposed ? [s.shape[1]!, s.shape[0]!] : [...s.shape];
      const data = () => {
        let f = this.dense(s);
        if (s.transposed) f = transposeData(f, s.shape[0]!, s.shape[1]!);
        return dtype === 'f32' ? f : dtype === 'bf16' ? toBf16(f) : toF16(f);
      };
      weights.set(s.name, {
        dtype: dtype === 'f32' ? 'F32' : dtype === 'bf16' ? 'BF16' : 'F16',
        shape,
        data,
      });
    }
    const raw = { ...this.config.raw } as Record<string, unknown>;
    delete raw.dtype;
    raw.torch_dtype = TORCH_DTYPE[dtype];
    const tokenizerJson = opts.tokenizerJson ?? this.source.tokenizerJson;
    const generationConfig = opts.generationConfig ?? this.source.generationConfig;
    writeHfFolder(dir, {
      config: raw,
      weights,
      ...(tokenizerJson !== undefined ? { tokenizerJson } : {}),
      ...(generationConfig !== undefined ? { generationConfig } : {}),
      overwrite: opts.overwrite ?? false,
    });
  }
}
