/**
 * `sparsekit prune <model-dir> --method … --sparsity 0.5|2:4 [--structure …] [--calib …] --out <dir>`: one-shot
 * pruning with the sequential calibration driver, written as a plain HF folder (zeros in place; structured
 * pruning writes the smaller shapes), atomically. `sparsekit inspect <model-dir>`: per-layer shape, format,
 * counted density and bytes.
 */

import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { freemem } from 'node:os';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadText } from '../data/text.js';
import { density, formatOf, type Weight, weightNbytes } from '../formats/index.js';
import { type HfFolder, openHfFolder } from '../io/hf.js';
import { loadCausalLM, loadModel } from '../models/load.js';
import type { SaveOptions } from '../models/save.js';
import type { SparseSaveReport } from '../models/sparse-checkpoint.js';
import type { CausalLM } from '../models/types.js';
import { CALIBRATION_DEFAULTS, calibrationFromText } from '../prune/calibration.js';
import {
  PRUNE_METHODS,
  type PruneMethod,
  type PruneProgress,
  type PruneReport,
  pruneModel,
} from '../prune/driver.js';
import { saveCompactPruned, savePruned } from '../prune/save.js';
import { pruneStreaming } from '../prune/stream.js';
import { STRUCTURES, type Structure } from '../prune/structured.js';
import { type Budget, OWL_DEFAULTS, parseSparsity, type SparsitySpec } from '../sparsity/budget.js';
import {
  exitCodeAction,
  intFlag,
  numberFlag,
  openCausalModel,
  reportErrors,
  resolveModelDir,
  threadsOption,
  UsageError,
  useThreads,
} from './common.js';

/** Parsed options of `sparsekit prune`. */
export interface PruneCliOptions {
  method: PruneMethod;
  sparsity: SparsitySpec;
  structure?: Structure;
  budget: 'uniform' | 'owl' | 'global';
  sparsityPerLayer?: string;
  owlLambda: number;
  owlM: number;
  calib: string;
  calibCount: number;
  calibLength?: number;
  seed: number;
  out: string;
  /** The compact sparse checkpoint's folder (default `<out>-sparse`); false with --no-sparse-out. */
  sparseOut: string | boolean;
  overwrite: boolean;
  dtype?: SaveOptions['dtype'];
  threads?: number;
  /** Read, prune and write one block at a time (pruneStreaming). */
  stream?: boolean;
}

const choice =
  <T extends string>(flag: string, values: readonly T[]) =>
  (v: string): T => {
    if (!(values as readonly string[]).includes(v))
      throw new InvalidArgumentError(`${flag} takes one of ${values.join(', ')}`);
    return v as T;
  };

/** Add `prune` and `inspect` to the program. */
export function addPruneCommands(
  program: Command,
  run: (dir: string, opts: PruneCliOptions) => Promise<number> = runPrune,
  inspect: (dir: string, opts: { json: boolean }) => Promise<number> = runInspect,
): void {
  program
    .command('prune')
    .description(
      'prune a causal LM in one shot (magnitude, random, wanda, sparsegpt, dsnot; OWL budgets; structured)',
    )
    .argument('<model-dir>', 'Hugging Face model folder (config.json, model.safetensors, tokenizer.json)')
    .addOption(new Option('--method <name>', 'pruning method').choices(PRUNE_METHODS).makeOptionMandatory())
    .requiredOption(
      '--sparsity <s>',
      'fraction in [0,1) like 0.5, or N:M zeros per group like 2:4',
      (v: string) => {
        try {
          return parseSparsity(v);
        } catch (e) {
          throw new InvalidArgumentError((e as Error).message);
        }
      },
    )
    .option(
      '--structure <kind>',
      `remove whole units (magnitude, wanda): ${STRUCTURES.join(', ')}`,
      choice('--structure', STRUCTURES),
    )
    .addOption(
      new Option('--budget <kind>', 'where sparsity goes')
        .choices(['uniform', 'owl', 'global'])
        .default('uniform'),
    )
    .option(
      '--sparsity-per-layer <json>',
      'a JSON file {"<weight name>": sparsity, …} for every block linear',
    )
    .option(
      '--owl-lambda <x>',
      'OWL λ: spread of per-block sparsity (2λ)',
      numberFlag('--owl-lambda', 0, 1, '0.08'),
      OWL_DEFAULTS.lambda,
    )
    .option(
      '--owl-m <x>',
      'OWL M: outlier = score > M × block mean',
      numberFlag('--owl-m', 0, 1e6, '5'),
      OWL_DEFAULTS.hyperM,
    )
    .option('--calib <file|brown:split>', 'calibration text', 'brown:train')
    .option(
      '--calib-count <n>',
      'calibration sequences',
      intFlag('--calib-count', 1, '128'),
      CALIBRATION_DEFAULTS.count,
    )
    .option(
      '--calib-length <n>',
      'tokens per sequence (default 512, at most the model positions)',
      intFlag('--calib-length', 1, '512'),
    )
    .option(
      '--seed <n>',
      'seed of the calibration sampler and the random method',
      intFlag('--seed', 0, '0'),
      0,
    )
    .requiredOption('--out <dir>', 'plain HF output folder, zeros in place (written atomically)')
    .option(
      '--sparse-out <dir>',
      'compact sparse checkpoint folder, each weight in its fastest format (default: <out>-sparse)',
    )
    .option('--no-sparse-out', 'write only the plain folder')
    .option('--overwrite', 'replace an existing --out folder', false)
    .option(
      '--stream',
      'read, prune and write one transformer block at a time: memory is bounded by one block of weights plus ' +
        'the calibration activations, embeddings and head (for models larger than RAM; needs about twice the ' +
        "output's size of scratch disk beside --out; not with --budget global)",
      false,
    )
    .addOption(
      new Option('--dtype <d>', 'dtype of the saved tensors (default: as read)').choices([
        'f32',
        'bf16',
        'f16',
      ]),
    )
    .addOption(threadsOption())
    .addHelpText(
      'after',
      '\nExamples:\n  sparsekit prune models/brown-llama --method wanda --sparsity 0.5 --out pruned/wanda-50\n' +
        '  sparsekit prune models/brown-gpt2 --method sparsegpt --sparsity 2:4 --calib-count 32 --out pruned/sgpt-24\n' +
        '  sparsekit prune models/brown-llama --method wanda --sparsity 0.7 --budget owl --out pruned/owl-70\n' +
        '  sparsekit prune models/big-llama --method sparsegpt --sparsity 0.5 --stream --out pruned/big-sgpt-50\n',
    )
    .action(exitCodeAction(run));
  program
    .command('inspect')
    .description('per-layer shape, format, counted density and bytes of a model')
    .argument('<model-dir>', 'Hugging Face model folder')
    .option('--json', 'one JSON object on stdout', false)
    .action(async (dir: string, opts: { json: boolean }) => {
      process.exitCode = await inspect(dir, opts);
    });
}

/** The compact checkpoint's folder: --sparse-out, else `<out>-sparse`; null with --no-sparse-out. */
function sparseOutDir(opts: PruneCliOptions): string | null {
  if (opts.sparseOut === false) return null;
  if (typeof opts.sparseOut === 'string') return opts.sparseOut;
  return `${opts.out.replace(/[\\/]+$/, '')}-sparse`;
}

/** Ctrl-C while pruning: the first press aborts at the next layer or sequence, a second exits at once. */
function abortOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort();
    process.stderr.write('\nsparsekit prune: stopping (Ctrl-C again to quit now); nothing will be written\n');
  };
  process.on('SIGINT', onSigint);
  return { signal: ac.signal, dispose: () => process.off('SIGINT', onSigint) };
}

function readPerLayer(path: string): Map<string, number> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--sparsity-per-layer ${path}: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`--sparsity-per-layer ${path} must hold an object {"<weight name>": sparsity}`);
  }
  return new Map(Object.entries(raw as Record<string, number>));
}

function progressBar(): { update: (p: PruneProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) {
    return {
      update: (p) => {
        if (p.phase !== 'prune')
          process.stderr.write(`[prune] ${p.phase} block ${p.block + 1}/${p.blocks}\n`);
      },
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: 'prune [{bar}] {value}/{total} layers | {phase} | ETA {eta_formatted}',
      stream: process.stderr,
      clearOnComplete: true,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (p) => {
      if (!started) bar.start(p.total, 0, { phase: '' });
      started = true;
      bar.update(p.done, {
        phase: p.phase === 'prune' ? p.layer : `${p.phase} block ${p.block + 1}/${p.blocks}`,
      });
    },
    stop: () => bar.stop(),
  };
}

/** Run `sparsekit prune`; returns the exit code. Every input is checked before the model is touched. */
export function runPrune(dir: string, opts: PruneCliOptions): Promise<number> {
  return reportErrors('prune', async () => {
    useThreads(opts.threads);
    const sparseOut = sparseOutDir(opts);
    for (const [flag, dir] of [
      ['--out', opts.out],
      ['--sparse-out', sparseOut],
    ] as const) {
      if (dir && existsSync(dir) && !opts.overwrite) {
        throw new UsageError(
          `${flag} ${dir} already exists; pass --overwrite to replace it or choose another folder`,
        );
      }
    }
    if (sparseOut && resolve(sparseOut) === resolve(opts.out)) {
      throw new UsageError(`--sparse-out must differ from --out (both are ${opts.out})`);
    }
    if (opts.structure && opts.method !== 'magnitude' && opts.method !== 'wanda') {
      throw new UsageError(`--structure works with --method magnitude or wanda, not ${opts.method}`);
    }
    const budget: Budget = opts.sparsityPerLayer
      ? { kind: 'per-layer', sparsity: readPerLayer(opts.sparsityPerLayer) }
      : opts.budget === 'owl'
        ? { kind: 'owl', lambda: opts.owlLambda, hyperM: opts.owlM }
        : { kind: opts.budget };
    const needsCalib =
      opts.method === 'wanda' ||
      opts.method === 'sparsegpt' ||
      opts.method === 'dsnot' ||
      budget.kind === 'owl';
    let calibText: { text: string; name: string } | null = null;
    if (needsCalib) {
      try {
        calibText = loadText(opts.calib);
      } catch (e) {
        throw new UsageError(`--calib ${(e as Error).message}`);
      }
    }
    dir = resolveModelDir(dir); // a zoo name → zoo/<name>
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new UsageError(`<model-dir> ${dir} is not a folder`);
    if (opts.stream && budget.kind === 'global') {
      throw new UsageError(
        '--stream prunes one block at a time; --budget global ranks every weight at once (drop --stream)',
      );
    }
    // --stream: the folder stays open, the block linears are read from it while pruning
    const folder: HfFolder | null = opts.stream ? openHfFolder(dir) : null;
    try {
      let model: CausalLM;
      if (folder) {
        if (needsCalib && !folder.tokenizer)
          throw new UsageError(`<model-dir> ${dir} has no tokenizer.json, which calibration needs`);
        model = loadCausalLM(folder, { defer: true });
      } else {
        noteIfLarge(dir);
        model = needsCalib ? openCausalModel(dir).model : loadCausalLM(dir);
      }
      return await pruneAndSave(dir, model, opts, budget, calibText, sparseOut);
    } finally {
      folder?.close();
    }
  });
}

/** Suggest --stream when the weights alone take most of the free memory (the in-memory path holds them in f32). */
function noteIfLarge(dir: string): void {
  const bytes = readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .reduce((a, f) => a + statSync(join(dir, f)).size, 0);
  if (bytes > 0.5 * freemem()) {
    process.stderr.write(
      `note: ${dir} holds ${(bytes / 2 ** 30).toFixed(1)} GiB of weights and ${(freemem() / 2 ** 30).toFixed(1)} GiB are free; ` +
        'if pruning runs out of memory, add --stream (one block in memory at a time)\n',
    );
  }
}

/** runPrune after the checks: calibrate, prune (in memory or streaming), write; returns the exit code. */
async function pruneAndSave(
  dir: string,
  model: CausalLM,
  opts: PruneCliOptions,
  budget: Budget,
  calibText: { text: string; name: string } | null,
  sparseOut: string | null,
): Promise<number> {
  let calibration: number[][] | undefined;
  if (calibText) {
    const length = opts.calibLength ?? Math.min(CALIBRATION_DEFAULTS.length, model.maxPositions);
    if (length > model.maxPositions)
      throw new UsageError(`--calib-length ${length} exceeds the model's ${model.maxPositions} positions`);
    try {
      calibration = calibrationFromText(calibText.text, model.tokenizer!, {
        count: opts.calibCount,
        length,
        seed: opts.seed,
      });
    } catch (e) {
      throw new UsageError(`--calib ${calibText.name}: ${(e as Error).message}`);
    }
  }
  const bar = progressBar();
  const t0 = performance.now();
  const stop = abortOnSigint();
  let report: PruneReport;
  const saveOpts = { overwrite: opts.overwrite, ...(opts.dtype ? { dtype: opts.dtype } : {}) };
  let streamed: SparseSaveReport | null | undefined; // set when --stream wrote both folders already
  try {
    const pruneOpts = {
      method: opts.method,
      sparsity: opts.sparsity,
      ...(opts.structure ? { structure: opts.structure } : {}),
      budget,
      ...(calibration ? { calibration } : {}),
      seed: opts.seed,
      onProgress: bar.update,
      signal: stop.signal,
    };
    if (opts.stream) {
      const r = await pruneStreaming(model, { ...pruneOpts, ...saveOpts }, { out: opts.out, sparseOut });
      report = r.report;
      streamed = r.compact;
    } else {
      report = await pruneModel(model, pruneOpts);
    }
  } catch (e) {
    if ((e as Error).name === 'AbortError') {
      bar.stop();
      process.stderr.write('sparsekit prune: interrupted; nothing was written\n');
      return 130;
    }
    if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  } finally {
    bar.stop();
    stop.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  // Both writes are synchronous: a Ctrl-C now is handled after both folders are complete.
  if (!opts.stream) savePruned(model, report, opts.out, saveOpts);
  let formats = '';
  if (sparseOut) {
    try {
      const saved = streamed ?? saveCompactPruned(model, report, sparseOut, saveOpts);
      const counts = new Map<string, number>();
      for (const { info } of saved.weights.values())
        counts.set(info.format, (counts.get(info.format) ?? 0) + 1);
      formats = ` and ${sparseOut} (${[...counts].map(([f, c]) => `${c} ${f}`).join(', ')})`;
    } catch (e) {
      rmSync(opts.out, { recursive: true, force: true }); // never one folder without the other
      throw e;
    }
  }
  const spec =
    opts.sparsity.kind === 'nm' ? `${opts.sparsity.n}:${opts.sparsity.m}` : String(opts.sparsity.sparsity);
  process.stdout.write(
    `pruned ${dir} with ${opts.method} at ${spec}${opts.structure ? ` (${opts.structure})` : ''}, ${opts.budget} budget: ` +
      `${report.layers.length} matrices, counted sparsity ${(100 * report.sparsity).toFixed(2)}%` +
      `${report.calibrationTokens ? `, ${report.calibrationTokens} calibration tokens` : ''} in ${seconds.toFixed(1)} s → ${opts.out}${formats}\n`,
  );
  if (report.dampingRetries)
    process.stderr.write(
      `note: SparseGPT raised the dampening 10x ${report.dampingRetries} time(s) after a failed Cholesky\n`,
    );
  return 0;
}

/** Run `sparsekit inspect`: every linear with its shape, in-memory format, counted density and bytes. */
export function runInspect(dir: string, opts: { json: boolean }): Promise<number> {
  return reportErrors('inspect', async () => {
    dir = resolveModelDir(dir); // a zoo name → zoo/<name>
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new UsageError(`<model-dir> ${dir} is not a folder`);
    const model = loadModel(dir, { weights: 'stored' });
    const rows = [...model.linears()].map(([name, l]) => {
      const w = l.weight as Weight;
      return {
        name,
        rows: l.outFeatures,
        cols: l.inFeatures,
        format: formatOf(w),
        density: density(w),
        bytes: weightNbytes(w),
      };
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ model: dir, layers: rows })}\n`);
      return 0;
    }
    const width = Math.max(...rows.map((r) => r.name.length));
    for (const r of rows) {
      process.stdout.write(
        `${r.name.padEnd(width)}  [${r.rows}, ${r.cols}]`.padEnd(width + 16) +
          `  ${r.format.padEnd(8)}  density ${(100 * r.density).toFixed(2).padStart(6)}%  ${r.bytes} B\n`,
      );
    }
    const size = rows.reduce((a, r) => a + r.rows * r.cols, 0);
    const kept = rows.reduce((a, r) => a + r.density * r.rows * r.cols, 0);
    process.stdout.write(
      `total: ${rows.length} matrices, density ${((100 * kept) / size).toFixed(2)}%, ${rows.reduce((a, r) => a + r.bytes, 0)} B\n`,
    );
    return 0;
  });
}
