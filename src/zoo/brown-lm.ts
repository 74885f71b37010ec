/**
 * Zoo recipes for language models on the Brown corpus: `brown-gpt2` (GPT-2 architecture) and `brown-llama`
 * (Llama: RoPE, grouped-query attention, SwiGLU), about 8.5M parameters each, same width and depth.
 *
 * 1. Tokenizer: a byte-level BPE (src/data/bpe.ts) of 8,192 entries trained on the Brown training split,
 *    `<|endoftext|>` = id 0, saved as the model's tokenizer.json.
 * 2. Data: each split's documents (Brown samples) tokenized and joined with `<|endoftext|>` after each; a
 *    training batch is B windows of T tokens at offsets drawn from the run's seeded generator.
 * 3. Training: TrainableLM (src/train/lm) with AdamW, warmup + cosine, gradient clipping, through `train`
 *    (progress with ETA, periodic validation loss, checkpoints, resume, Ctrl-C).
 * 4. Metrics: perplexity of the saved folder (weights as stored) on the Brown validation and test splits,
 *    exactly as `sparsekit eval ppl <name> --data brown --ctx 256` computes it (disjoint 256-token windows).
 */

import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { noGrad } from '../autograd/tape.js';
import { trainBpe } from '../data/bpe.js';
import { brownText } from '../data/brown.js';
import { perplexity } from '../eval/perplexity.js';
import { writeAll, writeDirAtomic, writeFileAtomic } from '../io/atomic.js';
import { loadTokenizer, type Tokenizer, tokenizerFromJson } from '../io/tokenizer.js';
import { loadCausalLM } from '../models/load.js';
import { TrainableLM } from '../train/lm/model.js';
import { train } from '../train/loop.js';
import { AdamW } from '../train/optim.js';
import { warmupCosine } from '../train/schedule.js';
import type { BuildOptions, BuildResult } from './recipe.js';
import { makeRecipe, prepareWork } from './recipe.js';
import { buildEnvironment, type CurvePoint, recordFiles, writeZooChecksums, zooWorkDir } from './zoo.js';

/** Everything that determines an LM's training. */
export interface LmHyper {
  /** config.json of the model (vocab_size must equal tokenizer.vocabSize). */
  readonly config: Record<string, unknown>;
  readonly tokenizer: { readonly vocabSize: number; readonly minFrequency: number };
  readonly seed: number;
  /** Windows per step and tokens per window. */
  readonly batchSize: number;
  readonly seqLen: number;
  readonly steps: number;
  readonly lr: number;
  readonly minLr: number;
  readonly warmupSteps: number;
  readonly weightDecay: number;
  readonly betas: readonly [number, number];
  readonly clipNorm: number;
  /** Validation loss on the first `evalWindows` windows of the validation split every `evalEvery` steps. */
  readonly evalEvery: number;
  readonly evalWindows: number;
  readonly checkpointEvery: number;
  /** Weight dtype of the saved model. */
  readonly dtype: 'f16' | 'bf16' | 'f32';
  /** Window of the final perplexity (disjoint windows). */
  readonly pplCtx: number;
}

/** The texts a build uses: documents of each split (the Brown corpus unless a test passes others). */
export interface LmData {
  train: string[];
  validation: string[];
  /** The test text as `eval ppl --data brown` reads it (samples joined by a blank line). */
  test: string;
  /** The validation text, likewise. */
  validationText: string;
  /** How the data is named in records. */
  name: string;
}

/** The Brown corpus splits as documents (a sample per document). */
export function brownLmData(): LmData {
  const docs = (split: 'train' | 'validation') => brownText(split).split('\n\n');
  return {
    train: docs('train'),
    validation: docs('validation'),
    test: brownText('test'),
    validationText: brownText('validation'),
    name: 'Brown corpus (train 400 / validation 50 / test 50 samples)',
  };
}

const EOT = '<|endoftext|>';

/** Token stream of documents: each document's ids followed by the end-of-text id. */
export function tokenStream(tok: Tokenizer, docs: readonly string[], eot: number): Uint16Array {
  const parts = docs.map((d) => tok.encode(d, { addSpecialTokens: false }));
  const out = new Uint16Array(parts.reduce((s, p) => s + p.length + 1, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
    out[at++] = eot;
  }
  return out;
}

function writeText(path: string, s: string): void {
  writeFileAtomic(path, (fd) => writeAll(fd, new TextEncoder().encode(s)));
}

/** Train the tokenizer once (kept in the work folder, keyed by its settings, so a resumed build reuses it). */
function buildTokenizer(work: string, hyper: LmHyper, data: LmData, log: (l: string) => void): string {
  const { vocabSize, minFrequency } = hyper.tokenizer;
  const file = join(work, `tokenizer-${vocabSize}-min${minFrequency}.json`);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const t0 = performance.now();
  log(
    `training a ${hyper.tokenizer.vocabSize}-entry byte-level BPE on ${data.train.length} training documents`,
  );
  const trained = trainBpe(data.train, {
    vocabSize: hyper.tokenizer.vocabSize,
    minFrequency: hyper.tokenizer.minFrequency,
    specialTokens: [EOT],
    onProgress: (done, total) => {
      if (done % 1000 === 0)
        log(`  bpe ${done}/${total} merges (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    },
  });
  const json = `${JSON.stringify(trained.json)}\n`;
  writeText(file, json);
  return json;
}

/** Train an LM by `hyper` and write `<root>/<name>` (see the file header). */
export async function buildLm(
  name: string,
  description: string,
  hyper: LmHyper,
  o: BuildOptions,
  data: LmData = brownLmData(),
): Promise<BuildResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (hyper.config.vocab_size !== hyper.tokenizer.vocabSize)
    throw new RangeError(
      `${name}: config vocab_size ${hyper.config.vocab_size} ≠ tokenizer vocabSize ${hyper.tokenizer.vocabSize}`,
    );
  const workDir = zooWorkDir(o.root, name);
  const work = prepareWork(workDir, name, hyper as unknown as Record<string, unknown>, o);
  const tokJson = buildTokenizer(workDir, hyper, data, log);
  const tok = tokenizerFromJson(tokJson, undefined, { eosTokenId: 0, bosTokenId: 0 });
  const eot = 0;
  const t0tok = performance.now();
  const trainIds = tokenStream(tok, data.train, eot);
  const valIds = tokenStream(tok, data.validation, eot);
  log(
    `${name}: ${trainIds.length} training tokens, ${valIds.length} validation tokens (${((performance.now() - t0tok) / 1000).toFixed(1)} s to tokenize)`,
  );
  const { batchSize: B, seqLen: T } = hyper;
  if (trainIds.length <= T)
    throw new RangeError(`${name}: ${trainIds.length} training tokens do not fill one ${T}-token window`);
  const lm = TrainableLM.init(hyper.config, hyper.seed);
  const params = Object.fromEntries(lm.params);
  const evalWindows = Math.min(hyper.evalWindows, Math.floor(valIds.length / T));
  const t0 = performance.now();
  const result = await train({
    params,
    optimizer: new AdamW(lm.parameters(), {
      lr: hyper.lr,
      betas: [hyper.betas[0], hyper.betas[1]],
      weightDecay: hyper.weightDecay,
    }),
    steps: hyper.steps,
    seed: hyper.seed,
    schedule: warmupCosine({
      peak: hyper.lr,
      warmup: hyper.warmupSteps,
      total: hyper.steps,
      floor: hyper.minLr,
    }),
    clipNorm: hyper.clipNorm,
    lossFn: ({ rng }) => {
      const rows = Array.from({ length: B }, () => {
        const at = rng.int(trainIds.length - T + 1);
        return trainIds.subarray(at, at + T);
      });
      return { loss: lm.lossOn(rows), items: B * T };
    },
    itemName: 'tokens',
    evalEvery: hyper.evalEvery,
    evaluate: (): Record<string, number> => {
      if (evalWindows < 1) return {};
      let sum = 0;
      noGrad(() => {
        for (let w = 0; w < evalWindows; w++)
          sum += lm.lossOn([valIds.subarray(w * T, w * T + T)]).value.data[0]!;
      });
      const valLoss = sum / evalWindows;
      return { valLoss, valPpl: Math.exp(valLoss) };
    },
    checkpoint: { path: work.checkpoint, every: hyper.checkpointEvery },
    resume: true,
    progress: o.progress,
    log,
  });
  work.addSeconds((performance.now() - t0) / 1000);
  const seconds = work.priorSeconds + (performance.now() - t0) / 1000;
  if (result.interrupted) return { complete: false, dir: '', metrics: {} };

  // Save the weights as stored, then score that folder as `sparsekit eval ppl` would.
  const staged = join(workDir, 'model');
  lm.save(staged, {
    dtype: hyper.dtype,
    overwrite: true,
    tokenizerJson: tokJson,
    generationConfig: {
      bos_token_id: 0,
      eos_token_id: 0,
      do_sample: true,
      top_k: 50,
      max_length: hyper.pplCtx,
    },
  });
  const saved = loadCausalLM(staged, { weights: 'f32' });
  const savedTok = loadTokenizer(staged, { eosTokenId: 0, bosTokenId: 0 });
  const pplOf = async (text: string, what: string) => {
    const ids = savedTok.encode(text);
    log(`${name}: perplexity on the ${what} (${ids.length} tokens, ctx ${hyper.pplCtx})`);
    return perplexity(saved, ids, { ctx: hyper.pplCtx, stride: hyper.pplCtx });
  };
  const test = await pplOf(data.test, 'test split');
  const val = await pplOf(data.validationText, 'validation split');
  const metrics = { testPerplexity: test.ppl, testTokens: test.tokens, validationPerplexity: val.ppl };
  log(`${name}: test perplexity ${test.ppl.toFixed(2)} over ${test.tokens} tokens (${hyper.dtype} weights)`);
  const curve: CurvePoint[] = [];
  let prev = 0;
  for (const e of result.evals) {
    const window = result.losses.slice(prev, e.step);
    curve.push({
      step: e.step,
      seen: e.step * B * T,
      trainLoss: window.reduce((a, b) => a + b, 0) / Math.max(1, window.length),
      metrics: e.metrics,
    });
    prev = e.step;
  }
  const record = {
    name,
    description,
    command: o.command ?? `sparsekit zoo build ${name}`,
    hyperparameters: {
      ...hyper,
      tokenizer: { ...hyper.tokenizer, specialTokens: [EOT], trainedOn: 'training split' },
      data: data.name,
      trainTokens: trainIds.length,
      tokensPerStep: B * T,
      epochs: Number(((hyper.steps * B * T) / trainIds.length).toFixed(3)),
    },
    metrics,
    metricNotes: {
      testPerplexity: `exp(mean NLL) on the test split, disjoint ${hyper.pplCtx}-token windows, ${hyper.dtype} weights as saved (= sparsekit eval ppl ${name} --data brown --ctx ${hyper.pplCtx})`,
      testTokens: 'tokens scored in the test split',
      validationPerplexity: `the same on the validation split (--data brown:validation)`,
    },
    curve,
    parameters: lm.numParameters,
    steps: hyper.steps,
    seconds,
    rate: (hyper.steps * B * T) / Math.max(seconds, 1e-9),
    itemName: 'tokens',
    environment: buildEnvironment(o.threads),
    date: new Date().toISOString(),
  };
  const dir = join(o.root, name);
  const files = recordFiles(record);
  writeDirAtomic(
    dir,
    (tmp) => {
      for (const f of readdirSync(staged)) cpSync(join(staged, f), join(tmp, f));
      for (const [f, body] of Object.entries(files)) writeText(join(tmp, f), body);
    },
    { overwrite: true },
  );
  writeZooChecksums(o.root);
  return { complete: true, dir, metrics };
}

/** The shared shape: 8 layers of width 256, 4 heads of 64, 256 positions, 8,192-token vocabulary, tied head. */
const WIDTH = 256;
const LAYERS = 8;
const VOCAB = 8192;
const CTX = 256;

const LM_TRAINING = {
  tokenizer: { vocabSize: VOCAB, minFrequency: 2 },
  seed: 1,
  batchSize: 8,
  seqLen: CTX,
  steps: 800,
  lr: 1e-3,
  minLr: 1e-4,
  warmupSteps: 50,
  weightDecay: 0.1,
  betas: [0.9, 0.95] as const,
  clipNorm: 1,
  evalEvery: 50,
  evalWindows: 24,
  checkpointEvery: 10,
  dtype: 'f16' as const,
  pplCtx: CTX,
};

/** brown-gpt2: GPT-2 (learned positions, LayerNorm, GELU MLP of 4× width), 8.5M parameters. */
export const BROWN_GPT2_HYPER: LmHyper = {
  config: {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: VOCAB,
    n_embd: WIDTH,
    n_layer: LAYERS,
    n_head: 4,
    n_positions: CTX,
    n_ctx: CTX,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    tie_word_embeddings: true,
    bos_token_id: 0,
    eos_token_id: 0,
  },
  ...LM_TRAINING,
};

/** brown-llama: Llama (RoPE θ 10,000, GQA 4 query / 2 KV heads, SwiGLU of 3× width, RMSNorm), 8.4M parameters. */
export const BROWN_LLAMA_HYPER: LmHyper = {
  config: {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: VOCAB,
    hidden_size: WIDTH,
    intermediate_size: 768,
    num_hidden_layers: LAYERS,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 64,
    max_position_embeddings: CTX,
    rope_theta: 10000,
    rms_norm_eps: 1e-5,
    hidden_act: 'silu',
    initializer_range: 0.02,
    tie_word_embeddings: true,
    bos_token_id: 0,
    eos_token_id: 0,
  },
  ...LM_TRAINING,
};

const lmRecipe = makeRecipe<LmHyper>('lm', buildLm);

export const BROWN_GPT2 = lmRecipe(
  'brown-gpt2',
  'GPT-2-architecture language model (8 layers, width 256, 8.5M parameters) trained on the Brown corpus training split.',
  BROWN_GPT2_HYPER,
);

export const BROWN_LLAMA = lmRecipe(
  'brown-llama',
  'Llama-architecture language model (RoPE, GQA 4/2, SwiGLU; 8 layers, width 256, 8.4M parameters) trained on the Brown corpus training split.',
  BROWN_LLAMA_HYPER,
);
