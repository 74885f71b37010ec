/**
 * The train benchmark (issue 4, "Speed"):
 * 1. forward+backward tokens/s of a model with brown-llama's shapes (TrainableLM, random init, a batch of
 *    B sequences of T tokens, loss + backward per timed call) on each thread count, and its model FLOPs
 *    utilisation: tokens/s × training FLOPs per token ÷ sparsekit's dense GEMM FLOP/s measured in the same
 *    run on the same threads (target ≥ 35%);
 * 2. a Llama MLP layer (gate, up, down; SwiGLU) in the feature-major form the models train with: backward
 *    time with dense weights against the same layer with 90%-sparse CSR weights (target ≥ 3×).
 *
 * Training FLOPs per token (PaLM's MFU convention): 6 × linear parameters (forward 2, backward 4, the tied LM
 * head included) + 6 × layers × heads × head_dim × T/2 (QKᵀ and PV forward and backward, causal: half the
 * positions on average). Elementwise, norm and softmax work is not counted.
 */

import { performance } from 'node:perf_hooks';
import { swiglu } from '../src/autograd/elementwise.js';
import { backward, clearTape, param, sum, type Var } from '../src/autograd/index.js';
import { linearT, sparseParam } from '../src/autograd/linear.js';
import { runtime } from '../src/backend/index.js';
import { toFormat } from '../src/formats/index.js';
import { randn, sparsify } from '../src/tensor/random.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { TrainableLM } from '../src/train/lm/model.js';
import { BROWN_LLAMA_HYPER } from '../src/zoo/brown-lm.js';
import { cpuSnapshot } from './cpu-share.js';
import { progress } from './progress.js';
import type { SuiteResult } from './results.js';
import { gemmRate, resultHeader, type SuiteOptions } from './suite.js';
import { Interrupted, median } from './timing.js';
import { lastLevelCache } from './weights.js';

/** The MFU threshold and the sparse-backward speed-up the issue asks for. */
export const MFU_TARGET = 0.35;
export const SPARSE_BACKWARD_TARGET = 3;

/** Options of `sparsekit bench train`. */
export interface TrainSuiteOptions extends SuiteOptions {
  /** Override config.json fields of the model (tests use a tiny one). */
  config?: Record<string, unknown>;
  /** Override the batch and the MLP layer (tests). */
  batch?: { B: number; T: number };
  mlp?: { C: number; I: number; N: number };
}

/** Batch timed, MLP layer timed, and repetitions: full and --quick. */
export const TRAIN_FULL = { B: 8, T: 256, reps: 3, mlp: { C: 256, I: 768, N: 2048 } };
export const TRAIN_QUICK = { B: 2, T: 256, reps: 2, mlp: { C: 256, I: 768, N: 512 } };

/** One thread count's forward+backward measurement. */
export interface TrainRow {
  threads: number;
  batch: number;
  seqLen: number;
  /** ms per forward+backward of the whole batch. */
  ms: number[];
  tokensPerSecond: number;
  flopsPerToken: number;
  /** Dense GEMM FLOP/s on these threads, this run. */
  gemmFlopsPerSecond: number;
  /** tokensPerSecond × flopsPerToken ÷ gemmFlopsPerSecond. */
  mfu: number;
  target: number;
}

/** One thread count's MLP-layer backward: dense against 90%-sparse CSR. */
export interface SparseBackwardRow {
  threads: number;
  /** 'up_proj': one projection [I, C]; 'SwiGLU MLP': gate, up, SwiGLU and down together (results written
   * before this field existed measured the whole MLP). */
  part: 'up_proj' | 'SwiGLU MLP';
  C: number;
  I: number;
  tokens: number;
  sparsity: number;
  denseMs: number[];
  sparseMs: number[];
  /** median dense ÷ median sparse. */
  speedup: number;
  target: number;
}

/** What the train suite adds to a SuiteResult. */
export interface TrainRun {
  config: Record<string, unknown>;
  parameters: number;
  linearParameters: number;
  rows: TrainRow[];
  sparseBackward: SparseBackwardRow[];
}

/** Training FLOPs per token of a Llama config at sequence length T (see the file header). */
export function trainFlopsPerToken(c: Record<string, number>, T: number, linearParameters: number): number {
  const attention = 6 * c.num_hidden_layers! * c.num_attention_heads! * c.head_dim! * (T / 2);
  return 6 * linearParameters + attention;
}

type Weight = Var | ReturnType<typeof sparseParam>;

/**
 * Backward time (ms) of sum(output) for a feature-major input xᵀ [C, N]: one projection (up_proj) or the
 * whole SwiGLU MLP (down · (silu(gate·x) ⊙ up·x)), the weights given as Vars or sparse weights.
 */
function mlpBackwardMs(
  part: SparseBackwardRow['part'],
  xt: Tensor,
  w: { gate: Weight; up: Weight; down: Weight },
): number {
  const x = param(xt);
  const y =
    part === 'up_proj' ? linearT(x, w.up) : linearT(swiglu(linearT(x, w.gate), linearT(x, w.up)), w.down);
  const loss = sum(y);
  const t0 = performance.now();
  backward(loss);
  return performance.now() - t0;
}

/** Run the train suite. Throws Interrupted if asked to stop. */
export async function runTrainSuite(opts: TrainSuiteOptions): Promise<SuiteResult & { train: TrainRun }> {
  const grid = opts.quick ? TRAIN_QUICK : TRAIN_FULL;
  const threads = opts.threads ?? (opts.quick ? [1] : [1, 2]);
  const reps = Math.max(opts.reps ?? grid.reps, 1);
  const { B, T } = opts.batch ?? grid;
  const mlp = opts.mlp ?? grid.mlp;
  const config = { ...BROWN_LLAMA_HYPER.config, ...opts.config } as Record<string, number>;
  const doModel = !opts.only || 'forward+backward'.includes(opts.only) || opts.only === 'model';
  const doSparse = !opts.only || 'sparse backward'.includes(opts.only) || opts.only === 'sparse';
  const stop = () => {
    if (opts.shouldStop?.()) throw new Interrupted();
  };
  const started = performance.now();
  const cpuAtStart = cpuSnapshot();
  const llc = lastLevelCache();
  const rt = runtime();
  const sink = progress(threads.length * 2, opts.quick ? 'train --quick' : 'train', opts.quiet ?? false);
  const lm = TrainableLM.init(config, 1);
  const linearParameters =
    lm.linearNames().reduce((s, n) => s + lm.params.get(n)!.size, 0) +
    (config.tie_word_embeddings ? lm.params.get('model.embed_tokens.weight')!.size : 0);
  const run: TrainRun = {
    config,
    parameters: lm.numParameters,
    linearParameters,
    rows: [],
    sparseBackward: [],
  };
  const V = config.vocab_size!;
  const batch = Array.from({ length: B }, (_, b) =>
    Array.from({ length: T }, (_, t) => (b * 7919 + t * 104729 + 13) % V),
  );
  try {
    for (const t of threads) {
      stop();
      rt.setThreads(t);
      if (doModel) {
        const gemm = gemmRate(1024);
        const ms: number[] = [];
        for (let r = 0; r <= reps; r++) {
          stop();
          const t0 = performance.now();
          backward(lm.lossOn(batch));
          const dt = performance.now() - t0;
          for (const p of lm.parameters()) p.grad = null;
          if (r > 0) ms.push(dt); // the first call uploads the weights
        }
        const tps = (B * T * 1000) / median(ms);
        const flops = trainFlopsPerToken(config, T, linearParameters);
        const mfu = (tps * flops) / gemm;
        run.rows.push({
          threads: t,
          batch: B,
          seqLen: T,
          ms,
          tokensPerSecond: tps,
          flopsPerToken: flops,
          gemmFlopsPerSecond: gemm,
          mfu,
          target: MFU_TARGET,
        });
        sink.advance(
          1,
          `fwd+bwd t${t}`,
          `${tps.toFixed(0)} tokens/s, MFU ${(100 * mfu).toFixed(1)}% of ${(gemm / 1e9).toFixed(1)} GFLOP/s`,
        );
      } else sink.advance(1, `fwd+bwd t${t}`, 'skipped (--only)');
      if (doSparse) {
        const { C, I, N } = mlp;
        const xt = randn([C, N], 3);
        const dense = { gate: randn([I, C], 4), up: randn([I, C], 5), down: randn([C, I], 6) };
        const denseW = { gate: param(dense.gate), up: param(dense.up), down: param(dense.down) };
        const sp = (w: Tensor, seed: number) =>
          sparseParam(toFormat(sparsify(w, 0.9, seed), { format: 'csr' }));
        const sparseW = { gate: sp(dense.gate, 7), up: sp(dense.up, 8), down: sp(dense.down, 9) };
        for (const part of ['up_proj', 'SwiGLU MLP'] as const) {
          const denseMs: number[] = [];
          const sparseMs: number[] = [];
          for (let r = 0; r <= reps; r++) {
            stop();
            const d = mlpBackwardMs(part, xt, denseW);
            const s = mlpBackwardMs(part, xt, sparseW);
            for (const v of [...Object.values(denseW), ...Object.values(sparseW).map((w) => w.values)])
              v.grad = null;
            if (r > 0) {
              denseMs.push(d);
              sparseMs.push(s);
            }
          }
          const speedup = median(denseMs) / median(sparseMs);
          run.sparseBackward.push({
            threads: t,
            part,
            C,
            I,
            tokens: N,
            sparsity: 0.9,
            denseMs,
            sparseMs,
            speedup,
            target: SPARSE_BACKWARD_TARGET,
          });
          sink.note(
            `${part} backward t${t}: dense ${median(denseMs).toFixed(1)} ms, 90% CSR ${median(sparseMs).toFixed(1)} ms: ${speedup.toFixed(2)}×`,
          );
        }
        sink.advance(1, `MLP backward t${t}`, 'done');
      } else sink.advance(1, `MLP backward t${t}`, 'skipped (--only)');
    }
  } finally {
    clearTape();
    sink.stop();
    rt.setThreads(threads[0]!);
  }
  return {
    ...resultHeader('train', opts, {
      started,
      cpuAtStart,
      llc: llc,
      wasmVariant: rt.variant,
      threads,
      reps: reps,
    }),
    cases: [],
    train: run,
  };
}

/** The BENCHMARKS.md section of a train suite run. */
export function trainMarkdown(r: SuiteResult & { train?: TrainRun }): string {
  const run = r.train!;
  const c = run.config;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const med = (v: number[]) => median(v).toFixed(1);
  const lines = [
    `## train: ${r.mode} run`,
    '',
    `Command: \`${r.command}\` — ${r.date.slice(0, 10)}, ${Math.round(r.durationSeconds)} s, ` +
      `other processes' CPU share ${r.machine.otherCpuShare === null ? '?' : pct(r.machine.otherCpuShare)}.`,
    '',
    `Model: brown-llama's shapes (Llama, ${c.num_hidden_layers} layers, width ${c.hidden_size}, ${c.num_attention_heads} heads / ` +
      `${c.num_key_value_heads} KV heads, SwiGLU ${c.intermediate_size}, vocabulary ${c.vocab_size}, tied head), ` +
      `${run.parameters.toLocaleString('en-US')} parameters (${run.linearParameters.toLocaleString('en-US')} in products). ` +
      'MFU = tokens/s × training FLOPs per token (6 × product parameters + causal attention) ÷ the dense GEMM rate ' +
      `measured in the same run; target ≥ ${pct(MFU_TARGET)}.`,
    '',
    '| threads | batch × tokens | ms per fwd+bwd | tokens/s | GFLOP per token | GEMM GFLOP/s | MFU | target |',
    '|---:|---:|---:|---:|---:|---:|---:|---|',
    ...run.rows.map(
      (x) =>
        `| ${x.threads} | ${x.batch} × ${x.seqLen} | ${med(x.ms)} | ${x.tokensPerSecond.toFixed(0)} | ${(x.flopsPerToken / 1e9).toFixed(3)} | ` +
        `${(x.gemmFlopsPerSecond / 1e9).toFixed(1)} | ${pct(x.mfu)} | ${x.mfu >= x.target ? 'met' : 'not met'} |`,
    ),
    '',
    `Sparse backward: a Llama MLP's up_proj [I, C] alone, and the whole MLP (gate and up [I, C], SwiGLU, down [C, I]), ` +
      'feature-major as the models train: backward of sum(output) with dense weights against 90%-sparse CSR weights ' +
      '(dX by the CSR of Wᵀ, dW by SDDMM at the kept entries). The whole MLP also runs the SwiGLU backward, ' +
      `elementwise TypeScript over I × tokens, the same for both. Target ≥ ${SPARSE_BACKWARD_TARGET}×.`,
    '',
    '| threads | part | C × I | tokens | dense ms | 90% CSR ms | speed-up | target |',
    '|---:|---|---:|---:|---:|---:|---:|---|',
    ...run.sparseBackward.map(
      (x) =>
        `| ${x.threads} | ${x.part ?? 'SwiGLU MLP'} | ${x.C} × ${x.I} | ${x.tokens} | ${med(x.denseMs)} | ${med(x.sparseMs)} | ${x.speedup.toFixed(2)}× | ` +
        `${x.speedup >= x.target ? 'met' : 'not met'} |`,
    ),
  ];
  return lines.join('\n');
}
