/**
 * `sparsekit zoo build [name]` trains a reference model (or every one not yet built) with sparsekit's own
 * code and writes it to zoo/<name>/ atomically; `--resume` continues an interrupted build, `--fresh` starts
 * over. Ctrl-C saves a checkpoint and exits 130. `sparsekit zoo list` shows the recipes and what is built.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { runtime } from '../backend/wasm.js';
import { listZoo, ZOO_RECIPES, zooDir, zooRecipe } from '../zoo/index.js';
import { BuildError } from '../zoo/recipe.js';
import { reportErrors, threadsOption, UsageError, useThreads } from './common.js';

/** Parsed options of `sparsekit zoo build`. */
export interface ZooBuildCliOptions {
  resume: boolean;
  fresh: boolean;
  threads?: number;
  zooDir?: string;
}

/** Add `zoo` (build, list) to the program. */
export function addZooCommand(
  program: Command,
  build: (name: string | undefined, opts: ZooBuildCliOptions) => Promise<number>,
  list: (opts: { zooDir?: string; json?: boolean }) => Promise<number>,
): Command {
  const zoo = program
    .command('zoo')
    .description('the reference models sparsekit trains itself (build, list)');
  zoo
    .command('build')
    .description('train a zoo model and write zoo/<name>/ (no name: every model not yet built)')
    .argument('[name]', `one of ${ZOO_RECIPES.map((r) => r.name).join(', ')}`)
    .option('--resume', 'continue an interrupted build from its checkpoint', false)
    .option('--fresh', 'discard an interrupted build and start over', false)
    .addOption(threadsOption())
    .option('--zoo-dir <dir>', 'where the zoo lives (default: zoo/ in the package, or $SPARSEKIT_ZOO)')
    .addHelpText(
      'after',
      '\nExamples:\n  sparsekit zoo build fmnist-mlp\n  sparsekit zoo build fmnist-cnn --resume   # after Ctrl-C\n',
    )
    .action(async (name: string | undefined, opts: ZooBuildCliOptions) => {
      process.exitCode = await build(name, opts);
    });
  zoo
    .command('list')
    .description('the recipes, and for each built model its size and final metrics')
    .option('--zoo-dir <dir>', 'where the zoo lives (default: zoo/ in the package, or $SPARSEKIT_ZOO)')
    .option('--json', 'print one JSON object', false)
    .action(async (opts: { zooDir?: string; json?: boolean }) => {
      process.exitCode = await list(opts);
    });
  return zoo;
}

/** Run `sparsekit zoo build`; 0 done, 2 usage error, 130 interrupted (checkpoint saved). */
export function runZooBuild(name: string | undefined, opts: ZooBuildCliOptions): Promise<number> {
  return reportErrors('zoo build', async () => {
    if (opts.resume && opts.fresh)
      throw new UsageError('--resume and --fresh contradict each other; give one');
    let recipes = ZOO_RECIPES;
    if (name !== undefined) {
      try {
        recipes = [zooRecipe(name)];
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const root = opts.zooDir ?? zooDir();
    if (name === undefined) recipes = recipes.filter((r) => !existsSync(join(root, r.name, 'config.json')));
    useThreads(opts.threads);
    const threads = runtime().threads;
    for (const r of recipes) {
      process.stderr.write(`sparsekit zoo build: ${r.name}: ${r.description}\n`);
      const flags = [opts.threads ? `--threads ${opts.threads}` : ''].filter(Boolean).join(' ');
      try {
        const res = await r.build({
          root,
          resume: opts.resume,
          fresh: opts.fresh,
          threads,
          command: `sparsekit zoo build ${r.name}${flags ? ` ${flags}` : ''}`,
        });
        if (!res.complete) {
          process.stderr.write(
            `sparsekit zoo build: ${r.name} interrupted; continue with: sparsekit zoo build ${r.name} --resume\n`,
          );
          return 130;
        }
        const m = Object.entries(res.metrics)
          .map(([k, v]) => `${k} ${v.toPrecision(5)}`)
          .join(', ');
        process.stdout.write(`${r.name}: wrote ${res.dir} (${m})\n`);
      } catch (e) {
        if (e instanceof BuildError) throw new UsageError(e.message);
        throw e;
      }
    }
    if (!recipes.length) process.stdout.write(`every zoo model is built in ${root}\n`);
    return 0;
  });
}

/** Run `sparsekit zoo list`. */
export async function runZooList(opts: { zooDir?: string; json?: boolean }): Promise<number> {
  const root = opts.zooDir ?? zooDir();
  const built = new Map(listZoo(root).map((b) => [b.name, b]));
  const rows = ZOO_RECIPES.map((r) => {
    const b = built.get(r.name);
    return {
      name: r.name,
      kind: r.kind,
      built: b !== undefined,
      megabytes: b ? b.bytes / 1e6 : 0,
      parameters: b?.record?.parameters ?? null,
      metrics: b?.record?.metrics ?? {},
      description: r.description,
    };
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ zoo: root, models: rows })}\n`);
    return 0;
  }
  process.stdout.write(`zoo: ${root}\n`);
  for (const r of rows) {
    const m = Object.entries(r.metrics)
      .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
      .join(', ');
    const size = r.built
      ? `${r.megabytes.toFixed(2)} MB, ${r.parameters?.toLocaleString('en-US') ?? '?'} params`
      : '';
    process.stdout.write(
      `  ${r.name.padEnd(12)} ${r.kind.padEnd(6)} ${r.built ? 'built    ' : 'not built'} ${size}${m ? ` · ${m}` : ''}\n`,
    );
  }
  return 0;
}
