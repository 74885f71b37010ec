/**
 * The prune benchmark: a random model with SmolLM-135M's shapes, pruned to 70% unstructured and to 2:4
 * (magnitude: the pruning method does not change the speed, only which weights are zero), saved as compact
 * sparse checkpoints and loaded back from them; decode and prefill tokens/s against the dense model in the
 * same run, on 1 and 2 threads, with the targets. Also the time SparseGPT takes to prune a small model.
 */

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { release, runtime } from '../src/backend/index.js';
import { openCausalModel } from '../src/cli/common.js';
import { loadText } from '../src/data/text.js';
import { formatOf, type Weight, weightNbytes } from '../src/formats/index.js';
import { loadCausalLM } from '../src/models/index.js';
import { PhaseTimer } from '../src/models/profile.js';
import { saveSparseCheckpoint } from '../src/models/sparse-checkpoint.js';
import { writeTinyModel } from '../src/models/testing.js';
import type { CausalLM } from '../src/models/types.js';
import { calibrationFromText } from '../src/prune/calibration.js';
import { type PruneOptions, type PruneReport, pruneModel } from '../src/prune/driver.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { zooLanguageModels } from '../src/zoo/zoo.js';
import { cpuSnapshot } from './cpu-share.js';
import { type BenchLlamaConfig, type LlamaShape, SMOLLM_135M, type StepSplit, splitOf } from './models.js';
import { progress } from './progress.js';
import type { SuiteResult } from './results.js';
import { resultHeader, type SuiteOptions } from './suite.js';
import { Interrupted, median } from './timing.js';
import { lastLevelCache } from './weights.js';

/** The models compared: dense in f32 (the baseline) and bf16 (for reference), and two pruned ones. */
export const PRUNE_VARIANTS = ['dense f32', 'dense bf16', 'magnitude 70%', 'magnitude 2:4'] as const;
export type PruneVariant = (typeof PRUNE_VARIANTS)[number];

/** The decode targets (× dense f32, context 128, every thread count). */
export const PRUNE_TARGETS: Partial<Record<PruneVariant, number>> = {
  'magnitude 70%': 1.6,
  'magnitude 2:4': 1.2,
};

/** Decode context, prefill length, timed steps, and the SparseGPT timing model and calibration. */
export interface PruneGrid {
  context: number;
  prefill: number;
  decodeSteps: number;
  prefillReps: number;
  sparsegpt: { shape: Partial<BenchLlamaConfig>; calibCount: number; calibLength: number };
}

/** A small Llama for the SparseGPT timing (until the zoo's brown-llama exists). */
const SGPT_SHAPE: Partial<BenchLlamaConfig> = {
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 64,
  vocab_size: 4096,
  max_position_embeddings: 512,
  tie_word_embeddings: false,
};

export const PRUNE_FULL: PruneGrid = {
  context: 128,
  prefill: 512,
  decodeSteps: 16,
  prefillReps: 2,
  sparsegpt: { shape: SGPT_SHAPE, calibCount: 128, calibLength: 512 },
};
export const PRUNE_QUICK: PruneGrid = {
  context: 128,
  prefill: 128,
  decodeSteps: 4,
  prefillReps: 1,
  sparsegpt: { shape: SGPT_SHAPE, calibCount: 8, calibLength: 128 },
};

/** One measured row. */
export interface PruneRow {
  /** Which model: RANDOM_MODEL or a zoo model's name. */
  model?: string;
  variant: PruneVariant;
  threads: number;
  phase: 'decode' | 'prefill';
  /** decode: positions in the cache when the timed steps end; prefill: the prompt length. */
  context: number;
  /** ms per decode step, or per whole prompt. */
  ms: number[];
  tokensPerSecond: number;
  /** tokensPerSecond ÷ dense f32's on the same phase and threads. */
  vsDense: number;
  /** The threshold on vsDense (decode of the pruned models only). */
  target?: number;
  /** decode: where the step's time goes, from profiled steps alternating with the timed ones. */
  split?: StepSplit;
}

/** How one variant's linear weights are stored once loaded. */
export interface VariantInfo {
  model?: string;
  variant: PruneVariant;
  /** Loaded from: the plain folder or the compact checkpoint. */
  source: 'plain' | 'compact';
  /** Linear layers per in-memory format. */
  formats: Record<string, number>;
  /** Bytes of every linear weight (LM head included) as stored in memory. */
  weightBytes: number;
  /** Counted sparsity of the block linears (0 for dense). */
  sparsity: number;
  /** Largest |logit difference| between the compact-loaded model and the pruned model it was saved from. */
  maxLogitDiff?: number;
}

/** What the prune suite adds to a SuiteResult. */
export interface PruneRun {
  shape: LlamaShape;
  grid: PruneGrid;
  variants: VariantInfo[];
  rows: PruneRow[];
  /** SparseGPT (unstructured 50%): wall time of pruneModel on brown-llama (or, unbuilt, a small random Llama). */
  sparsegpt: {
    model?: string;
    shape: LlamaShape;
    calibCount: number;
    calibLength: number;
    seconds: number;
    threads: number;
  };
  /** The zoo models timed beside the random one (their decode context and prefill length). */
  zoo?: Array<{ name: string; parameters: number; context: number; prefill: number }>;
}

/** The name of the random model with SmolLM-135M's shapes in rows and variants. */
export const RANDOM_MODEL = 'SmolLM-135M shapes';

/** Options of `sparsekit bench prune`. */
export interface PruneSuiteOptions extends SuiteOptions {
  /** Override the timed model's shape (tests use a tiny one). */
  shape?: Partial<BenchLlamaConfig>;
  /** Override the SparseGPT timing (tests use a tiny one). */
  sparsegpt?: Partial<PruneGrid['sparsegpt']>;
  /** Zoo model folders to time too (default: every built zoo language model; SparseGPT is timed on brown-llama). */
  zoo?: string[];
}

function promptIds(n: number, vocab: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + offset * 104729 + 13) % vocab);
}

function describe(
  variant: PruneVariant,
  source: VariantInfo['source'],
  lm: CausalLM,
  sparsity: number,
): VariantInfo {
  const formats: Record<string, number> = {};
  let bytes = 0;
  for (const l of lm.linears().values()) {
    const f = formatOf(l.weight as Weight);
    formats[f] = (formats[f] ?? 0) + 1;
    bytes += weightNbytes(l.weight as Weight);
  }
  return { variant, source, formats, weightBytes: bytes, sparsity };
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

/**
 * Decode and prefill rows of one model's variants at every thread count, appended to run.rows. Every variant is
 * loaded first and the timed steps are interleaved (a decode step of each variant in turn, then the next step;
 * the same for prefill), so a change in the machine's speed during the run (this VM's speed drifts by tens of
 * percent over minutes) falls on all variants alike instead of on whichever ran then.
 */
async function timeVariants(
  model: string,
  src: string,
  work: string,
  vocab: number,
  grid: Pick<PruneGrid, 'context' | 'prefill' | 'decodeSteps' | 'prefillReps'>,
  variants: readonly PruneVariant[],
  threads: readonly number[],
  run: PruneRun,
  sink: ReturnType<typeof progress>,
  stop: () => void,
): Promise<void> {
  const rt = runtime();
  const lms: CausalLM[] = [];
  try {
    for (const variant of variants) {
      stop();
      const dir = join(work, variant.replace(/[^\w]+/g, '-'));
      lms.push(await loadVariant(model, variant, src, dir, run, vocab));
      sink.advance(1, `${model} ${variant}: load`, '');
    }
    const rows = variants.map(() => [] as PruneRow[]);
    for (const t of threads) {
      rt.setThreads(t);
      const caches = lms.map((lm) => {
        lm.forward(promptIds(8, vocab), undefined, { lastOnly: true }); // uploads the weights
        const cache = lm.newCache();
        lm.forward(promptIds(grid.context - 2 * grid.decodeSteps, vocab), cache, { lastOnly: true });
        return cache;
      });
      // each timed step is followed by a profiled one of the same variant (the split of its step; not timed)
      const timers = lms.map((lm) => new PhaseTimer(lm));
      for (let s = 0; s < grid.decodeSteps; s++) {
        lms.forEach((lm, v) => {
          stop();
          timers[v]!.plain(() => lm.forward([(s * 31 + 7) % vocab], caches[v], { lastOnly: true }));
          timers[v]!.profiled(() => lm.forward([(s * 29 + 5) % vocab], caches[v], { lastOnly: true }));
        });
      }
      const decodeMs = timers.map((timer) => [...timer.plainMs]);
      const prefillMs = variants.map(() => [] as number[]);
      for (let r = 0; r < grid.prefillReps; r++) {
        const ids = promptIds(grid.prefill, vocab, r + 1);
        lms.forEach((lm, v) => {
          stop();
          const t0 = performance.now();
          lm.forward(ids, lm.newCache(), { lastOnly: true });
          prefillMs[v]!.push(performance.now() - t0);
        });
      }
      const denseAt = variants.indexOf('dense f32');
      const denseDecode = 1000 / median(decodeMs[denseAt]!);
      const densePrefill = (grid.prefill * 1000) / median(prefillMs[denseAt]!);
      variants.forEach((variant, v) => {
        const decode = 1000 / median(decodeMs[v]!);
        const prefill = (grid.prefill * 1000) / median(prefillMs[v]!);
        const target = model === RANDOM_MODEL ? PRUNE_TARGETS[variant] : undefined;
        rows[v]!.push(
          {
            model,
            variant,
            threads: t,
            phase: 'decode',
            context: grid.context,
            ms: decodeMs[v]!,
            tokensPerSecond: decode,
            vsDense: decode / denseDecode,
            ...(target ? { target } : {}),
            split: splitOf(timers[v]!.result('decode', grid.context, t, grid.decodeSteps, 0, 0)),
          },
          {
            model,
            variant,
            threads: t,
            phase: 'prefill',
            context: grid.prefill,
            ms: prefillMs[v]!,
            tokensPerSecond: prefill,
            vsDense: prefill / densePrefill,
          },
        );
        sink.advance(1, `${model} ${variant} decode t${t}`, `${decode.toFixed(1)} tok/s`);
        sink.advance(1, `${model} ${variant} prefill t${t}`, `${prefill.toFixed(1)} tok/s`);
      });
    }
    for (const r of rows) run.rows.push(...r); // variant by variant, as the tables read
  } finally {
    for (const lm of lms) for (const l of lm.linears().values()) release(l.weight); // free its kernel memory
  }
}

/**
 * Run the prune suite: write the random model once (bf16 in a temp folder), prune and save each pruned variant
 * as a compact checkpoint, load each variant, time decode and prefill at every thread count; the same for each
 * built zoo language model; then time SparseGPT on brown-llama. Throws Interrupted if asked to stop.
 */
export async function runPruneSuite(opts: PruneSuiteOptions): Promise<SuiteResult> {
  const threads = opts.threads ?? (opts.quick ? [1] : [1, 2]);
  const grid: PruneGrid = { ...(opts.quick ? PRUNE_QUICK : PRUNE_FULL) };
  grid.sparsegpt = { ...grid.sparsegpt, ...opts.sparsegpt };
  if (opts.reps) grid.decodeSteps = Math.max(grid.decodeSteps, opts.reps);
  const config: BenchLlamaConfig = { ...SMOLLM_135M, ...opts.shape };
  config.max_position_embeddings = Math.max(config.max_position_embeddings, grid.context, grid.prefill);
  const variants = PRUNE_VARIANTS.filter((v) => v === 'dense f32' || !opts.only || v.includes(opts.only));
  const zoo = (opts.zoo ?? zooLanguageModels()).map((dir) => ({
    dir,
    name: basename(dir),
    config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number>,
  }));
  const stop = () => {
    if (opts.shouldStop?.()) throw new Interrupted();
  };
  const started = performance.now();
  const cpuAtStart = cpuSnapshot();
  const rt = runtime();
  const sink = progress(
    (1 + zoo.length) * variants.length * (1 + 2 * threads.length) + 1,
    opts.quick ? 'prune --quick' : 'prune',
    opts.quiet ?? false,
  );
  const dir = mkdtempSync(join(tmpdir(), 'sparsekit-bench-prune-'));
  const run: PruneRun = {
    shape: config,
    grid,
    variants: [],
    rows: [],
    sparsegpt: { shape: config, calibCount: 0, calibLength: 0, seconds: 0, threads: threads[0]! },
    zoo: [],
  };
  const src = join(dir, 'dense');
  try {
    sink.note(`writing a random bf16 model with SmolLM-135M's shapes to ${dir}`);
    writeTinyModel(src, 'llama', { dtype: 'BF16', config: { ...config }, seed: 5 });
    await timeVariants(RANDOM_MODEL, src, dir, config.vocab_size, grid, variants, threads, run, sink, stop);
    for (const z of zoo) {
      const positions = z.config.max_position_embeddings ?? z.config.n_positions ?? grid.prefill;
      const zgrid = {
        ...grid,
        context: Math.min(grid.context, positions),
        prefill: Math.min(grid.prefill, positions),
      };
      const work = join(dir, z.name);
      mkdirSync(work);
      const lm = loadCausalLM(z.dir);
      let parameters = 0;
      for (const l of lm.linears().values()) parameters += (l.weight as Tensor).size;
      run.zoo!.push({ name: z.name, parameters, context: zgrid.context, prefill: zgrid.prefill });
      await timeVariants(
        z.name,
        z.dir,
        work,
        z.config.vocab_size!,
        zgrid,
        variants,
        threads,
        run,
        sink,
        stop,
      );
    }
    stop();
    rt.setThreads(threads[0]!);
    const llama = zoo.find((z) => z.name === 'brown-llama');
    run.sparsegpt = llama
      ? await timeZooSparseGpt(llama.dir, grid.sparsegpt, threads[0]!, opts.shouldStop)
      : await timeSparseGpt(join(dir, 'sgpt'), grid.sparsegpt, threads[0]!, opts.shouldStop);
    sink.advance(1, 'sparsegpt', `${run.sparsegpt.seconds.toFixed(1)} s`);
  } finally {
    sink.stop();
    rt.setThreads(threads[0]!);
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    ...resultHeader('prune', opts, {
      started,
      cpuAtStart,
      llc: lastLevelCache(),
      wasmVariant: rt.variant,
      threads,
      reps: grid.decodeSteps,
    }),
    cases: [],
    prune: run,
  };
}

/**
 * The model of one variant: dense straight from the plain folder; pruned ones pruned in memory, saved as a
 * compact checkpoint and loaded back from it (checking the logits against the in-memory pruned model).
 */
async function loadVariant(
  model: string,
  variant: PruneVariant,
  src: string,
  out: string,
  run: PruneRun,
  vocab: number,
): Promise<CausalLM> {
  if (variant === 'dense f32' || variant === 'dense bf16') {
    const lm = loadCausalLM(src, { weights: variant === 'dense f32' ? 'f32' : 'bf16' });
    run.variants.push({ model, ...describe(variant, 'plain', lm, 0) });
    return lm;
  }
  const pruned = loadCausalLM(src);
  const report = await pruneModel(pruned, {
    method: 'magnitude',
    sparsity: variant === 'magnitude 70%' ? 0.7 : '2:4',
  });
  saveSparseCheckpoint(pruned, out);
  const lm = loadCausalLM(out);
  const ids = promptIds(4, vocab, 9);
  const info = { model, ...describe(variant, 'compact', lm, report.sparsity) };
  // same f32 cache on both sides: the check is about the weights the checkpoint stores (a bf16 checkpoint
  // otherwise decodes with a bf16 cache by default, which rounds the keys and values too)
  const f32Cache = (m: CausalLM) => m.newCache({ dtype: 'f32' });
  info.maxLogitDiff = maxAbsDiff(lm.forward(ids, f32Cache(lm)), pruned.forward(ids, f32Cache(pruned)));
  run.variants.push(info);
  return lm;
}

/** pruneModel that throws Interrupted at its next calibration step or layer once `shouldStop()` is true. */
export async function interruptiblePrune(
  lm: CausalLM,
  options: Omit<PruneOptions, 'signal' | 'onProgress'>,
  shouldStop?: () => boolean,
): Promise<PruneReport> {
  const ac = new AbortController();
  return pruneModel(lm, {
    ...options,
    signal: ac.signal,
    onProgress: () => {
      if (shouldStop?.()) ac.abort();
    },
  }).catch((e: Error) => {
    if (e.name === 'AbortError') throw new Interrupted();
    throw e;
  });
}

/** Wall time (s) of SparseGPT at 50% unstructured on `lm` from `calibration`. */
async function sparseGptSeconds(
  lm: CausalLM,
  calibration: readonly (readonly number[])[],
  shouldStop?: () => boolean,
): Promise<number> {
  const t0 = performance.now();
  await interruptiblePrune(lm, { method: 'sparsegpt', sparsity: 0.5, calibration }, shouldStop);
  return (performance.now() - t0) / 1000;
}

/** Wall time of SparseGPT (50% unstructured) on a small random Llama with random calibration ids. */
async function timeSparseGpt(
  dir: string,
  spec: PruneGrid['sparsegpt'],
  threads: number,
  shouldStop?: () => boolean,
): Promise<PruneRun['sparsegpt']> {
  const config = { ...SMOLLM_135M, ...spec.shape };
  config.max_position_embeddings = Math.max(config.max_position_embeddings, spec.calibLength);
  writeTinyModel(dir, 'llama', { config: { ...config }, seed: 7 });
  const calibration = Array.from({ length: spec.calibCount }, (_, s) =>
    promptIds(spec.calibLength, config.vocab_size, s + 3),
  );
  const seconds = await sparseGptSeconds(loadCausalLM(dir), calibration, shouldStop);
  return { shape: config, calibCount: spec.calibCount, calibLength: spec.calibLength, seconds, threads };
}

/**
 * Wall time of `sparsekit prune brown-llama --method sparsegpt --sparsity 0.5`'s pruning step: the CLI's
 * calibration (Brown training split, sequences as long as the model's positions allow).
 */
async function timeZooSparseGpt(
  dir: string,
  spec: PruneGrid['sparsegpt'],
  threads: number,
  shouldStop?: () => boolean,
): Promise<PruneRun['sparsegpt']> {
  const { model, tokenizer } = openCausalModel(dir);
  const calibLength = Math.min(spec.calibLength, model.maxPositions);
  const calibration = calibrationFromText(loadText('brown:train').text, tokenizer, {
    count: spec.calibCount,
    length: calibLength,
    seed: 0,
  });
  const seconds = await sparseGptSeconds(model, calibration, shouldStop);
  const shape = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as LlamaShape;
  return { model: basename(dir), shape, calibCount: spec.calibCount, calibLength, seconds, threads };
}
