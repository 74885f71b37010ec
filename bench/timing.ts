/**
 * Cold-cache timing: every timed call uses the next of several distinct weight copies (together more
 * than twice the last-level cache), after one warm-up call on each copy (which also makes it resident).
 */

/** One call on weight copy `copy`; may be synchronous (sparsekit) or return a promise (onnxruntime). */
export type CopyCall = (copy: number) => unknown;

/** What to time. */
export interface TimingPlan {
  /** Distinct weight copies to cycle through. */
  copies: number;
  /** At least this many timed calls (the benchmark's `--reps`). */
  reps: number;
  /** Extra timed calls are added while the estimated time stays under this (seconds); max 3 rounds of copies. */
  budgetSeconds: number;
}

/** Per-call times in milliseconds, in call order. */
export interface Samples {
  ms: number[];
  /** The warm-up results of copy 0 (for a correctness check by the caller). */
  first: unknown;
}

/** Thrown between calls when the user asked to stop (Ctrl-C). */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (!xs.length) throw new RangeError('median: empty list');
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** Timed calls to make: ≥ reps, and more (up to 3 rounds of the copies) when one call is cheap. */
export function sampleCount(plan: TimingPlan, warmMs: number): number {
  const affordable = Math.floor((plan.budgetSeconds * 1000) / Math.max(warmMs, 1e-3));
  return Math.max(plan.reps, Math.min(3 * plan.copies, affordable));
}

let lastYield = 0;
/** Let the event loop run (signal handlers, progress output) at most every 100 ms; never inside a timed call. */
export async function yieldSometimes(): Promise<void> {
  const now = performance.now();
  if (now - lastYield < 100) return;
  lastYield = now;
  await new Promise<void>((resolve) => setImmediate(resolve));
}

async function timeOne(call: CopyCall, copy: number): Promise<[number, unknown]> {
  await yieldSometimes();
  const t0 = performance.now();
  let r = call(copy);
  if (r instanceof Promise) r = await r;
  return [performance.now() - t0, r];
}

/**
 * Warm up on every copy, then time `sampleCount` calls cycling through the copies.
 * `shouldStop` is checked between calls; when it returns true, throws Interrupted.
 */
export async function timeCold(
  call: CopyCall,
  plan: TimingPlan,
  shouldStop: () => boolean,
): Promise<Samples> {
  let first: unknown;
  const warm: number[] = [];
  for (let c = 0; c < plan.copies; c++) {
    if (shouldStop()) throw new Interrupted();
    const [ms, r] = await timeOne(call, c);
    warm.push(ms);
    if (c === 0) first = r;
  }
  // The first warm-up call per copy includes making it resident; the later ones show the steady cost.
  const n = sampleCount(plan, median(warm.length > 1 ? warm.slice(1) : warm));
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    if (shouldStop()) throw new Interrupted();
    ms.push((await timeOne(call, i % plan.copies))[0]);
  }
  return { ms, first };
}
