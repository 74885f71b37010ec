/**
 * The training loop: learning-rate schedule, gradient accumulation and clipping, progress (loss, items/s,
 * ETA), periodic evaluation, atomic checkpoints, resume with bit-identical results, and Ctrl-C that saves a
 * checkpoint and returns cleanly.
 */

import { existsSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { SparseWeight } from '../autograd/linear.js';
import { Rng } from '../autograd/rng.js';
import { backward, clearTape, type Var } from '../autograd/tape.js';
import { loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import type { Optimizer } from './optim.js';
import { clipGradNorm } from './schedule.js';

/** What the loss function gets for one micro-batch. */
export interface StepContext {
  /** Optimizer step, from 0. */
  step: number;
  /** Micro-batch within the step, from 0. */
  micro: number;
  /** The run's seeded generator (checkpointed): draw batches and dropout masks from it. */
  rng: Rng;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** Parameters by name: checkpoint tensor names. */
  params: Readonly<Record<string, Var>>;
  optimizer: Optimizer;
  /** Total optimizer steps of the run (a resumed run continues up to this). */
  steps: number;
  /** One micro-batch's loss (a one-element Var) and how many items (tokens or samples) it covered. */
  lossFn: (ctx: StepContext) => { loss: Var; items: number };
  /** Micro-batches per optimizer step (gradient accumulation; each backward is scaled by 1/accumulate). */
  accumulate?: number;
  /** Learning rate at step s (default: the optimizer's lr throughout). */
  schedule?: (step: number) => number;
  /** Clip the global gradient norm to this before each step. */
  clipNorm?: number;
  /** Seed of the run's generator (default 0). */
  seed?: number;
  /** Call `evaluate` after every `evalEvery` steps (and at the end). */
  evalEvery?: number;
  evaluate?: (step: number) => Record<string, number>;
  /** Checkpoint file, written after every `every` steps, at the end and on Ctrl-C. */
  checkpoint?: { path: string; every?: number };
  /** Resume from `checkpoint.path` when it exists (default true). */
  resume?: boolean;
  /** Sparse weights whose dense gradient (RigL) is cleared with the gradients. */
  sparseWeights?: readonly SparseWeight[];
  /** 'bar' (cli-progress on stderr), 'lines' (a line every `logEvery` steps) or 'none'. Default: bar on a TTY. */
  progress?: 'bar' | 'lines' | 'none';
  logEvery?: number;
  /** Where lines go (default stderr). */
  log?: (line: string) => void;
  /** 'tokens' or 'samples', for the rate (default 'items'). */
  itemName?: string;
  /** Save and stop on SIGINT (default true). */
  handleSigint?: boolean;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** Optimizer steps done in total (including those before a resume). */
  step: number;
  /** Mean loss of every step from step 0 (restored from the checkpoint on resume). */
  losses: number[];
  /** Evaluation results, by step. */
  evals: Array<{ step: number; metrics: Record<string, number> }>;
  /** True when Ctrl-C stopped the run (after saving the checkpoint). */
  interrupted: boolean;
  /** Step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

function checkOptions(o: TrainOptions): void {
  if (!Number.isInteger(o.steps) || o.steps < 0)
    throw new RangeError(`train: steps must be an integer ≥ 0, got ${o.steps}`);
  const acc = o.accumulate ?? 1;
  if (!Number.isInteger(acc) || acc < 1)
    throw new RangeError(`train: accumulate must be an integer ≥ 1, got ${acc}`);
  if (o.evalEvery !== undefined && !(Number.isInteger(o.evalEvery) && o.evalEvery >= 1)) {
    throw new RangeError(`train: evalEvery must be an integer ≥ 1, got ${o.evalEvery}`);
  }
  const every = o.checkpoint?.every;
  if (every !== undefined && !(Number.isInteger(every) && every >= 1)) {
    throw new RangeError(`train: checkpoint.every must be an integer ≥ 1, got ${every}`);
  }
}

/**
 * Run `steps` optimizer steps (from the checkpoint's step when resuming). Each step: lr from the schedule,
 * `accumulate` micro-batches of lossFn + backward, optional clipping, optimizer step. Async only so Ctrl-C
 * can arrive between steps.
 *
 * ```ts
 * const res = await train({ params, optimizer: new AdamW(Object.values(params)), steps: 100,
 *   lossFn: ({ rng }) => ({ loss: crossEntropy(model(batch(rng)), targets), items: 256 }) });
 * ```
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  checkOptions(options);
  const { params, optimizer, steps, lossFn, schedule, clipNorm, evaluate, checkpoint } = options;
  const accumulate = options.accumulate ?? 1;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const itemName = options.itemName ?? 'items';
  const rng = new Rng(options.seed ?? 0);
  const state: TrainState = { params, optimizer, rng };
  const result: TrainResult = { step: 0, losses: [], evals: [], interrupted: false, resumedFrom: 0 };
  if (checkpoint && (options.resume ?? true) && existsSync(checkpoint.path)) {
    const info = loadCheckpoint(checkpoint.path, state);
    const extra = info.extra as { losses?: number[]; evals?: TrainResult['evals'] } | null;
    result.step = result.resumedFrom = info.step;
    result.losses = extra?.losses ?? [];
    result.evals = extra?.evals ?? [];
    log(`resumed from ${checkpoint.path} at step ${info.step}`);
  }
  const save = () => {
    if (!checkpoint) return;
    saveCheckpoint(checkpoint.path, state, {
      step: result.step,
      rngState: rng.state,
      extra: { losses: result.losses, evals: result.evals },
    });
  };
  let interrupt = false;
  const onSigint = () => {
    if (interrupt) process.exit(130); // a second Ctrl-C does not wait
    interrupt = true;
    log(
      `interrupt: stopping after step ${result.step + 1}${checkpoint ? ` and saving ${checkpoint.path}` : ''}`,
    );
  };
  if (options.handleSigint ?? true) process.on('SIGINT', onSigint);
  const mode = options.progress ?? (process.stderr.isTTY ? 'bar' : 'lines');
  const logEvery = options.logEvery ?? Math.max(1, Math.floor(steps / 20));
  const bar =
    mode === 'bar'
      ? new cliProgress.SingleBar(
          {
            format: 'train [{bar}] {value}/{total} | loss {loss} | {rate} {unit}/s | ETA {eta_formatted}',
            stream: process.stderr,
            barsize: 24,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  bar?.start(steps, result.step, { loss: '?', rate: '?', unit: itemName });
  const t0 = performance.now();
  let items = 0;
  const firstStep = result.step;
  try {
    while (result.step < steps) {
      const s = result.step;
      if (schedule) optimizer.lr = schedule(s);
      optimizer.zeroGrad();
      for (const w of options.sparseWeights ?? []) w.denseGradient = null;
      let loss = 0;
      for (let micro = 0; micro < accumulate; micro++) {
        const out = lossFn({ step: s, micro, rng });
        loss += out.loss.value.data[0]! / accumulate;
        items += out.items;
        backward(out.loss, 1 / accumulate);
      }
      if (clipNorm !== undefined) clipGradNorm(optimizer.params, clipNorm);
      optimizer.step();
      result.losses.push(loss);
      result.step = s + 1;
      const done = result.step - firstStep;
      const secs = (performance.now() - t0) / 1000;
      const rate = items / secs;
      const eta = (secs / done) * (steps - result.step);
      if (
        evaluate &&
        ((options.evalEvery && result.step % options.evalEvery === 0) || result.step === steps)
      ) {
        const metrics = evaluate(result.step);
        result.evals.push({ step: result.step, metrics });
        const text = Object.entries(metrics)
          .map(([k, v]) => `${k} ${v.toPrecision(5)}`)
          .join(' ');
        if (bar) bar.stop();
        log(`eval step ${result.step}: ${text}`);
        bar?.start(steps, result.step, { loss: loss.toFixed(4), rate: rate.toFixed(0), unit: itemName });
      }
      if (bar) bar.update(result.step, { loss: loss.toFixed(4), rate: rate.toFixed(0), unit: itemName });
      else if (mode === 'lines' && (result.step % logEvery === 0 || result.step === steps)) {
        log(
          `step ${result.step}/${steps} loss ${loss.toFixed(4)} lr ${optimizer.lr.toExponential(2)} ` +
            `${rate.toFixed(0)} ${itemName}/s ETA ${duration(eta)}`,
        );
      }
      const every = checkpoint?.every;
      if (interrupt) {
        save();
        result.interrupted = true;
        break;
      }
      if (every && result.step % every === 0 && result.step < steps) save();
      await new Promise((r) => setImmediate(r)); // let signals in
    }
    if (!result.interrupted && result.step > firstStep) save();
  } finally {
    bar?.stop();
    clearTape();
    if (options.handleSigint ?? true) process.off('SIGINT', onSigint);
  }
  return result;
}
