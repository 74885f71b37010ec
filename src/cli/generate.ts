/**
 * `sparsekit generate <model-dir> --prompt "…"`: stream a continuation to stdout as tokens are produced, then
 * print prefill and decode tokens/s on stderr. Greedy unless a sampling flag is given or the folder's
 * generation_config.json samples; Ctrl-C stops after the current token (exit 130).
 */

import { randomInt } from 'node:crypto';
import { type Command, InvalidArgumentError } from 'commander';
import { type GenerateResult, generate } from '../generate/generate.js';
import type { SamplingOptions } from '../generate/warpers.js';
import type { GenerationConfig } from '../io/generation.js';
import type { WeightStorage } from '../models/checkpoint.js';
import type { KVDType } from '../nn/kvcache.js';
import {
  addRunOptions,
  exitCodeAction,
  formatSeconds,
  interruptible,
  intFlag,
  numberFlag,
  openCausalModel,
  reportErrors,
  UsageError,
  useThreads,
} from './common.js';

/** Parsed options of `sparsekit generate`. */
export interface GenerateCliOptions {
  prompt: string;
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Stop texts. */
  stop?: string[];
  /** Extra stop token ids. */
  stopId?: number[];
  weights?: WeightStorage;
  /** KV cache storage (default: the weights' dtype). */
  kvDtype?: KVDType;
  threads?: number;
}

/** `--stop-id 13,198` → [13, 198]. */
export function parseIds(value: string, previous: number[] = []): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p)))
    throw new InvalidArgumentError('--stop-id takes token ids separated by commas, like --stop-id 13,198');
  return [...previous, ...parts.map(Number)];
}

/** Add `generate` to the program. */
export function addGenerateCommand(
  program: Command,
  run: (dir: string, opts: GenerateCliOptions) => Promise<number>,
): Command {
  return addRunOptions(
    program
      .command('generate')
      .description(
        'continue a prompt with a causal LM, streaming tokens; reports prefill and decode tokens/s',
      )
      .argument('<model-dir>', 'Hugging Face model folder (config.json, model.safetensors, tokenizer.json)')
      .requiredOption('--prompt <text>', 'the text to continue')
      .option(
        '--max-new-tokens <n>',
        'tokens to generate at most (default: generation_config, else 64)',
        intFlag('--max-new-tokens', 1, '64'),
      )
      .option(
        '--temperature <t>',
        'sample with this temperature (0 = greedy)',
        numberFlag('--temperature', 0, 100, '0.8'),
      )
      .option('--top-k <k>', 'sample from the k most likely tokens (0 = off)', intFlag('--top-k', 0, '50'))
      .option(
        '--top-p <p>',
        'sample from the smallest set of tokens whose probability reaches p',
        numberFlag('--top-p', 1e-9, 1, '0.9'),
      )
      .option(
        '--seed <n>',
        'seed of the sampler (default: a random one, printed)',
        intFlag('--seed', 0, '42'),
      )
      .option('--stop <text...>', 'stop when the output contains one of these texts')
      .option('--stop-id <ids>', 'also stop at these token ids (the eos ids always stop)', parseIds),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  sparsekit generate models/SmolLM-135M --prompt "The jury said"\n  sparsekit generate models/gpt2 --prompt "Hello" --temperature 0.8 --top-p 0.95 --seed 1\n',
    )
    .action(exitCodeAction(run));
}

/** The sampler settings: flags override the folder's generation config; no flag keeps its do_sample. */
export function samplingFromFlags(opts: GenerateCliOptions, gen: GenerationConfig): SamplingOptions {
  const flagged = opts.temperature !== undefined || opts.topK !== undefined || opts.topP !== undefined;
  const temperature = opts.temperature ?? gen.temperature;
  return {
    doSample: flagged ? temperature > 0 : gen.doSample,
    temperature: temperature > 0 ? temperature : 1,
    topK: opts.topK ?? gen.topK,
    topP: opts.topP ?? gen.topP,
  };
}

/** The timing line printed on stderr after the text. */
export function timingLine(r: GenerateResult): string {
  const decode =
    r.decodeTokens > 0
      ? `decode: ${r.decodeTokens} tokens in ${formatSeconds(r.decodeSeconds)} (${r.decodeTokensPerSecond.toFixed(1)} tokens/s)`
      : 'decode: no decode steps (one token came from the prefill)';
  return (
    `prefill: ${r.promptTokens} tokens in ${formatSeconds(r.prefillSeconds)} (${r.prefillTokensPerSecond.toFixed(1)} tokens/s) · ` +
    `${decode} · ${r.message}`
  );
}

/** Run `sparsekit generate`; returns the exit code (0 done, 2 usage error, 130 interrupted). */
export function runGenerate(dir: string, opts: GenerateCliOptions): Promise<number> {
  return reportErrors('generate', async () => {
    useThreads(opts.threads);
    const { model, tokenizer, generation, eosIds } = openCausalModel(dir, opts.weights, opts.kvDtype);
    const prompt = tokenizer.encode(opts.prompt);
    if (!prompt.length) throw new UsageError('--prompt gives no tokens; give some text to continue');
    if (prompt.length >= model.maxPositions) {
      throw new UsageError(
        `--prompt is ${prompt.length} tokens but the model reads at most ${model.maxPositions} positions; shorten it`,
      );
    }
    const sampling = samplingFromFlags(opts, generation);
    const seed = opts.seed ?? randomInt(2 ** 31);
    if (sampling.doSample) {
      process.stderr.write(
        `sampling: temperature ${sampling.temperature}, top-k ${sampling.topK || 'off'}, top-p ${sampling.topP}, seed ${seed}\n`,
      );
    }
    // The first forward uploads the weights to WebAssembly memory and warms the kernels: time it apart.
    const w0 = performance.now();
    model.forward(prompt.slice(0, 1));
    process.stderr.write(
      `warm-up (weights into WebAssembly memory): ${formatSeconds((performance.now() - w0) / 1000)}\n`,
    );
    const sig = interruptible('generate');
    try {
      process.stdout.write(opts.prompt);
      const r = await generate(model, prompt, {
        ...sampling,
        seed,
        maxNewTokens: opts.maxNewTokens ?? generation.maxNewTokens ?? 64,
        stopTokenIds: [...eosIds, ...(opts.stopId ?? [])],
        stopStrings: opts.stop ?? [],
        tokenizer: { stream: () => tokenizer.stream({ skipSpecialTokens: true }) },
        onText: (t) => process.stdout.write(t),
        shouldStop: sig.stopRequested,
      });
      process.stdout.write('\n');
      process.stderr.write(`${timingLine(r)}\n`);
      return r.stopReason === 'interrupted' ? 130 : 0;
    } finally {
      sig.dispose();
    }
  });
}
