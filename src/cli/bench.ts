/**
 * `sparsekit bench [suite]`: run benchmark suites, write their JSON to bench/results (atomically, only
 * after a complete run), regenerate BENCHMARKS.md from every JSON there, and print the break-even and
 * targets tables. Ctrl-C stops after the current timed call and writes nothing.
 */

import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { Argument, type Command, InvalidArgumentError, Option } from 'commander';

/** Suites `sparsekit bench` knows. */
export const SUITES = ['kernels', 'models', 'prune', 'quality', 'train'] as const;
export type SuiteName = (typeof SUITES)[number];
/**
 * What `sparsekit bench` with no suite runs (about 7 minutes). The quality suite (an hour per zoo model the
 * first time; its rows are cached) runs only when named.
 */
export const DEFAULT_SUITES: readonly SuiteName[] = ['kernels', 'models', 'prune', 'train'];

/** Parsed options of `sparsekit bench`. */
export interface BenchOptions {
  quick: boolean;
  threads?: number[];
  reps?: number;
  out: string;
  report: string;
  only?: string;
  /** Only regenerate the report from the JSON already in `out`. */
  reportOnly?: boolean;
}

/** `--threads 1,2` → [1, 2]; throws InvalidArgumentError (commander prints it, exit 2) on anything else. */
export function parseThreads(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (!parts.length || parts.some((p, i) => !/^\d+$/.test(p) || nums[i]! < 1)) {
    throw new InvalidArgumentError(
      '--threads takes thread counts ≥ 1 separated by commas, like --threads 1,2',
    );
  }
  return [...new Set(nums)];
}

/** `--reps 5` → 5; at least 1. */
export function parseReps(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new InvalidArgumentError('--reps takes a whole number of timed calls ≥ 1, like --reps 5');
  }
  return Number(value);
}

/** `--only <text>`: a non-empty substring of case names. */
export function parseOnly(value: string): string {
  if (!value.trim())
    throw new InvalidArgumentError('--only takes part of a case name, like --only "csr 90%"');
  return value;
}

/** The exact command, as a user would type it (`sparsekit bench kernels --quick`). */
export function commandLine(argv: readonly string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['sparsekit', ...argv.slice(2)].map(quote).join(' ');
}

/** Add `bench` to the program. `run` receives the suites to run and the parsed options. */
export function addBenchCommand(
  program: Command,
  run: (suites: SuiteName[], opts: BenchOptions) => Promise<number>,
): Command {
  return program
    .command('bench')
    .description(
      'time sparsekit kernels against dense and onnxruntime; writes bench/results/*.json and BENCHMARKS.md',
    )
    .addArgument(
      new Argument(
        '[suite]',
        `which suite (default: ${DEFAULT_SUITES.join(', ')}; quality only when named)`,
      ).choices(SUITES),
    )
    .option('--quick', 'a subset that finishes in about 2 minutes (writes <suite>-quick.json)', false)
    .option(
      '--threads <list>',
      'thread counts to time, comma-separated (default: 1,2; --quick: 1)',
      parseThreads,
    )
    .option('--reps <n>', 'timed calls per case, at least (default: 5; --quick: 3)', parseReps)
    .option('--out <dir>', 'folder for the JSON results', 'bench/results')
    .addOption(
      new Option('--report <file>', 'the markdown report regenerated from every JSON in --out').default(
        'BENCHMARKS.md',
      ),
    )
    .option(
      '--only <text>',
      'only cases whose name contains text (plus their dense baselines); writes <suite>-partial.json',
      parseOnly,
    )
    .option('--report-only', 'regenerate the report from the JSON in --out without timing anything', false)
    .addHelpText(
      'after',
      '\nExamples:\n  sparsekit bench kernels --quick\n  sparsekit bench kernels --threads 1 --only "4096x4096 N=1"\n',
    )
    .action(async (suite: SuiteName | undefined, opts: BenchOptions) => {
      process.exitCode = await run(suite ? [suite] : [...DEFAULT_SUITES], opts);
    });
}

/** Ctrl-C handling for a run: first press asks to stop after the current call, a second one exits. */
function interruptible(): { stopRequested: () => boolean; dispose: () => void } {
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write(
      '\nsparsekit bench: stopping after the current call (Ctrl-C again to quit now); no files are written\n',
    );
  };
  process.on('SIGINT', onSigint);
  return { stopRequested: () => stop, dispose: () => process.off('SIGINT', onSigint) };
}

/** Regenerate the markdown report from every JSON result in `opts.out`. */
async function writeReport(opts: BenchOptions): Promise<number> {
  const { writeAtomic, readResults } = await import('../../bench/results.js');
  const { benchmarksMarkdown } = await import('../../bench/report.js');
  const { listZoo } = await import('../zoo/zoo.js');
  const { results, problems } = readResults(resolve(opts.out));
  for (const p of problems) process.stderr.write(`sparsekit bench: skipped unreadable result ${p}\n`);
  const report = resolve(opts.report);
  if (!existsSync(dirname(report))) mkdirSync(dirname(report), { recursive: true });
  writeAtomic(report, benchmarksMarkdown(results, listZoo()));
  process.stdout.write(`wrote ${relative(process.cwd(), report)} from ${results.length} result file(s)\n`);
  return 0;
}

/**
 * Run suites and write results; returns the exit code (0 ok, 1 failure, 130 interrupted).
 * `argv` is recorded as the command in the results.
 */
export async function runBench(
  suites: SuiteName[],
  opts: BenchOptions,
  argv: readonly string[],
): Promise<number> {
  if (opts.reportOnly) return writeReport(opts);
  const cores = availableParallelism();
  const tooMany = (opts.threads ?? []).filter((t) => t > cores);
  if (tooMany.length) {
    process.stderr.write(
      `sparsekit bench: --threads ${tooMany.join(',')} exceeds this machine's ${cores} cores; timings will be oversubscribed\n`,
    );
  }
  const { otherCpuShareNow } = await import('../../bench/cpu-share.js');
  const busy = await otherCpuShareNow(1000);
  if (busy !== null && busy > 0.1) {
    process.stderr.write(
      `sparsekit bench: other processes are using ${Math.round(busy * 100)}% of the CPU; timings will be noisy ` +
        '(the share over the whole run is recorded in the results)\n',
    );
  }
  const { runKernelSuite } = await import('../../bench/kernels.js');
  const { runModelsSuite } = await import('../../bench/models.js');
  const { runPruneSuite } = await import('../../bench/prune.js');
  const { runTrainSuite, trainMarkdown } = await import('../../bench/train.js');
  const { runQualitySuite } = await import('../../bench/quality.js');
  const { Interrupted } = await import('../../bench/timing.js');
  const { resultFile, writeAtomic, readResults } = await import('../../bench/results.js');
  const { benchmarksMarkdown, breakEvenMarkdown, targetsMarkdown } = await import('../../bench/report.js');
  const { listZoo } = await import('../zoo/zoo.js');
  const { breakEven, evaluateTargets } = await import('../../bench/analysis.js');
  const out = resolve(opts.out);
  const report = resolve(opts.report);
  const sig = interruptible();
  try {
    for (const suite of suites) {
      const suiteOpts = {
        quick: opts.quick,
        ...(opts.threads ? { threads: opts.threads } : {}),
        ...(opts.reps ? { reps: opts.reps } : {}),
        ...(opts.only ? { only: opts.only } : {}),
        command: commandLine(argv),
        shouldStop: sig.stopRequested,
      };
      const result = await (suite === 'models'
        ? runModelsSuite(suiteOpts)
        : suite === 'prune'
          ? runPruneSuite(suiteOpts)
          : suite === 'train'
            ? runTrainSuite(suiteOpts)
            : suite === 'quality'
              ? runQualitySuite(suiteOpts)
              : runKernelSuite(suiteOpts));
      if (!existsSync(out)) mkdirSync(out, { recursive: true });
      const file = resultFile(out, suite, result.mode);
      writeAtomic(file, `${JSON.stringify(result, null, 1)}\n`);
      const { results, problems } = readResults(out);
      for (const p of problems) process.stderr.write(`sparsekit bench: skipped unreadable result ${p}\n`);
      if (!existsSync(dirname(report))) mkdirSync(dirname(report), { recursive: true });
      writeAtomic(report, benchmarksMarkdown(results, listZoo()));
      const failed = result.cases.filter((c) => c.status === 'error');
      process.stdout.write(
        `\n${suite} (${result.mode}): ${result.cases.length} cases in ${Math.round(result.durationSeconds)} s; ` +
          `wrote ${relative(process.cwd(), file)} and ${relative(process.cwd(), report)}\n`,
      );
      if (result.models) {
        const { modelsMarkdown } = await import('../../bench/report.js');
        process.stdout.write(`\n${modelsMarkdown(result)}\n`);
        continue;
      }
      if (result.train) {
        process.stdout.write(`\n${trainMarkdown(result)}\n`);
        continue;
      }
      if (result.quality) {
        const { qualityMarkdown } = await import('../../bench/report.js');
        process.stdout.write(`\n${qualityMarkdown(result)}\n`);
        continue;
      }
      if (result.prune) {
        const { pruneMarkdown } = await import('../../bench/report.js');
        process.stdout.write(`\n${pruneMarkdown(result)}\n`);
        continue;
      }
      process.stdout.write(
        '\nBreak-even: lowest sparsity from which each format beats sparsekit dense / onnxruntime dense\n\n',
      );
      process.stdout.write(`${breakEvenMarkdown(breakEven(result.cases))}\n`);
      process.stdout.write('\nTargets (issue 2)\n\n');
      process.stdout.write(`${targetsMarkdown(evaluateTargets(result.cases))}\n`);
      for (const c of failed) process.stderr.write(`sparsekit bench: ${c.id}: ${c.note}\n`);
      if (failed.length) return 1;
    }
    return 0;
  } catch (e) {
    if (e instanceof Interrupted) {
      process.stderr.write('sparsekit bench: interrupted; no results or report were written\n');
      return 130;
    }
    throw e;
  } finally {
    sig.dispose();
  }
}
