/**
 * The quality suite: test perplexity of every pruning method at every sparsity setting on the zoo's language
 * models, with the dense model, in one table (issue 5's results table). Each row prunes a fresh copy of the
 * model in memory with the CLI's defaults (128 calibration sequences of the Brown training split, as long as
 * the model's positions allow, seed 0) and scores it on the first 32768 tokens of the Brown test split (a
 * fifth of it: every row costs one perplexity run, and the same tokens for every row keep the comparisons
 * fair) with disjoint windows of the model's full context — the numbers
 * `sparsekit prune … && sparsekit eval ppl … --data brown --max-tokens 32768` prints.
 *
 * A full run takes about an hour per model on one core, so every finished row is appended to a cache
 * (`.sparsekit/quality-rows.jsonl`, keyed by the model's checksum and the row's settings) and a run that was
 * stopped picks up where it left off; the result file is still written only after a complete run.
 */

import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { release, runtime } from '../src/backend/index.js';
import { openCausalModel } from '../src/cli/common.js';
import { loadText } from '../src/data/text.js';
import { perplexity } from '../src/eval/perplexity.js';
import { CALIBRATION_DEFAULTS, calibrationFromText } from '../src/prune/calibration.js';
import type { PruneMethod } from '../src/prune/driver.js';
import { OWL_DEFAULTS } from '../src/sparsity/budget.js';
import { zooLanguageModels } from '../src/zoo/zoo.js';
import { cpuSnapshot } from './cpu-share.js';
import { progress } from './progress.js';
import { interruptiblePrune } from './prune.js';
import type { SuiteResult } from './results.js';
import { resultHeader, type SuiteOptions } from './suite.js';
import { Interrupted } from './timing.js';
import { lastLevelCache } from './weights.js';

/** A row of the table: how the model was pruned. */
export interface QualityMethod {
  label: string;
  method: PruneMethod;
  budget: 'uniform' | 'owl';
  /** OWL budgets are defined for unstructured sparsity only: such methods skip the N:M settings. */
  unstructuredOnly?: boolean;
  /**
   * Bumped when the method's code changes the masks it picks, so cached rows of the old code run again
   * (default 1).
   */
  revision?: number;
}

/** The methods of issue 5, as the CLI runs them (DSnoT refines a Wanda mask; OWL shares out Wanda's and SparseGPT's budget). */
export const QUALITY_METHODS: readonly QualityMethod[] = [
  { label: 'magnitude', method: 'magnitude', budget: 'uniform' },
  { label: 'random', method: 'random', budget: 'uniform' },
  { label: 'wanda', method: 'wanda', budget: 'uniform' },
  // revision 2: a row stops when a candidate list has no weight of the helpful sign left (commit 3e11b5c)
  { label: 'wanda + DSnoT', method: 'dsnot', budget: 'uniform', revision: 2 },
  { label: 'wanda + OWL', method: 'wanda', budget: 'owl', unstructuredOnly: true },
  { label: 'sparsegpt', method: 'sparsegpt', budget: 'uniform' },
  { label: 'sparsegpt + OWL', method: 'sparsegpt', budget: 'owl', unstructuredOnly: true },
];

/** The columns: unstructured fractions and N:M patterns. */
export const QUALITY_SETTINGS = ['0.5', '0.6', '0.7', '0.8', '2:4', '4:8'] as const;

/** Calibration and evaluation sizes (the full run uses the CLI defaults and the whole test split). */
export interface QualityGrid {
  settings: readonly string[];
  calibCount: number;
  /** Tokens per calibration sequence, capped at the model's positions. */
  calibLength: number;
  /** Score only the first n tokens of the test split (full run: all of them). */
  maxTokens?: number;
}

export const QUALITY_FULL: QualityGrid = {
  settings: QUALITY_SETTINGS,
  calibCount: CALIBRATION_DEFAULTS.count,
  calibLength: CALIBRATION_DEFAULTS.length,
  maxTokens: 32768,
};
export const QUALITY_QUICK: QualityGrid = {
  settings: ['0.5', '2:4'],
  calibCount: 8,
  calibLength: 128,
  maxTokens: 4096,
};

/** One scored model. */
export interface QualityRow {
  model: string;
  /** 'dense' for the unpruned model. */
  method: string;
  /** '0' for dense, else a QUALITY_SETTINGS entry. */
  setting: string;
  ppl: number;
  nllSum: number;
  tokens: number;
  /** Counted zeros of the block linears. */
  sparsity: number;
  pruneSeconds: number;
  evalSeconds: number;
  /** Kernel threads of the run that computed the row (older cached rows: 1). */
  threads?: number;
  /** SparseGPT's Cholesky retries with more dampening (0 = as the reference). */
  dampingRetries?: number;
  /** Taken from the cache of an earlier, interrupted run. */
  cached?: boolean;
}

/** What the quality suite adds to a SuiteResult. */
export interface QualityRun {
  grid: QualityGrid;
  models: Array<{ name: string; sha256: string; ctx: number; calibLength: number; testTokens: number }>;
  rows: QualityRow[];
}

/** Options of `sparsekit bench quality`. */
export interface QualitySuiteOptions extends SuiteOptions {
  /** Model folders (default: every built zoo language model). */
  models?: string[];
  /** Override the grid (tests use a tiny one). */
  grid?: Partial<QualityGrid>;
  /** Override the methods (tests). */
  methods?: readonly QualityMethod[];
  /** The row cache (default .sparsekit/quality-rows.jsonl; null: none). */
  cache?: string | null;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The cache key of a row: the model's bytes and everything that changes its perplexity. */
function rowKey(
  sha: string,
  m: QualityMethod | null,
  setting: string,
  grid: QualityGrid,
  calibLength: number,
): string {
  const revision = m?.revision ?? 1;
  return JSON.stringify([
    sha,
    m ? m.label : 'dense',
    setting,
    grid.calibCount,
    calibLength,
    grid.maxTokens ?? null,
    ...(revision > 1 ? [revision] : []),
  ]);
}

/** Rows of earlier runs by key; lines that do not parse (a run killed mid-write) are skipped. */
function readCache(path: string | null): Map<string, QualityRow> {
  const rows = new Map<string, QualityRow>();
  if (!path || !existsSync(path)) return rows;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const { key, row } = JSON.parse(line) as { key: string; row: QualityRow };
      if (typeof key === 'string' && row && Number.isFinite(row.ppl)) rows.set(key, row);
    } catch {
      // an incomplete last line: that row runs again
    }
  }
  return rows;
}

/** Run the quality suite. Throws Interrupted if asked to stop (finished rows stay in the cache). */
export async function runQualitySuite(opts: QualitySuiteOptions): Promise<SuiteResult> {
  const grid: QualityGrid = { ...(opts.quick ? QUALITY_QUICK : QUALITY_FULL), ...opts.grid };
  const threads = opts.threads ?? [1];
  const methods = opts.methods ?? QUALITY_METHODS;
  /** `--only` keeps the rows whose "<model> <method> <setting>" contains it (the dense row always runs). */
  const wanted = (name: string, m: QualityMethod, s: string) =>
    usable(m, s) && (!opts.only || `${name} ${m.label} ${s}`.includes(opts.only));
  const dirs = opts.models ?? zooLanguageModels();
  if (!dirs.length)
    throw new Error(
      'bench quality: no zoo language model is built; run sparsekit zoo build brown-llama first',
    );
  const cachePath = opts.cache === undefined ? join('.sparsekit', 'quality-rows.jsonl') : opts.cache;
  const cache = readCache(cachePath);
  const started = performance.now();
  const cpuAtStart = cpuSnapshot();
  const rt = runtime();
  rt.setThreads(threads[0]!);
  const total = dirs.reduce(
    (n, dir) =>
      n +
      1 +
      methods.reduce((k, m) => k + grid.settings.filter((s) => wanted(basename(dir), m, s)).length, 0),
    0,
  );
  const sink = progress(total, opts.quick ? 'quality --quick' : 'quality', opts.quiet ?? false);
  const stop = () => {
    if (opts.shouldStop?.()) throw new Interrupted();
  };
  const run: QualityRun = { grid, models: [], rows: [] };
  const test = loadText('brown');
  const calibText = loadText('brown:train');
  try {
    for (const dir of dirs) {
      const name = basename(dir);
      const sha = sha256File(join(dir, 'model.safetensors'));
      const probe = openCausalModel(dir);
      const ctx = probe.model.maxPositions;
      const calibLength = Math.min(grid.calibLength, ctx);
      let ids = probe.tokenizer.encode(test.text);
      if (grid.maxTokens !== undefined) ids = ids.slice(0, grid.maxTokens);
      const calibration = calibrationFromText(calibText.text, probe.tokenizer, {
        count: grid.calibCount,
        length: calibLength,
        seed: 0,
      });
      const jobs: Array<{ m: QualityMethod | null; setting: string }> = [{ m: null, setting: '0' }];
      for (const m of methods)
        for (const s of grid.settings) if (wanted(name, m, s)) jobs.push({ m, setting: s });
      if (jobs.length === 1 && opts.only && !`${name} dense`.includes(opts.only)) continue;
      run.models.push({ name, sha256: sha, ctx, calibLength, testTokens: ids.length });
      for (const { m, setting } of jobs) {
        stop();
        const label = m ? m.label : 'dense';
        const key = rowKey(sha, m, setting, grid, calibLength);
        const hit = cache.get(key);
        if (hit) {
          run.rows.push({ ...hit, model: name, cached: true });
          sink.advance(1, `${name} ${label} ${setting}`, `ppl ${hit.ppl.toFixed(2)} (cached)`);
          continue;
        }
        const { model } = openCausalModel(dir);
        let pruneSeconds = 0;
        let sparsity = 0;
        let dampingRetries: number | undefined;
        if (m) {
          const t0 = performance.now();
          const report = await interruptiblePrune(
            model,
            {
              method: m.method,
              sparsity: setting,
              budget: m.budget === 'owl' ? { kind: 'owl', ...OWL_DEFAULTS } : { kind: 'uniform' },
              ...(needsCalibration(m) ? { calibration } : {}),
              seed: 0,
            },
            opts.shouldStop,
          );
          pruneSeconds = (performance.now() - t0) / 1000;
          sparsity = report.sparsity;
          if (m.method === 'sparsegpt') dampingRetries = report.dampingRetries;
        }
        const r = await perplexity(model, ids, { ctx, stride: ctx, shouldStop: opts.shouldStop });
        for (const l of model.linears().values()) release(l.weight);
        if (!r.complete) throw new Interrupted();
        const row: QualityRow = {
          model: name,
          method: label,
          setting,
          ppl: r.ppl,
          nllSum: r.nllSum,
          tokens: r.tokens,
          sparsity,
          pruneSeconds,
          evalSeconds: r.seconds,
          threads: threads[0]!,
          ...(dampingRetries === undefined ? {} : { dampingRetries }),
        };
        run.rows.push(row);
        if (cachePath) {
          mkdirSync(dirname(cachePath), { recursive: true });
          appendFileSync(cachePath, `${JSON.stringify({ key, row })}\n`);
        }
        sink.advance(
          1,
          `${name} ${label} ${setting}`,
          `ppl ${r.ppl.toFixed(2)} (prune ${pruneSeconds.toFixed(0)} s, eval ${r.seconds.toFixed(0)} s)`,
        );
      }
    }
  } finally {
    sink.stop();
  }
  return {
    ...resultHeader('quality', opts, {
      started,
      cpuAtStart,
      llc: lastLevelCache(),
      wasmVariant: rt.variant,
      threads,
      reps: 1,
    }),
    cases: [],
    quality: run,
  };
}

function usable(m: QualityMethod, setting: string): boolean {
  return !(m.unstructuredOnly && setting.includes(':'));
}

function needsCalibration(m: QualityMethod): boolean {
  return m.method === 'wanda' || m.method === 'sparsegpt' || m.method === 'dsnot' || m.budget === 'owl';
}
