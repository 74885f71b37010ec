/**
 * `sparsekit demo`: run a real model end to end with nothing given: `generate` on a prompt (seeded top-k
 * sampling), then `eval ppl` on the first tokens of the Brown corpus' held-out split. The model is the zoo's
 * trained `brown-llama` when it is built; otherwise (or with --random) a small random Llama-family model
 * built once in `.sparsekit/demo-llama` under the current folder, with a byte-level BPE tokenizer trained on
 * the Brown training split (4096 entries), whose text is noise and whose perplexity is about its vocabulary size.
 */

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { zooDir } from '../zoo/zoo.js';
import { intFlag, reportErrors, resolveModelDir, threadsOption, UsageError } from './common.js';
import { brownTokenizer, DEMO_SHAPE, writeRandomLlama } from './demo-model.js';
import { type PplCliOptions, runPpl } from './eval.js';
import { type GenerateCliOptions, runGenerate } from './generate.js';

/** Parsed options of `sparsekit demo`. */
export interface DemoOptions {
  modelDir: string;
  prompt: string;
  maxNewTokens: number;
  maxTokens: number;
  ctx: number;
  stride: number;
  rebuild: boolean;
  threads?: number;
  /** Run on this model folder or zoo name instead. */
  model?: string;
  /** Use the random model even when the reference model is built. */
  random?: boolean;
}

/** The trained model the demo prefers, when the zoo has it built. */
export const DEMO_ZOO_MODEL = 'brown-llama';

/** The zoo folder of `name` when that model is built there, else undefined. */
export function builtZooModel(name: string): string | undefined {
  try {
    const dir = join(zooDir(), name);
    return existsSync(join(dir, 'config.json')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Where the demo model is built, relative to the current folder. */
export const DEMO_DIR = '.sparsekit/demo-llama';

/** Entries of the demo's Brown BPE tokenizer. */
export const DEMO_VOCAB = 4096;

/** Add `demo` to the program. */
export function addDemoCommand(program: Command, run: (opts: DemoOptions) => Promise<number>): Command {
  return program
    .command('demo')
    .description(
      `generate + eval ppl on the Brown corpus with the reference model ${DEMO_ZOO_MODEL} (when built) or a small random Llama built once in .sparsekit/`,
    )
    .option(
      '--model <dir|name>',
      `run on this model folder or zoo name (default: the zoo's ${DEMO_ZOO_MODEL} when built, else the random model)`,
    )
    .option('--random', 'use the random model even when the reference model is built', false)
    .option('--model-dir <dir>', 'where the random model is built and cached', DEMO_DIR)
    .option('--prompt <text>', 'the prompt to continue', 'The jury said')
    .option('--max-new-tokens <n>', 'tokens to generate', intFlag('--max-new-tokens', 1, '32'), 32)
    .option('--max-tokens <n>', 'Brown tokens to score', intFlag('--max-tokens', 2, '2048'), 2048)
    .option('--ctx <n>', 'perplexity window', intFlag('--ctx', 2, '256'), DEMO_SHAPE.maxPositions)
    .option('--stride <n>', 'perplexity stride', intFlag('--stride', 1, '128'), DEMO_SHAPE.maxPositions / 2)
    .option('--rebuild', 'rebuild the random model even if the folder exists', false)
    .addOption(threadsOption())
    .action(async (opts: DemoOptions) => {
      process.exitCode = await run(opts);
    });
}

/** Run the demo; returns the exit code of the first step that fails (130 when interrupted). */
export function runDemo(opts: DemoOptions): Promise<number> {
  return reportErrors('demo', async () => {
    const t0 = performance.now();
    const chosen = opts.model ?? (opts.random ? undefined : builtZooModel(DEMO_ZOO_MODEL));
    let dir: string;
    let shown: string;
    if (chosen !== undefined) {
      dir = resolveModelDir(chosen);
      shown = chosen;
      process.stderr.write(
        `sparsekit demo: using ${chosen === builtZooModel(DEMO_ZOO_MODEL) ? `the reference model ${DEMO_ZOO_MODEL}` : chosen} (${dir}); --random uses an untrained model instead\n`,
      );
    } else {
      dir = resolve(opts.modelDir);
      shown = opts.modelDir;
      const { hiddenSize, layers, heads, kvHeads, maxPositions } = DEMO_SHAPE;
      const about =
        `a random, untrained Llama model (${layers} layers, hidden ${hiddenSize}, ${heads} heads / ${kvHeads} KV heads, ` +
        `${maxPositions} positions, a ${DEMO_VOCAB}-entry BPE tokenizer trained on Brown): its text is noise and its ` +
        `perplexity is near its vocabulary size ${DEMO_VOCAB}; it shows the pipeline runs, not quality`;
      if (opts.rebuild || !existsSync(dir)) {
        try {
          mkdirSync(dirname(dir), { recursive: true });
          writeRandomLlama(dir, DEMO_SHAPE, { overwrite: true, tokenizer: brownTokenizer(DEMO_VOCAB) });
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        process.stderr.write(`sparsekit demo: built ${about}, in ${opts.modelDir}\n`);
      } else
        process.stderr.write(
          `sparsekit demo: using ${opts.modelDir}: ${about} (--rebuild makes a new one)\n`,
        );
    }
    const threads = opts.threads === undefined ? {} : { threads: opts.threads };

    process.stderr.write(
      `\n$ sparsekit generate ${shown} --prompt ${JSON.stringify(opts.prompt)} --max-new-tokens ${opts.maxNewTokens} --top-k 40 --seed 1\n`,
    );
    const gen: GenerateCliOptions = {
      prompt: opts.prompt,
      maxNewTokens: opts.maxNewTokens,
      topK: 40,
      seed: 1,
      weights: 'f32',
      ...threads,
    };
    const g = await runGenerate(dir, gen);
    if (g !== 0) return g;

    process.stderr.write(
      `\n$ sparsekit eval ppl ${shown} --data brown --max-tokens ${opts.maxTokens} --ctx ${opts.ctx} --stride ${opts.stride}\n`,
    );
    const ppl: PplCliOptions = {
      data: 'brown',
      maxTokens: opts.maxTokens,
      ctx: opts.ctx,
      stride: opts.stride,
      json: false,
      weights: 'f32',
      ...threads,
    };
    const e = await runPpl(dir, ppl);
    if (e !== 0) return e;
    process.stderr.write(`\nsparsekit demo: done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    return 0;
  });
}
