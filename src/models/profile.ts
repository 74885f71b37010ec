/**
 * Where a causal LM's time goes: decode steps and a prefill timed kernel by kernel (WasmRuntime.startProfile),
 * with the weight and KV-cache bytes a step reads, so the matmuls' time converts to an effective read rate and a
 * step compares with the memory roofline. `sparsekit profile` prints it; the models benchmark records it beside
 * each decode row.
 *
 * Profiled steps alternate with plain ones: the plain steps give the step time (no clock reads inside), the
 * profiled ones the split, and both see the same contexts and the same drift of the machine.
 */

import { type KernelCategory, type KernelTiming, kernelCategory } from '../backend/profile.js';
import { runtime } from '../backend/wasm.js';
import { type Weight, weightNbytes } from '../formats/index.js';
import { Linear, setLinearTimer } from '../nn/linear.js';
import type { CausalLM, KVCache } from './types.js';

/** The groups a step's time is split into: kernels by category, and host (JavaScript between kernel calls). */
export type StepPart = KernelCategory | 'host';

/** Every group, in report order. */
export const STEP_PARTS: readonly StepPart[] = ['matmul', 'attention', 'norm+activation', 'other', 'host'];

/** One kernel's share of a profiled phase, per step (decode) or per prefill. */
export interface KernelShare {
  readonly kernel: string;
  readonly category: KernelCategory;
  readonly callsPerStep: number;
  readonly msPerStep: number;
}

/** One kind of linear layer's share of a profiled phase (every layer of that name, e.g. all 30 `q_proj`). */
export interface LayerShare {
  /**
   * The layer's name without block and `.weight` (layerKind): `self_attn.q_proj`, `mlp.down_proj`, `lm_head`,
   * `attn.c_attn`; layers run together by one shared product (a prefill's q, k and v) are joined with `+`.
   */
  readonly layer: string;
  readonly callsPerStep: number;
  /** Wall ms per step inside these layers' forwards: their kernels and the JavaScript around them. */
  readonly msPerStep: number;
  /** Bytes of these layers' weights (every block's). */
  readonly weightBytes: number;
}

/** A profiled phase: a decode step at some context, or one prefill. */
export interface PhaseProfile {
  readonly phase: 'decode' | 'prefill';
  /** Decode: the cache length the last step ends at; prefill: the prompt's tokens. */
  readonly tokens: number;
  readonly threads: number;
  /** Steps timed plain and steps profiled (each; prefill: forwards of each kind). */
  readonly steps: number;
  /** Median plain step (or prefill) in ms. */
  readonly stepMs: number;
  /** Mean of the profiled runs the split uses (those no slower than their median), in ms. */
  readonly profiledMs: number;
  /** Per kernel, the most time first. */
  readonly kernels: readonly KernelShare[];
  /** ms per step of each group; the groups sum to profiledMs. */
  readonly parts: Readonly<Record<StepPart, number>>;
  /** Per kind of linear layer, the most time first (empty when the timer was given no model). */
  readonly layers: readonly LayerShare[];
  /** Bytes of every linear weight (the LM head included): what a decode step must read. */
  readonly weightBytes: number;
  /** Bytes of keys and values a decode step reads at this context (0 for a prefill). */
  readonly kvBytes: number;
}

/** Options of profileDecode / profilePrefill. */
export interface ProfileOptions {
  /** Plain steps and profiled steps (each), alternating; default 8 (prefill: 2). */
  steps?: number;
  /** The KV cache a decode profile runs on (default: the model's newCache()). */
  cache?: () => KVCache;
}

/** Untimed decode steps after the prefill that fills the cache (the first steps run cold code paths). */
const WARMUP_STEPS = 2;

/** Prompt token ids for profiling: a fixed spread over the vocabulary (the ids do not change the work). */
function ids(n: number, vocab: number, salt = 0): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + 13 + salt) % vocab);
}

/** Bytes of every linear weight of `lm` (what one decode step reads), LM head included. */
export function linearWeightBytes(lm: CausalLM): number {
  let n = 0;
  for (const l of lm.linears().values()) n += weightNbytes(l.weight as Weight);
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function checkSteps(steps: number, what: string): number {
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`${what}: steps must be an integer ≥ 1, got ${steps}`);
  return steps;
}

/**
 * Profile decode steps ending at `context` cached positions: fill a cache with a prompt, then alternate plain and
 * profiled single-token steps. Throws if `context` leaves no room for the steps or exceeds the model's positions.
 * @example const p = profileDecode(lm, 2048); p.parts.attention // ms of attention per step
 */
export function profileDecode(lm: CausalLM, context: number, opts: ProfileOptions = {}): PhaseProfile {
  const steps = checkSteps(opts.steps ?? 8, 'profileDecode');
  const prompt = context - WARMUP_STEPS - 2 * steps;
  if (!Number.isInteger(context) || prompt < 1) {
    throw new RangeError(
      `profileDecode: context must be an integer ≥ ${WARMUP_STEPS + 2 * steps + 1} for ${steps} steps, got ${context}`,
    );
  }
  if (context > lm.maxPositions) {
    throw new RangeError(
      `profileDecode: context ${context} exceeds the model's ${lm.maxPositions} positions; use a shorter context`,
    );
  }
  const rt = runtime();
  const vocab = lm.config.vocabSize;
  const cache = opts.cache?.() ?? lm.newCache();
  lm.forward(ids(prompt, vocab), cache, { lastOnly: true });
  for (let s = 0; s < WARMUP_STEPS; s++) lm.forward(ids(1, vocab, s), cache, { lastOnly: true });
  const acc = new PhaseTimer(lm);
  for (let s = 0; s < steps; s++) {
    acc.plain(() => lm.forward(ids(1, vocab, 100 + s), cache, { lastOnly: true }));
    acc.profiled(() => lm.forward(ids(1, vocab, 200 + s), cache, { lastOnly: true }));
  }
  const perPosition = (cache as { bytesPerPosition?: number }).bytesPerPosition ?? 0;
  return acc.result(
    'decode',
    cache.length,
    rt.threads,
    steps,
    linearWeightBytes(lm),
    perPosition * cache.length,
  );
}

/**
 * Profile a prefill of `tokens` prompt tokens from an empty cache (logits of the last position only, as
 * generation runs it), plain and profiled forwards alternating.
 * @example profilePrefill(lm, 512).parts.matmul // ms of the prefill in matmuls
 */
export function profilePrefill(lm: CausalLM, tokens: number, opts: ProfileOptions = {}): PhaseProfile {
  const steps = checkSteps(opts.steps ?? 2, 'profilePrefill');
  if (!Number.isInteger(tokens) || tokens < 1 || tokens > lm.maxPositions) {
    throw new RangeError(
      `profilePrefill: tokens must be an integer in [1, ${lm.maxPositions}] (the model's positions), got ${tokens}`,
    );
  }
  const rt = runtime();
  const prompt = ids(tokens, lm.config.vocabSize);
  const fresh = () => opts.cache?.() ?? lm.newCache();
  lm.forward(prompt.slice(0, Math.min(tokens, 8)), fresh(), { lastOnly: true }); // weights into kernel memory
  const acc = new PhaseTimer(lm);
  for (let s = 0; s < steps; s++) {
    const a = fresh();
    acc.plain(() => lm.forward(prompt, a, { lastOnly: true }));
    const b = fresh();
    acc.profiled(() => lm.forward(prompt, b, { lastOnly: true }));
  }
  return acc.result('prefill', tokens, rt.threads, steps, linearWeightBytes(lm), 0);
}

/** One profiled run: its wall ms, kernel timings and layer times. */
interface ProfiledRun {
  ms: number;
  kernels: readonly KernelTiming[];
  layers: ReadonlyMap<string, { calls: number; ms: number }>;
}

function add(into: Map<string, { calls: number; ms: number }>, key: string, calls: number, ms: number): void {
  const e = into.get(key);
  if (e) {
    e.calls += calls;
    e.ms += ms;
  } else into.set(key, { calls, ms });
}

/**
 * Times a phase run by run: plain runs (their wall times) and profiled runs (the kernel shares, summed); result()
 * gives the phase's profile. The models benchmark alternates the two inside its own timed rows.
 */
export class PhaseTimer {
  private readonly plainTimes: number[] = [];
  private readonly runs: ProfiledRun[] = [];
  // the model's layers by kind and each kind's weight bytes, found once (undefined: layers are not timed)
  private readonly layerKinds: { kinds: Map<Linear, string>; bytes: Map<string, number> } | undefined;

  /** `lm`: also time its linear layers by kind during profiled runs (see LayerShare). */
  constructor(lm?: CausalLM) {
    this.layerKinds = lm ? layerKinds(lm) : undefined;
  }

  /** Wall ms of every plain run so far. */
  get plainMs(): readonly number[] {
    return this.plainTimes;
  }

  /** Run once without the profile; returns its wall ms. */
  plain(run: () => void): number {
    const t0 = performance.now();
    run();
    const ms = performance.now() - t0;
    this.plainTimes.push(ms);
    return ms;
  }

  /** Run once with every kernel call timed. */
  profiled(run: () => void): void {
    const rt = runtime();
    const layers = new Map<string, { calls: number; ms: number }>();
    const unwrap = this.layerKinds ? timeLinears(this.layerKinds.kinds, layers) : undefined;
    const p = rt.startProfile();
    const t0 = performance.now();
    try {
      run();
    } finally {
      rt.stopProfile();
      unwrap?.();
    }
    this.runs.push({ ms: performance.now() - t0, kernels: p.timings(), layers });
  }

  /**
   * The profile of the runs so far (needs at least one of each kind). stepMs is the plain runs' median; the split
   * averages the profiled runs that took no longer than their median: a run a stall of this machine slowed (a
   * thread descheduled for milliseconds) is left out, as the median leaves it out of stepMs.
   */
  result(
    phase: PhaseProfile['phase'],
    tokens: number,
    threads: number,
    steps: number,
    weightBytes: number,
    kvBytes: number,
  ): PhaseProfile {
    if (this.runs.length === 0 || this.plainTimes.length === 0)
      throw new Error('PhaseTimer.result: time at least one plain and one profiled run first');
    const limit = median(this.runs.map((r) => r.ms));
    const kept = this.runs.filter((r) => r.ms <= limit);
    const n = kept.length;
    const shares = new Map<string, { calls: number; ms: number }>();
    const layerTimes = new Map<string, { calls: number; ms: number }>();
    for (const r of kept) {
      for (const k of r.kernels) add(shares, k.kernel, k.calls, k.ms);
      for (const [layer, e] of r.layers) add(layerTimes, layer, e.calls, e.ms);
    }
    const kernels: KernelShare[] = [...shares]
      .map(([kernel, e]) => ({
        kernel,
        category: kernelCategory(kernel),
        callsPerStep: e.calls / n,
        msPerStep: e.ms / n,
      }))
      .sort((a, b) => b.msPerStep - a.msPerStep || a.kernel.localeCompare(b.kernel));
    const profiledMs = kept.reduce((t, r) => t + r.ms, 0) / n;
    const parts = Object.fromEntries(STEP_PARTS.map((p) => [p, 0])) as Record<StepPart, number>;
    for (const k of kernels) parts[k.category] += k.msPerStep;
    parts.host = Math.max(0, profiledMs - kernels.reduce((s, k) => s + k.msPerStep, 0));
    const layers: LayerShare[] = [...layerTimes]
      .map(([layer, e]) => ({
        layer,
        callsPerStep: e.calls / n,
        msPerStep: e.ms / n,
        weightBytes: layer.split('+').reduce((b, k) => b + (this.layerKinds?.bytes.get(k) ?? 0), 0),
      }))
      .sort((a, b) => b.msPerStep - a.msPerStep || a.layer.localeCompare(b.layer));
    return {
      phase,
      tokens,
      threads,
      steps,
      stepMs: median(this.plainTimes),
      profiledMs,
      kernels,
      parts,
      layers,
      weightBytes,
      kvBytes,
    };
  }
}

/**
 * A linear layer's name without its block and `.weight`, the same for that layer in every block:
 * `model.layers.3.self_attn.q_proj.weight` → `self_attn.q_proj`, `transformer.h.0.mlp.c_proj.weight` → `mlp.c_proj`,
 * `lm_head.weight` → `lm_head`.
 */
export function layerKind(name: string): string {
  const parts = name.replace(/\.weight$/, '').split('.');
  const block = parts.findIndex((p) => /^\d+$/.test(p));
  return parts.slice(block + 1).join('.');
}

/** Each linear layer of `lm` by its kind (layerKind), and the bytes of each kind's weights, every block's together. */
function layerKinds(lm: CausalLM): { kinds: Map<Linear, string>; bytes: Map<string, number> } {
  const kinds = new Map<Linear, string>();
  const bytes = new Map<string, number>();
  for (const [name, l] of lm.linears()) {
    const kind = layerKind(name);
    kinds.set(l, kind);
    bytes.set(kind, (bytes.get(kind) ?? 0) + weightNbytes(l.weight as Weight));
  }
  return { kinds, bytes };
}

/** Time every linear layer by its kind (`kinds`) into `into` until the returned function is called. */
function timeLinears(
  kinds: ReadonlyMap<Linear, string>,
  into: Map<string, { calls: number; ms: number }>,
): () => void {
  const kindOf = (l: Linear) => kinds.get(l) ?? 'linear';
  const previous = setLinearTimer((layers, ms) => {
    const kind = layers instanceof Linear ? kindOf(layers) : layers.map(kindOf).join('+');
    add(into, kind, 1, ms);
  });
  return () => setLinearTimer(previous);
}
