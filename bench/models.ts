/**
 * The models benchmark: a random model with SmolLM-135M's shapes, weights in f32 and bf16, decode
 * tokens/s at batch 1 (two context lengths) and prefill tokens/s, on 1 and 2 threads, against two
 * bounds measured in the same run: the memory roofline (WebAssembly read bandwidth ÷ weight bytes a
 * token reads) for decode, and sparsekit's own dense GEMM rate ÷ FLOPs per token for prefill.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BandwidthProber, dramProbeBytes, multiplyAddRate, runtime } from '../src/backend/index.js';
import { loadCausalLM } from '../src/models/index.js';
import { type PhaseProfile, PhaseTimer, type StepPart } from '../src/models/profile.js';
import { writeTinyModel } from '../src/models/testing.js';
import { cpuSnapshot } from './cpu-share.js';
import { progress } from './progress.js';
import type { SuiteResult } from './results.js';
import { gemmRate, resultHeader, type SuiteOptions } from './suite.js';
import { Interrupted, median } from './timing.js';
import { lastLevelCache } from './weights.js';

/** The config.json fields the models benchmark sets. */
export interface BenchLlamaConfig {
  model_type: 'llama';
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  max_position_embeddings: number;
  rope_theta: number;
  rms_norm_eps: number;
  tie_word_embeddings: boolean;
}

/** SmolLM-135M's config.json shape fields (HuggingFaceTB/SmolLM-135M), a Llama with tied embeddings. */
export const SMOLLM_135M: Readonly<BenchLlamaConfig> = {
  model_type: 'llama',
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  head_dim: 64,
  vocab_size: 49152,
  max_position_embeddings: 2048,
  rope_theta: 10000,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
};

/** The shape fields the cost model reads. */
export type LlamaShape = Pick<
  BenchLlamaConfig,
  | 'hidden_size'
  | 'intermediate_size'
  | 'num_hidden_layers'
  | 'num_attention_heads'
  | 'num_key_value_heads'
  | 'head_dim'
  | 'vocab_size'
>;

/** Weights every token multiplies: q, k, v, o, gate, up, down per layer, plus the LM head (vocab × hidden). */
export function linearParams(s: LlamaShape): number {
  const C = s.hidden_size;
  const q = s.num_attention_heads * s.head_dim;
  const kv = s.num_key_value_heads * s.head_dim;
  const perLayer = C * q + 2 * C * kv + q * C + 3 * C * s.intermediate_size;
  return s.num_hidden_layers * perLayer + s.vocab_size * C;
}

/** KV-cache bytes one decode step reads at `context` positions (keys and values of `bytesPerValue` each: f32 4, bf16 2). */
export function kvBytesPerToken(s: LlamaShape, context: number, bytesPerValue = 4): number {
  return 2 * s.num_hidden_layers * s.num_key_value_heads * s.head_dim * context * bytesPerValue;
}

/** Bytes of one cached key or value element stored as `dtype`. */
function kvValueBytes(dtype: string): number {
  return dtype === 'f32' ? 4 : 2;
}

/** FLOPs of one token attending to `context` positions: 2 per weight, plus QKᵀ and PV (2·2·H·d per position). */
export function flopsPerToken(s: LlamaShape, context: number): number {
  const attention = 4 * s.num_hidden_layers * s.num_attention_heads * s.head_dim * context;
  return 2 * linearParams(s) + attention;
}

/** Multiply-adds of one token's attention over `context` positions: q·k and p·v, H·d each per position. */
export function attentionMultiplyAdds(s: LlamaShape, context: number): number {
  return 2 * s.num_hidden_layers * s.num_attention_heads * s.head_dim * context;
}

/** Options of `sparsekit bench models`. */
export interface ModelsSuiteOptions extends SuiteOptions {
  /** Override the model shape (tests use a tiny one). */
  shape?: Partial<BenchLlamaConfig>;
  /** Bytes the bandwidth probe streams (default: 8 × last-level cache, at least 256 MiB). */
  probeBytes?: number;
}

/** The grid: contexts decoded at, the prompt length prefilled, decode steps and prefill repetitions. */
export interface ModelsGrid {
  contexts: number[];
  prefill: number;
  decodeSteps: number;
  prefillReps: number;
}

/** The grid, and --quick's: the same shapes and contexts, fewer timed steps. */
export const MODELS_FULL: ModelsGrid = {
  contexts: [128, 2048],
  prefill: 512,
  decodeSteps: 16,
  prefillReps: 2,
};
export const MODELS_QUICK: ModelsGrid = {
  contexts: [128, 512],
  prefill: 128,
  decodeSteps: 4,
  prefillReps: 1,
};

/** Passes of each decode row's own bandwidth probes (one before its timed steps, one after). */
const ROW_PROBE_PASSES = 3;

/** Untimed decode steps before the timed ones (same final context). */
export const DECODE_WARMUP = 3;

/** Weight storages compared. */
export const MODEL_WEIGHTS = ['f32', 'bf16'] as const;
/** Decode must reach this share of the memory roofline, prefill this share of the GEMM bound (issue 3). */
export const DECODE_TARGET = 0.7;
export const PREFILL_TARGET = 0.6;

/** One measured row. */
export interface ModelRow {
  weights: (typeof MODEL_WEIGHTS)[number];
  threads: number;
  phase: 'decode' | 'prefill';
  /** decode: positions in the cache when the timed steps end; prefill: the prompt length. */
  context: number;
  /** ms per decode step, or per whole prompt. */
  ms: number[];
  tokensPerSecond: number;
  weightBytesPerToken: number;
  kvBytesPerToken: number;
  /** Storage of the KV cache the run used (the model's default: bf16 weights keep a bf16 cache). */
  kvDtype?: string;
  flopsPerToken: number;
  /** The 100% line in tokens/s: roofline (decode, weights only as the issue defines it) or GEMM bound (prefill). */
  bound: number;
  /**
   * decode: the read bandwidth (bytes/s) the roofline divides, the mean of the probe run right before and right
   * after the row's timed steps (this VM's speed drifts over a run; a probe taken minutes earlier can be off).
   * Every probe of a run streams the same buffer: fresh buffers read 28–35 GB/s on one thread within one run.
   */
  readBytesPerSecond?: number;
  /**
   * decode: f32 multiply-adds a second the runtime's threads issued in the arithmetic probe (multiplyAddRate), the
   * mean of one right before and one right after the row's timed steps: what attention's arithmetic is held to.
   */
  multiplyAddsPerSecond?: number;
  /** tokensPerSecond ÷ bound. */
  ofBound: number;
  /** The threshold as a share of the bound (0.7 decode, 0.6 prefill). */
  target: number;
  /**
   * Where the phase's time goes, from profiled runs alternating with the timed ones (src/models/profile.ts): ms per
   * step (or prefill) of each part and of the kernels that take ≥ 1% of it.
   */
  split?: StepSplit;
}

/** A row's profile, as stored in the results. */
export interface StepSplit {
  /** Mean ms of the profiled steps (or prefills) the split uses (PhaseProfile.profiledMs). */
  profiledMs: number;
  parts: Record<StepPart, number>;
  kernels: Array<{ kernel: string; callsPerStep: number; msPerStep: number }>;
  /** By kind of linear layer (when the timer had the model), every kind. */
  layers?: Array<{ layer: string; callsPerStep: number; msPerStep: number; weightBytes: number }>;
}

/** The stored part of a phase profile: the parts, the kernels that take at least 1% of the time and the layers. */
export function splitOf(p: PhaseProfile): StepSplit {
  return {
    profiledMs: p.profiledMs,
    parts: { ...p.parts },
    kernels: p.kernels
      .filter((k) => k.msPerStep >= 0.01 * p.profiledMs)
      .map((k) => ({ kernel: k.kernel, callsPerStep: k.callsPerStep, msPerStep: k.msPerStep })),
    ...(p.layers.length ? { layers: p.layers.map((l) => ({ ...l })) } : {}),
  };
}

/** What the models suite adds to a SuiteResult. */
export interface ModelsRun {
  shape: LlamaShape;
  linearParams: number;
  /** Read bandwidth (bytes/s) and dense GEMM rate (FLOP/s) per thread count, measured in this run. */
  probes: Array<{
    threads: number;
    readBytesPerSecond: number;
    probeBytes: number;
    gemmFlopsPerSecond: number;
    /** f32 multiply-adds per second of the arithmetic probe (absent in runs before it existed). */
    multiplyAddsPerSecond?: number;
  }>;
  grid: ModelsGrid;
  rows: ModelRow[];
}

/** Prompt token ids (deterministic, spread over the vocabulary). */
function promptIds(n: number, vocab: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + offset * 104729 + 13) % vocab);
}

/**
 * Run the models suite: build the random model once (bf16 checkpoint in a temp folder), load it with f32
 * and with bf16 weights, time decode and prefill at every thread count. Throws Interrupted if asked to stop.
 */
export async function runModelsSuite(opts: ModelsSuiteOptions): Promise<SuiteResult> {
  const threads = opts.threads ?? (opts.quick ? [1] : [1, 2]);
  const grid: ModelsGrid = { ...(opts.quick ? MODELS_QUICK : MODELS_FULL) };
  if (opts.reps) grid.decodeSteps = Math.max(grid.decodeSteps, opts.reps);
  const config: BenchLlamaConfig = { ...SMOLLM_135M, ...opts.shape };
  const maxContext = Math.max(...grid.contexts, grid.prefill);
  config.max_position_embeddings = Math.max(config.max_position_embeddings, maxContext);
  const shape: LlamaShape = config;
  const weights = MODEL_WEIGHTS.filter((w) => !opts.only || `${w}`.includes(opts.only));
  if (!weights.length)
    throw new RangeError(`bench models: --only "${opts.only}" matches neither f32 nor bf16`);
  const stop = () => {
    if (opts.shouldStop?.()) throw new Interrupted();
  };
  const started = performance.now();
  const cpuAtStart = cpuSnapshot();
  const llc = lastLevelCache();
  const rt = runtime();
  const units = threads.length * (1 + weights.length * (grid.contexts.length + 1));
  const sink = progress(units, opts.quick ? 'models --quick' : 'models', opts.quiet ?? false);
  const dir = mkdtempSync(join(tmpdir(), 'sparsekit-bench-models-'));
  const run: ModelsRun = { shape, linearParams: linearParams(shape), probes: [], grid, rows: [] };
  let prober: BandwidthProber | undefined;
  try {
    sink.note(`writing a random bf16 model with SmolLM-135M's shapes to ${dir}`);
    writeTinyModel(join(dir, 'model'), 'llama', { dtype: 'BF16', config: { ...config }, seed: 5 });
    // one probe buffer for the whole run: every probe streams the same memory (see ModelRow.readBytesPerSecond)
    const probeBytes = opts.probeBytes ?? dramProbeBytes();
    const buffer = new BandwidthProber(probeBytes);
    prober = buffer; // freed in finally
    for (const t of threads) {
      stop();
      rt.setThreads(t);
      const bw = buffer.measure();
      const gemm = gemmRate(1024);
      const fma = multiplyAddRate().multiplyAddsPerSecond;
      run.probes.push({
        threads: t,
        readBytesPerSecond: bw.bytesPerSecond,
        probeBytes,
        gemmFlopsPerSecond: gemm,
        multiplyAddsPerSecond: fma,
      });
      sink.advance(
        1,
        `probes t${t}`,
        `${(bw.bytesPerSecond / 1e9).toFixed(1)} GB/s, GEMM ${(gemm / 1e9).toFixed(1)} GFLOP/s, ${(fma / 1e9).toFixed(1)} G multiply-adds/s`,
      );
    }
    for (const w of weights) {
      stop();
      const lm = loadCausalLM(join(dir, 'model'), { weights: w });
      const weightBytes = linearParams(shape) * (w === 'f32' ? 4 : 2);
      for (const t of threads) {
        rt.setThreads(t);
        const probe = run.probes.find((p) => p.threads === t)!;
        lm.forward(promptIds(8, shape.vocab_size), undefined, { lastOnly: true }); // uploads the weights
        for (const ctx of grid.contexts) {
          stop();
          const cache = lm.newCache();
          lm.forward(promptIds(ctx - 2 * grid.decodeSteps - DECODE_WARMUP, shape.vocab_size), cache, {
            lastOnly: true,
          });
          // untimed decode steps first: the steps right after a prefill run the T = 1 code paths cold
          for (let s = 0; s < DECODE_WARMUP; s++) lm.forward([(s * 17 + 3) % shape.vocab_size], cache);
          // plain timed steps, each followed by a profiled one (the split of the step; not in the timing)
          const timer = new PhaseTimer();
          const before = buffer.measure(ROW_PROBE_PASSES).bytesPerSecond;
          const fmaBefore = multiplyAddRate(ROW_PROBE_PASSES).multiplyAddsPerSecond;
          for (let s = 0; s < grid.decodeSteps; s++) {
            stop();
            timer.plain(() => lm.forward([(s * 31 + 7) % shape.vocab_size], cache, { lastOnly: true }));
            timer.profiled(() => lm.forward([(s * 29 + 5) % shape.vocab_size], cache, { lastOnly: true }));
          }
          const after = buffer.measure(ROW_PROBE_PASSES).bytesPerSecond;
          const fmaAfter = multiplyAddRate(ROW_PROBE_PASSES).multiplyAddsPerSecond;
          const ms = [...timer.plainMs];
          const readBytesPerSecond = (before + after) / 2;
          const tps = 1000 / median(ms);
          const bound = readBytesPerSecond / weightBytes;
          run.rows.push({
            weights: w,
            threads: t,
            phase: 'decode',
            context: ctx,
            ms,
            tokensPerSecond: tps,
            weightBytesPerToken: weightBytes,
            kvBytesPerToken: kvBytesPerToken(shape, ctx, kvValueBytes(cache.dtype)),
            kvDtype: cache.dtype,
            flopsPerToken: flopsPerToken(shape, ctx),
            bound,
            readBytesPerSecond,
            multiplyAddsPerSecond: (fmaBefore + fmaAfter) / 2,
            ofBound: tps / bound,
            target: DECODE_TARGET,
            split: splitOf(timer.result('decode', ctx, t, grid.decodeSteps, weightBytes, 0)),
          });
          sink.advance(
            1,
            `${w} decode ctx ${ctx} t${t}`,
            `${tps.toFixed(1)} tok/s (${((100 * tps) / bound).toFixed(0)}% of roofline)`,
          );
        }
        const timer = new PhaseTimer();
        for (let r = 0; r < grid.prefillReps; r++) {
          stop();
          const ids = promptIds(grid.prefill, shape.vocab_size, r + 1);
          timer.plain(() => lm.forward(ids, lm.newCache(), { lastOnly: true }));
        }
        stop();
        // one profiled prefill after the timed ones: the split of the phase
        timer.profiled(() =>
          lm.forward(promptIds(grid.prefill, shape.vocab_size), lm.newCache(), { lastOnly: true }),
        );
        const ms = [...timer.plainMs];
        const tps = (grid.prefill * 1000) / median(ms);
        const flops = flopsPerToken(shape, grid.prefill / 2); // positions attended on average
        const bound = probe.gemmFlopsPerSecond / flops;
        run.rows.push({
          weights: w,
          threads: t,
          phase: 'prefill',
          context: grid.prefill,
          ms,
          tokensPerSecond: tps,
          weightBytesPerToken: weightBytes / grid.prefill,
          kvBytesPerToken: kvBytesPerToken(shape, grid.prefill / 2, kvValueBytes(lm.newCache().dtype)),
          kvDtype: lm.newCache().dtype,
          flopsPerToken: flops,
          bound,
          ofBound: tps / bound,
          target: PREFILL_TARGET,
          split: splitOf(timer.result('prefill', grid.prefill, t, grid.prefillReps, weightBytes, 0)),
        });
        sink.advance(
          1,
          `${w} prefill ${grid.prefill} t${t}`,
          `${tps.toFixed(1)} tok/s (${((100 * tps) / bound).toFixed(0)}% of GEMM bound)`,
        );
      }
    }
  } finally {
    sink.stop();
    prober?.free();
    rt.setThreads(threads[0]!);
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    ...resultHeader('models', opts, {
      started,
      cpuAtStart,
      llc: llc,
      wasmVariant: rt.variant,
      threads,
      reps: grid.decodeSteps,
    }),
    cases: [],
    models: run,
  };
}
