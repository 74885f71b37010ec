/**
 * Perplexity of a causal LM over a long token sequence with a sliding window, as in Hugging Face's guide
 * "Perplexity of fixed-length models": windows of `ctx` tokens start every `stride` tokens
 * (begin = 0, stride, 2·stride, … until a window reaches the end); each window scores only the tokens the
 * previous window did not, each conditioned on the window's tokens before it. The first token of the
 * sequence is never scored. stride = ctx is plain disjoint chunks, where the first token of each window has
 * no context and is not scored either (n − windows tokens scored); a smaller stride scores all n − 1 tokens
 * after the first, each with at least ctx − stride tokens of context.
 *
 * One difference from the guide's code, on purpose: the guide multiplies each window's mean loss by
 * (targets − 1) to undo the label shift, which is exact for the first window but drops one token's weight
 * from every later overlapping window. Here every scored token's −log p is summed exactly once, so
 * `nllSum / tokens` is the true mean (identical to the guide when stride = ctx).
 */

import { softmax } from '../backend/ops/softmax.js';
import type { Decoder } from '../generate/model.js';
import type { Tensor } from '../tensor/tensor.js';

/** Options of {@link perplexity}. */
export interface PerplexityOptions {
  /** Window length in tokens (default and maximum: the model's positions). */
  ctx?: number;
  /** Distance between window starts, 1 ≤ stride ≤ ctx (default ctx: disjoint windows). */
  stride?: number;
  /** Positions whose logits are computed in one forward (bounds memory at chunk × vocab floats; default 256). */
  chunk?: number;
  /** Called after each chunk of scored tokens. */
  onProgress?: (p: PerplexityProgress) => void;
  /** Polled between chunks; true stops early with a partial result (`complete: false`). */
  shouldStop?: () => boolean;
}

/** Progress of a perplexity run. */
export interface PerplexityProgress {
  /** Tokens scored so far, of `total`. */
  scored: number;
  total: number;
  /** Windows finished, of `windows`. */
  window: number;
  windows: number;
  /** Running perplexity over the tokens scored so far. */
  ppl: number;
}

/** Result of {@link perplexity}. */
export interface PerplexityResult {
  /** Σ −ln p(token | its window's context), in nats. */
  nllSum: number;
  /** Tokens scored. */
  tokens: number;
  /** exp(nllSum / tokens). */
  ppl: number;
  /** Windows run. */
  windows: number;
  ctx: number;
  stride: number;
  /** False when `shouldStop` ended the run early. */
  complete: boolean;
  seconds: number;
  /** Tokens scored per second (every forward, context included, is in the time). */
  tokensPerSecond: number;
}

/** One window: run ids[begin, end), score targets [scoreFrom, end). */
export interface Window {
  begin: number;
  end: number;
  scoreFrom: number;
}

/** The windows of the guide's loop for n tokens. */
export function slidingWindows(n: number, ctx: number, stride: number): Window[] {
  const out: Window[] = [];
  let prevEnd = 0;
  for (let begin = 0; begin < n; begin += stride) {
    const end = Math.min(begin + ctx, n);
    out.push({ begin, end, scoreFrom: Math.max(prevEnd, begin + 1) });
    prevEnd = end;
    if (end === n) break;
  }
  return out;
}

function checkOptions(n: number, maxPositions: number, ctx: number, stride: number, chunk: number): void {
  if (n < 2) throw new RangeError(`perplexity: the text has ${n} token(s); it needs at least 2 to score one`);
  if (!Number.isInteger(ctx) || ctx < 2 || ctx > maxPositions) {
    throw new RangeError(
      `perplexity: ctx must be an integer in [2, ${maxPositions}] (the model's positions), got ${ctx}`,
    );
  }
  if (!Number.isInteger(stride) || stride < 1 || stride > ctx)
    throw new RangeError(`perplexity: stride must be an integer in [1, ctx = ${ctx}], got ${stride}`);
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new RangeError(`perplexity: chunk must be an integer ≥ 1, got ${chunk}`);
}

/**
 * −ln softmax(x)[target] for each row of logits x [R, V] and targets [R]. The sum of exponentials comes from
 * the SIMD softmax op: at a row's largest logit m, p(m) = 1 / Σ exp(x − m) ≥ 1/V never underflows, so
 * log Σ exp(x) = m − ln p(m), and nll = m − ln p(m) − x[target] (absolute error ~1e-6 nats, from the f32
 * softmax; a tiny p(target) cannot underflow to a log of 0 this way).
 */
export function rowNll(logits: Tensor, targets: ArrayLike<number>): Float64Array {
  const [R, V] = [logits.shape[0]!, logits.shape[1]!];
  const p = softmax(logits).data;
  const x = logits.data;
  const out = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    const o = r * V;
    let best = o;
    for (let i = o + 1; i < o + V; i++) if (x[i]! > x[best]!) best = i;
    out[r] = x[best]! - Math.log(p[best]!) - x[o + targets[r]!]!;
  }
  return out;
}

const now = () => performance.now() / 1000;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Perplexity of `model` on `ids` with windows of `ctx` tokens every `stride` tokens. Each window runs in a
 * fresh KV cache: its unscored context in one forward, then its scored positions `chunk` at a time.
 *
 * @example
 * const r = await perplexity(model, tok.encode(text), { ctx: 512, stride: 256 });
 * r.ppl; // exp(r.nllSum / r.tokens)
 */
export async function perplexity(
  model: Decoder,
  ids: ArrayLike<number>,
  opts: PerplexityOptions = {},
): Promise<PerplexityResult> {
  const n = ids.length;
  const ctx = opts.ctx ?? Math.min(model.maxPositions, Math.max(n, 2));
  const stride = opts.stride ?? ctx;
  const chunk = opts.chunk ?? 256;
  checkOptions(n, model.maxPositions, ctx, stride, chunk);
  const windows = slidingWindows(n, ctx, stride);
  const slice = (a: number, b: number) => Array.prototype.slice.call(ids, a, b) as number[];
  const total = windows.reduce((t, w) => t + w.end - w.scoreFrom, 0);
  const t0 = now();
  let nllSum = 0;
  let scored = 0;
  let done = 0;
  let complete = true;
  run: for (const w of windows) {
    const cache = model.newCache();
    // Logits at position p predict token p + 1: targets [scoreFrom, end) need positions [scoreFrom − 1, end − 1).
    if (w.scoreFrom - 1 > w.begin) model.forward(slice(w.begin, w.scoreFrom - 1), cache, { lastOnly: true });
    for (let p0 = w.scoreFrom - 1; p0 < w.end - 1; p0 += chunk) {
      if (opts.shouldStop?.()) {
        complete = false;
        break run;
      }
      const p1 = Math.min(p0 + chunk, w.end - 1);
      const logits = model.forward(slice(p0, p1), cache);
      const vocab = logits.shape[1]!;
      const targets = slice(p0 + 1, p1 + 1);
      targets.forEach((target, r) => {
        if (!Number.isInteger(target) || target < 0 || target >= vocab)
          throw new RangeError(
            `perplexity: token ${p0 + r + 1} is id ${target}, outside the vocabulary [0, ${vocab})`,
          );
      });
      for (const v of rowNll(logits, targets)) nllSum += v;
      scored += p1 - p0;
      opts.onProgress?.({
        scored,
        total,
        window: done,
        windows: windows.length,
        ppl: Math.exp(nllSum / scored),
      });
      await tick();
    }
    done++;
  }
  const seconds = now() - t0;
  return {
    nllSum,
    tokens: scored,
    ppl: scored > 0 ? Math.exp(nllSum / scored) : Number.NaN,
    windows: done,
    ctx,
    stride,
    complete,
    seconds,
    tokensPerSecond: scored / seconds,
  };
}
