/**
 * Text generation over a causal LM: one batched prefill of the prompt into a KV cache, then one cached
 * forward per new token. Greedy or sampled (temperature → top-k → top-p, seeded), stops at eos/stop ids,
 * stop strings, `maxNewTokens`, or the model's last position; reports prefill and decode tokens/s.
 */

import type { TextStream } from '../io/tokenizer.js';
import { rng } from '../tensor/random.js';
import type { Decoder } from './model.js';
import { checkSampling, chooseToken, type SamplingOptions } from './warpers.js';

/** Why generation ended. */
export type StopReason =
  | 'stop-token' // an eos id or a user stop id was generated
  | 'stop-string' // the text now contains a stop string
  | 'max-new-tokens'
  | 'max-positions' // prompt + output filled the model's positions
  | 'interrupted'; // shouldStop() returned true

/** Options of {@link generate}. Sampling fields left out mean greedy decoding. */
export interface GenerateOptions extends Partial<SamplingOptions> {
  /** Tokens to generate at most (default 64). */
  maxNewTokens?: number;
  /** Seed of the sampling RNG (default 0): the same seed and options give the same tokens. */
  seed?: number;
  /** Ids that end generation (the checkpoint's eos ids plus any the user adds); the id is kept in the output. */
  stopTokenIds?: readonly number[];
  /** Texts that end generation as soon as the output contains one (needs `tokenizer`). */
  stopStrings?: readonly string[];
  /** Turns ids into text for `onText`, stop strings and `GenerateResult.text`. */
  tokenizer?: { stream(): TextStream };
  /** Called with each new token id as soon as it is chosen. */
  onToken?: (id: number, index: number) => void;
  /** Called with each new piece of text (needs `tokenizer`); pieces concatenate to `GenerateResult.text`. */
  onText?: (text: string) => void;
  /** Polled between tokens; true stops with reason 'interrupted' (e.g. after Ctrl-C). */
  shouldStop?: () => boolean;
}

/** What {@link generate} returns. */
export interface GenerateResult {
  /** The new token ids (the prompt is not repeated). */
  tokens: number[];
  /** Their text, when a tokenizer was given ('' otherwise). */
  text: string;
  stopReason: StopReason;
  /** The stop reason in words, e.g. 'reached the model's 128 positions'. */
  message: string;
  promptTokens: number;
  prefillSeconds: number;
  /** Tokens produced by cached single-token forwards (all but the first, which comes from the prefill). */
  decodeTokens: number;
  decodeSeconds: number;
  /** promptTokens / prefillSeconds. */
  prefillTokensPerSecond: number;
  /** decodeTokens / decodeSeconds (NaN when only one token was generated). */
  decodeTokensPerSecond: number;
}

const now = () => performance.now() / 1000;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Resolve sampling options: any sampling field given (or doSample: true) samples; temperature 0 is greedy. */
export function samplingOf(opts: Partial<SamplingOptions>): SamplingOptions {
  const temperature = opts.temperature ?? 1;
  const sampled =
    opts.doSample ?? (opts.temperature !== undefined || opts.topK !== undefined || opts.topP !== undefined);
  const s: SamplingOptions = {
    doSample: sampled && temperature !== 0,
    temperature: temperature === 0 ? 1 : temperature,
    topK: opts.topK ?? 0,
    topP: opts.topP ?? 1,
  };
  checkSampling(s);
  return s;
}

function checkOptions(prompt: ArrayLike<number>, model: Decoder, maxNewTokens: number): void {
  if (prompt.length === 0)
    throw new RangeError('generate: the prompt has no tokens; give some text (or start with the bos id)');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1)
    throw new RangeError(`generate: maxNewTokens must be an integer ≥ 1, got ${maxNewTokens}`);
  if (prompt.length >= model.maxPositions) {
    throw new RangeError(
      `generate: the prompt has ${prompt.length} tokens but the model reads at most ${model.maxPositions} ` +
        'positions; shorten the prompt',
    );
  }
}

/**
 * Generate up to `maxNewTokens` tokens after `prompt` (token ids). Async so that callers can stream output
 * and handle Ctrl-C between tokens.
 *
 * @example
 * const r = await generate(model, tok.encode('Once upon a time'), { maxNewTokens: 20, stopTokenIds: [tok.eosId!] });
 * r.tokens; r.decodeTokensPerSecond;
 */
export async function generate(
  model: Decoder,
  prompt: ArrayLike<number>,
  opts: GenerateOptions = {},
): Promise<GenerateResult> {
  const maxNewTokens = opts.maxNewTokens ?? 64;
  checkOptions(prompt, model, maxNewTokens);
  const sampling = samplingOf(opts);
  const stopStrings = (opts.stopStrings ?? []).filter((s) => s.length > 0);
  if (stopStrings.length && !opts.tokenizer)
    throw new TypeError('generate: stopStrings need a tokenizer to turn tokens into text');
  const stopIds = new Set(opts.stopTokenIds ?? []);
  const longestStop = Math.max(0, ...stopStrings.map((s) => s.length));
  const random = rng(opts.seed ?? 0);
  const stream = opts.tokenizer?.stream();
  let text = '';
  const emit = (piece: string) => {
    if (!piece) return;
    text += piece;
    opts.onText?.(piece);
  };

  const cache = model.newCache();
  const t0 = now();
  let logits = model.forward(prompt, cache, { lastOnly: true }).data;
  const prefillSeconds = now() - t0;
  const tokens: number[] = [];
  let decodeSeconds = 0;
  let stop: { reason: StopReason; message: string } | undefined;
  for (;;) {
    const t = now();
    const id = chooseToken(logits, sampling, random);
    decodeSeconds += tokens.length > 0 ? now() - t : 0;
    tokens.push(id);
    opts.onToken?.(id, tokens.length - 1);
    if (stream) {
      const piece = stream.push(id);
      emit(piece);
      const hit = stopStrings.find((s) => text.slice(-(piece.length + longestStop)).includes(s));
      if (hit !== undefined)
        stop = { reason: 'stop-string', message: `generated the stop text ${JSON.stringify(hit)}` };
    }
    if (stopIds.has(id)) stop = { reason: 'stop-token', message: `generated the stop token id ${id}` };
    stop ??= finished(prompt.length, tokens.length, maxNewTokens, model.maxPositions);
    if (!stop && opts.shouldStop?.()) stop = { reason: 'interrupted', message: 'interrupted' };
    if (stop) break;
    await tick();
    const t1 = now();
    logits = model.forward([id], cache, { lastOnly: true }).data;
    decodeSeconds += now() - t1;
  }
  if (stream) emit(stream.flush());
  const decodeTokens = tokens.length - 1;
  return {
    tokens,
    text,
    stopReason: stop.reason,
    message: stop.message,
    promptTokens: prompt.length,
    prefillSeconds,
    decodeTokens,
    decodeSeconds,
    prefillTokensPerSecond: prompt.length / prefillSeconds,
    decodeTokensPerSecond: decodeTokens > 0 ? decodeTokens / decodeSeconds : Number.NaN,
  };
}

/** The length limits: `maxNewTokens`, then the model's positions. */
function finished(
  promptTokens: number,
  generated: number,
  maxNewTokens: number,
  maxPositions: number,
): { reason: StopReason; message: string } | undefined {
  if (generated >= maxNewTokens)
    return { reason: 'max-new-tokens', message: `generated ${maxNewTokens} tokens` };
  if (promptTokens + generated >= maxPositions) {
    return {
      reason: 'max-positions',
      message:
        `stopped after ${generated} tokens: prompt (${promptTokens}) + output filled the model's ` +
        `${maxPositions} positions`,
    };
  }
  return undefined;
}
