/**
 * `sparsekit eval ppl <model-dir> --data <file | brown[:split]>`: perplexity with a strided window
 * (`--ctx`, `--stride`), a progress bar (rate, ETA, running perplexity) on stderr and the result on stdout
 * (`--json` for a machine-readable object). Ctrl-C stops after the current chunk with a partial result
 * line and exit code 130.
 */

import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { loadText } from '../data/text.js';
import {
  type PerplexityProgress,
  type PerplexityResult,
  perplexity,
  slidingWindows,
} from '../eval/perplexity.js';
import type { Tokenizer } from '../io/tokenizer.js';
import type { WeightStorage } from '../models/checkpoint.js';
import type { KVDType } from '../nn/kvcache.js';
import {
  addRunOptions,
  exitCodeAction,
  interruptible,
  intFlag,
  openCausalModel,
  reportErrors,
  UsageError,
  useThreads,
} from './common.js';

/** Parsed options of `sparsekit eval ppl`. */
export interface PplCliOptions {
  data: string;
  ctx?: number;
  stride?: number;
  maxTokens?: number;
  json: boolean;
  weights?: WeightStorage;
  /** KV cache storage (default: the weights' dtype). */
  kvDtype?: KVDType;
  threads?: number;
}

/** Add `eval` (with its `ppl` subcommand) to the program. */
export function addEvalCommand(
  program: Command,
  run: (dir: string, opts: PplCliOptions) => Promise<number>,
): Command {
  const evalCmd = program.command('eval').description('evaluate a model (ppl: perplexity on a text)');
  addRunOptions(
    evalCmd
      .command('ppl')
      .description('perplexity of a causal LM on a text file or the Brown corpus, with a strided window')
      .argument('<model-dir>', 'Hugging Face model folder (config.json, model.safetensors, tokenizer.json)')
      .requiredOption(
        '--data <file|brown>',
        'a UTF-8 text file, or brown (the held-out test split), brown:validation, brown:train, brown:all',
      )
      .option(
        '--ctx <n>',
        'window length in tokens (default: the model positions)',
        intFlag('--ctx', 2, '512'),
      )
      .option(
        '--stride <n>',
        'tokens between window starts (default: --ctx, disjoint windows)',
        intFlag('--stride', 1, '256'),
      )
      .option('--max-tokens <n>', 'only the first n tokens of the text', intFlag('--max-tokens', 2, '4096'))
      .option('--json', 'print the result as one JSON object on stdout', false),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  sparsekit eval ppl models/gpt2 --data brown --ctx 1024 --stride 512\n  sparsekit eval ppl models/SmolLM-135M --data notes.txt --max-tokens 8192 --json\n',
    )
    .action(exitCodeAction(run));
  return evalCmd;
}

/**
 * Token ids of `text`, stopping after `maxTokens` when given: a prefix of the text is tokenized, doubled
 * until it yields enough tokens, so a small slice of a large corpus costs little.
 */
export function tokenizeUpTo(tokenizer: Tokenizer, text: string, maxTokens?: number): number[] {
  if (maxTokens === undefined) return tokenizer.encode(text);
  for (let chars = maxTokens * 8; ; chars *= 2) {
    const ids = tokenizer.encode(text.slice(0, chars));
    // The cut may split the last word into other tokens than the full text has: keep a margin past it.
    if (ids.length > maxTokens + 16 || chars >= text.length) return ids.slice(0, maxTokens);
  }
}

/** A progress display on stderr: a bar on a terminal, a line per 10% otherwise. */
function pplProgress(total: number): { update: (p: PerplexityProgress) => void; stop: () => void } {
  const start = performance.now();
  const rate = (scored: number) => scored / ((performance.now() - start) / 1000);
  if (!process.stderr.isTTY) {
    let next = 0.1;
    return {
      update(p) {
        if (p.scored / p.total < next && p.scored < p.total) return;
        next = Math.floor((p.scored / p.total) * 10 + 1) / 10;
        process.stderr.write(
          `[ppl ${Math.round((100 * p.scored) / p.total)}%] ${p.scored}/${p.total} tokens, ` +
            `${rate(p.scored).toFixed(0)} tokens/s, perplexity so far ${p.ppl.toFixed(3)}\n`,
        );
      },
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format:
        'perplexity [{bar}] {percentage}% | {value}/{total} tokens | {rate} tokens/s | ETA {eta_formatted} | ppl {ppl}',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { rate: '?', ppl: '?' });
  return {
    update: (p) => bar.update(p.scored, { rate: rate(p.scored).toFixed(0), ppl: p.ppl.toFixed(3) }),
    stop: () => bar.stop(),
  };
}

/** The human-readable result line. */
export function resultLine(r: PerplexityResult, dataName: string, totalTokens: number): string {
  const head = r.complete ? 'perplexity' : `interrupted: partial perplexity (windows done: ${r.windows})`;
  return (
    `${head} ${r.ppl.toFixed(4)} over ${r.tokens} scored tokens of ${totalTokens} ` +
    `(mean nll ${(r.nllSum / r.tokens).toFixed(4)} nats, nll sum ${r.nllSum.toFixed(3)}) · ${dataName} · ` +
    `ctx ${r.ctx}, stride ${r.stride} · ${r.seconds.toFixed(2)} s, ${r.tokensPerSecond.toFixed(0)} tokens/s`
  );
}

/** Run `sparsekit eval ppl`; returns the exit code (0 done, 2 usage error, 130 interrupted). */
export function runPpl(dir: string, opts: PplCliOptions): Promise<number> {
  return reportErrors('eval ppl', async () => {
    useThreads(opts.threads);
    let data: { text: string; name: string };
    try {
      data = loadText(opts.data);
    } catch (e) {
      throw new UsageError(`--data ${(e as Error).message}`);
    }
    const { model, tokenizer } = openCausalModel(dir, opts.weights, opts.kvDtype);
    const ctx = opts.ctx ?? model.maxPositions;
    if (ctx > model.maxPositions) {
      throw new UsageError(
        `--ctx ${ctx} is more than the model's ${model.maxPositions} positions; use --ctx ${model.maxPositions} or less`,
      );
    }
    const stride = opts.stride ?? ctx;
    if (stride > ctx)
      throw new UsageError(`--stride ${stride} is more than --ctx ${ctx}; windows would skip tokens`);
    const ids = tokenizeUpTo(tokenizer, data.text, opts.maxTokens);
    if (ids.length < 2)
      throw new UsageError(`--data ${opts.data} gives ${ids.length} token(s); perplexity needs at least 2`);
    model.forward(ids.slice(0, 1)); // uploads the weights to WebAssembly memory so the rate shown is steady
    const sig = interruptible('eval ppl');
    const total = slidingWindows(ids.length, ctx, stride).reduce((t, w) => t + w.end - w.scoreFrom, 0);
    let bar: ReturnType<typeof pplProgress> | undefined = pplProgress(total);
    try {
      const r = await perplexity(model, ids, {
        ctx,
        stride,
        onProgress: (p) => bar?.update(p),
        shouldStop: sig.stopRequested,
      });
      bar?.stop();
      bar = undefined;
      if (opts.json) {
        const { nllSum, tokens, ppl, windows, complete, seconds, tokensPerSecond } = r;
        const out = {
          model: dir,
          data: data.name,
          textTokens: ids.length,
          ctx,
          stride,
          nllSum,
          tokens,
          ppl,
          windows,
          complete,
          seconds,
          tokensPerSecond,
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else process.stdout.write(`${resultLine(r, data.name, ids.length)}\n`);
      return r.complete ? 0 : 130;
    } finally {
      bar?.stop();
      sig.dispose();
    }
  });
}
