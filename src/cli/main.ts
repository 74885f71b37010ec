/**
 * The `sparsekit` command: one commander program, one file per subcommand. Bad flags or arguments exit
 * with code 2 after commander's message (which names the flag); help and --version exit 0.
 */

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { addBenchCommand, runBench } from './bench.js';
import { addDemoCommand, runDemo } from './demo.js';
import { addEvalCommand, runPpl } from './eval.js';
import { addAccCommand, runAcc } from './eval-acc.js';
import { addGenerateCommand, runGenerate } from './generate.js';
import { addProfileCommand, runProfile } from './profile.js';
import { addPruneCommands } from './prune.js';
import { addZooCommand, runZooBuild, runZooList } from './zoo.js';

function version(): string {
  try {
    const pkg = new URL('../../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Runners of the model commands (injectable for tests). */
export interface Runners {
  generate: typeof runGenerate;
  ppl: typeof runPpl;
  demo: typeof runDemo;
  profile: typeof runProfile;
}

/** The program, with `run` hooks injectable for tests. */
export function program(argv: readonly string[], bench = runBench, runners: Partial<Runners> = {}): Command {
  const p = new Command('sparsekit')
    .description('sparsity for neural networks in TypeScript')
    .version(version())
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  addBenchCommand(p, (suites, opts) => bench(suites, opts, argv));
  addGenerateCommand(p, runners.generate ?? runGenerate);
  addAccCommand(addEvalCommand(p, runners.ppl ?? runPpl), runAcc);
  addDemoCommand(p, runners.demo ?? runDemo);
  addZooCommand(p, runZooBuild, runZooList);
  addPruneCommands(p);
  addProfileCommand(p, runners.profile ?? runProfile);
  return p;
}

/** What `sparsekit` with no arguments runs: the main job (a model end to end: generation + perplexity). */
export const MAIN_JOB: readonly string[] = ['demo'];

/** Run the command line; returns the process exit code. With no arguments, runs {@link MAIN_JOB}. */
export async function main(
  argv: readonly string[] = process.argv,
  bench = runBench,
  runners: Partial<Runners> = {},
): Promise<number> {
  process.exitCode = 0;
  if (argv.length <= 2) {
    process.stderr.write(
      `sparsekit: no command given, running the main job: sparsekit ${MAIN_JOB.join(' ')}\n`,
    );
    argv = [...argv.slice(0, 2), ...MAIN_JOB];
  }
  try {
    await program(argv, bench, runners).parseAsync([...argv]);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) {
      const fine = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code);
      return fine ? 0 : 2;
    }
    process.stderr.write(`sparsekit: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}
