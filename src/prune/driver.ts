/**
 * pruneModel: one-shot pruning of a causal LM's transformer-block linears, with the sequential calibration
 * driver of card 0.4. Calibration sequences run through the model block by block; each block's linears are
 * observed on one forward of the still-dense block, pruned from those statistics, and the block is re-run so
 * its pruned outputs feed the next block. Held at once: the model, one block's statistics, and the N·T
 * activations between blocks. Embeddings, norms, biases and the LM head are not pruned.
 */

import { toDense } from '../formats/index.js';
import { CausalModel } from '../models/causal.js';
import type { CausalLM } from '../models/types.js';
import type { Linear } from '../nn/linear.js';
import {
  type Budget,
  explicitBudget,
  OWL_DEFAULTS,
  owlNMZeros,
  owlOutlierRatio,
  owlSparsities,
  parseSparsity,
  type SparsitySpec,
  sparsityOf,
} from '../sparsity/budget.js';
import { countZeros, type Mask } from '../sparsity/mask.js';
import type { NMPattern } from '../sparsity/select.js';
import { checkSparsity } from '../sparsity/select.js';
import type { Tensor } from '../tensor/tensor.js';
import { type DsnotOptions, dsnot } from './dsnot.js';
import {
  type MagnitudeOptions,
  magnitudeGlobalMasks,
  magnitudeMask,
  magnitudeNMMask,
  magnitudeScores,
} from './magnitude.js';
import { randomMask, randomNMMask } from './random.js';
import { type SparseGptOptions, sparsegpt } from './sparsegpt.js';
import { InputStats, type StatsNeeds } from './stats.js';
import {
  type BlockAnatomy,
  type BlockRemoval,
  blockAnatomy,
  checkStructure,
  planBlockRemoval,
  type Structure,
  zeroRemoved,
} from './structured.js';
import { wandaMask, wandaNMMask, wandaScores } from './wanda.js';

export type PruneMethod = 'magnitude' | 'random' | 'wanda' | 'sparsegpt' | 'dsnot';
export const PRUNE_METHODS: readonly PruneMethod[] = ['magnitude', 'random', 'wanda', 'sparsegpt', 'dsnot'];

/** Options of pruneModel. */
export interface PruneOptions {
  method: PruneMethod;
  /** A fraction in [0, 1) or N:M ("2:4"; N zeros per aligned group of M), parsed by parseSparsity. */
  sparsity: SparsitySpec | string | number;
  /** Remove whole heads / FFN channels instead (magnitude and wanda only; sparsity is the fraction of units). */
  structure?: Structure;
  /** Where sparsity goes (default uniform). 'global' is magnitude only; 'owl' works with every method. */
  budget?: Budget;
  /** Token sequences of equal length (calibrationFromText); needed by wanda, sparsegpt, dsnot and OWL. */
  calibration?: readonly (readonly number[])[];
  magnitude?: MagnitudeOptions;
  sparsegpt?: Pick<SparseGptOptions, 'blocksize' | 'percdamp' | 'selection'>;
  /** DSnoT options, plus its initial mask (default wanda) and whether MLP matrices keep it (default true). */
  dsnot?: Omit<DsnotOptions, 'nm' | 'initialScores'> & { initial?: 'wanda' | 'magnitude'; skipMlp?: boolean };
  /** Seed of the random method (default 0). */
  seed?: number;
  /** Called when a phase starts on a block and after each layer is pruned. */
  onProgress?: (p: PruneProgress) => void;
  /** Abort between sequences and layers (the model is then partly pruned: discard it). */
  signal?: AbortSignal;
}

/** Progress of pruneModel. */
export interface PruneProgress {
  /** 'outliers' = OWL's dense statistics pass; 'calibrate' = a block's forward passes; 'prune' = a layer done. */
  phase: 'outliers' | 'calibrate' | 'prune';
  block: number;
  blocks: number;
  /** The layer just pruned ('prune'). */
  layer?: string;
  /** Layers pruned so far and in total. */
  done: number;
  total: number;
}

/** One pruned matrix. */
export interface LayerReport {
  name: string;
  rows: number;
  cols: number;
  /** The budget's target for this matrix (N/M for N:M; the unit fraction for structured). */
  target: number;
  /** Zeros counted in the pruned weight. */
  zeros: number;
  /** zeros / (rows · cols), counted. */
  sparsity: number;
}

/** What pruneModel did. */
export interface PruneReport {
  method: PruneMethod;
  spec: SparsitySpec;
  structure: Structure | null;
  layers: LayerReport[];
  /** Counted zeros over every prunable matrix / their entries. */
  sparsity: number;
  /** OWL: the sparsity (or N:M zero count) of each block. */
  blockBudget?: number[];
  /** Structured: units removed per block (apply shrunkState to save the smaller model). */
  removed?: BlockRemoval[];
  anatomies?: BlockAnatomy[];
  /** SparseGPT: total Cholesky retries with 10× dampening (0 = as the reference). */
  dampingRetries: number;
  /** Calibration tokens used (N · T). */
  calibrationTokens: number;
}

/** Transformer-block linears by block, in model order; the LM head and anything outside blocks excluded. */
export function prunableLinears(model: CausalLM): Array<Array<[string, Linear]>> {
  const blocks: Array<Array<[string, Linear]>> = [];
  for (const [name, l] of model.linears()) {
    const m = /(?:^|\.)(?:layers|h)\.(\d+)\./.exec(name);
    if (!m) continue;
    const b = Number(m[1]);
    blocks[b] ??= [];
    blocks[b].push([name, l]);
  }
  return blocks;
}

const isMlp = (name: string) => /\.mlp\./.test(name);

/** Let the event loop run (a Ctrl-C handler, a timer) between pieces of work. */
const pause = () => new Promise<void>((resolve) => setImmediate(resolve));

function abortError(): Error {
  const e = new Error('prune: interrupted');
  e.name = 'AbortError';
  return e;
}

/** Check every option before any work (errors name the option and the fix). */
function validate(model: CausalLM, opts: PruneOptions): { spec: SparsitySpec; needsCalib: boolean } {
  if (!(model instanceof CausalModel)) throw new TypeError('pruneModel: model must come from loadCausalLM');
  if (!PRUNE_METHODS.includes(opts.method)) {
    throw new RangeError(
      `prune: method must be one of ${PRUNE_METHODS.join(', ')}, got ${JSON.stringify(opts.method)}`,
    );
  }
  const spec = typeof opts.sparsity === 'object' ? opts.sparsity : parseSparsity(opts.sparsity);
  if (spec.kind === 'unstructured') checkSparsity(spec.sparsity, 'prune: sparsity');
  const budget = opts.budget ?? { kind: 'uniform' };
  if (opts.structure !== undefined) {
    if (opts.method !== 'magnitude' && opts.method !== 'wanda') {
      throw new RangeError(`prune: --structure works with magnitude and wanda, not ${opts.method}`);
    }
    if (spec.kind === 'nm')
      throw new RangeError('prune: --structure needs a fraction of units (e.g. 0.25), not N:M');
    if (budget.kind !== 'uniform')
      throw new RangeError(
        'prune: --structure removes the same units in every block; use the uniform budget',
      );
    checkStructure(model.config, opts.structure);
  }
  if (budget.kind === 'global' && (opts.method !== 'magnitude' || spec.kind === 'nm')) {
    throw new RangeError(
      'prune: the global budget ranks |w| across matrices: magnitude with a fraction only',
    );
  }
  if (budget.kind === 'per-layer' && spec.kind === 'nm') {
    throw new RangeError('prune: a per-layer budget gives fractions; it cannot be combined with N:M');
  }
  if (spec.kind === 'nm') {
    for (const [name, l] of prunableLinears(model).flat()) {
      if (l.inFeatures % spec.m !== 0) {
        throw new RangeError(
          `prune: ${name} has ${l.inFeatures} input columns, not a multiple of M = ${spec.m}; N:M groups must tile every row`,
        );
      }
    }
  }
  const needsCalib =
    opts.method === 'wanda' ||
    opts.method === 'sparsegpt' ||
    opts.method === 'dsnot' ||
    budget.kind === 'owl';
  const calib = opts.calibration;
  if (needsCalib) {
    if (!calib || calib.length === 0) {
      throw new RangeError(
        `prune: ${budget.kind === 'owl' ? 'OWL' : opts.method} needs calibration sequences (calibrationFromText)`,
      );
    }
    const T = calib[0]!.length;
    if (T < 1 || calib.some((s) => s.length !== T)) {
      throw new RangeError('prune: calibration sequences must all have the same, non-zero length');
    }
    if (T > model.maxPositions) {
      throw new RangeError(
        `prune: calibration sequences of ${T} tokens exceed the model's ${model.maxPositions} positions`,
      );
    }
  }
  return { spec, needsCalib };
}

/**
 * How the driver reaches a block's weights: all in memory (pruneModel), or streamed from the checkpoint
 * (pruneStreaming: read before a pass over the block, written and dropped after it).
 */
export interface BlockAccess {
  /** Whether only one block's weights are held at a time (the global budget then cannot work). */
  readonly streaming: boolean;
  /** Make block b's linears dense f32 Tensors, before each pass over block b. */
  enter(b: number, linears: ReadonlyArray<[string, Linear]>): void;
  /**
   * A pass over block b is over; `pruned`: after the pruning pass (the weights are final and re-run), with the
   * block's structured removal when there is one (what savePruned drops).
   */
  leave(
    b: number,
    linears: ReadonlyArray<[string, Linear]>,
    pruned: boolean,
    structured?: { anatomy: BlockAnatomy; plan: BlockRemoval },
  ): void;
}

/** Every weight in memory: enter makes the block's weights dense f32 (a half or sparse weight takes no zeros). */
const IN_MEMORY: BlockAccess = {
  streaming: false,
  enter: (_b, linears) => {
    for (const [, l] of linears) l.weight = toDense(l.weight as Tensor);
  },
  leave: () => {},
};

/**
 * Prune `model` in place (each prunable Linear's weight becomes a dense f32 Tensor with zeros) and report the
 * counted sparsity of every matrix. Every option is checked before any work (a bad one rejects at once).
 * The work yields to the event loop between calibration sequences and layers, so a Ctrl-C handler that
 * aborts `signal` stops it within one step (the model is then partly pruned: discard it).
 *
 * ```ts
 * const calib = calibrationFromText(brownText('train'), lm.tokenizer!, { count: 128, length: 512 });
 * const report = await pruneModel(lm, { method: 'wanda', sparsity: 0.5, calibration: calib });
 * ```
 */
export function pruneModel(model: CausalLM, opts: PruneOptions): Promise<PruneReport> {
  return pruneThrough(model, opts, IN_MEMORY);
}

/** pruneModel's body, reaching block weights through `access` (shared by pruneModel and pruneStreaming). */
export async function pruneThrough(
  model: CausalLM,
  opts: PruneOptions,
  access: BlockAccess,
): Promise<PruneReport> {
  const { spec, needsCalib } = validate(model, opts);
  if (access.streaming && opts.budget?.kind === 'global') {
    throw new RangeError(
      'prune: the global budget ranks every weight at once, so it cannot stream; prune in memory (without --stream)',
    );
  }
  const runner = (model as CausalModel).blockwise();
  const blocks = prunableLinears(model);
  const budget = opts.budget ?? { kind: 'uniform' };
  const names = blocks.flat().map(([n]) => n);
  const perLayer = budget.kind === 'per-layer' ? explicitBudget(names, budget.sparsity) : null;
  const total = names.length;
  const B = blocks.length;
  const report: PruneReport = {
    method: opts.method,
    spec,
    structure: opts.structure ?? null,
    layers: [],
    sparsity: 0,
    dampingRetries: 0,
    calibrationTokens: needsCalib ? opts.calibration!.length * opts.calibration![0]!.length : 0,
  };
  const progress = (p: Omit<PruneProgress, 'blocks' | 'total' | 'done'>) =>
    opts.onProgress?.({ ...p, blocks: B, total, done: report.layers.length });
  const checkAbort = async () => {
    await pause();
    if (opts.signal?.aborted) throw abortError();
  };
  const dense = (l: Linear) => l.weight as Tensor;

  // OWL pass 1: outlier ratios from dense statistics, every block fed dense outputs
  let blockBudget: number[] | null = null;
  let xs: Tensor[] = needsCalib ? opts.calibration!.map((ids) => runner.embed(ids)) : [];
  if (budget.kind === 'owl') {
    const { lambda, hyperM } = { ...OWL_DEFAULTS, ...budget };
    const D: number[] = [];
    let h = xs;
    for (let b = 0; b < B; b++) {
      progress({ phase: 'outliers', block: b });
      access.enter(b, blocks[b]!);
      const stats = await observeBlock(runner, b, blocks[b]!, h, { norms: true }, checkAbort);
      h = stats.outputs;
      D.push(
        owlOutlierRatio(
          blocks[b]!.map(([n, l]) => wandaScores(dense(l), stats.of(n).squaredNorms()).data),
          hyperM,
        ),
      );
      access.leave(b, blocks[b]!, false);
    }
    blockBudget =
      spec.kind === 'nm' ? owlNMZeros(D, spec.n, spec.m, lambda) : owlSparsities(D, spec.sparsity, lambda);
    report.blockBudget = blockBudget;
  }
  const fractionFor = (name: string, b: number): number =>
    perLayer ? perLayer.get(name)! : blockBudget ? blockBudget[b]! : sparsityOf(spec);
  const nmFor = (b: number): NMPattern | null =>
    spec.kind !== 'nm' ? null : { n: blockBudget ? blockBudget[b]! : spec.n, m: spec.m };
  const record = (name: string, l: Linear, target: number, b: number) => {
    const w = dense(l);
    const zeros = countZeros(w);
    report.layers.push({ name, rows: w.rows, cols: w.cols, target, zeros, sparsity: zeros / w.size });
    progress({ phase: 'prune', block: b, layer: name });
  };

  if (budget.kind === 'global') {
    blocks.forEach((linears, b) => {
      access.enter(b, linears);
    });
    const all = blocks.flat();
    const masks = magnitudeGlobalMasks(
      all.map(([, l]) => dense(l)),
      spec.kind === 'unstructured' ? spec.sparsity : 0,
    );
    all.forEach(([name, l], i) => {
      l.weight = masks[i]!.apply(dense(l)); // a new tensor: kernels may hold a resident copy of the old one
      record(name, l, sparsityOf(spec), Number(/\.(\d+)\./.exec(name)![1]));
    });
  } else {
    const needs: StatsNeeds =
      opts.method === 'sparsegpt'
        ? { gram: true }
        : opts.method === 'dsnot'
          ? { norms: true, moments: true }
          : opts.method === 'wanda'
            ? { norms: true }
            : {};
    const calibrated = opts.method === 'wanda' || opts.method === 'sparsegpt' || opts.method === 'dsnot';
    const anatomies: BlockAnatomy[] = [];
    const removed: BlockRemoval[] = [];
    for (let b = 0; b < B; b++) {
      await checkAbort();
      const linears = blocks[b]!;
      access.enter(b, linears);
      let stats: BlockStats | null = null;
      let structured: { anatomy: BlockAnatomy; plan: BlockRemoval } | undefined;
      if (calibrated) {
        progress({ phase: 'calibrate', block: b });
        stats = await observeBlock(runner, b, linears, xs, needs, checkAbort);
      }
      if (opts.structure) {
        const byName = new Map(linears);
        const anatomy = blockAnatomy(model.config, names, b);
        const plan = planBlockRemoval(
          anatomy,
          (n) => dense(byName.get(n)!),
          (n) => (stats ? stats.of(n).squaredNorms() : null),
          sparsityOf(spec),
          opts.structure,
        );
        zeroRemoved(anatomy, plan, (n) => byName.get(n)!);
        anatomies.push(anatomy);
        removed.push(plan);
        structured = { anatomy, plan };
        for (const [name, l] of linears) record(name, l, sparsityOf(spec), b);
      } else {
        for (const [name, l] of linears) {
          await checkAbort();
          const nm = nmFor(b);
          const target = nm ? nm.n / nm.m : fractionFor(name, b);
          pruneLayer(name, l, nm, target, stats, opts, report);
          record(name, l, target, b);
        }
      }
      if (needsCalib && b < B - 1) {
        const next: Tensor[] = [];
        for (const x of xs) {
          await checkAbort();
          next.push(runner.run(b, x));
        }
        xs = next;
      }
      access.leave(b, linears, true, structured);
    }
    if (opts.structure) {
      report.anatomies = anatomies;
      report.removed = removed;
    }
  }
  let zeros = 0;
  let size = 0;
  for (const l of report.layers) {
    zeros += l.zeros;
    size += l.rows * l.cols;
  }
  report.sparsity = size === 0 ? 0 : zeros / size;
  return report;
}

/** The statistics of one block's linears and the block's (dense) outputs. */
interface BlockStats {
  of(name: string): InputStats;
  outputs: Tensor[];
}

/**
 * Run block b on every input with observers on its linears. Linears fed the very same input tensor (q, k, v;
 * gate, up) share one InputStats, accumulated once.
 */
async function observeBlock(
  runner: ReturnType<CausalModel['blockwise']>,
  b: number,
  linears: Array<[string, Linear]>,
  xs: Tensor[],
  needs: StatsNeeds,
  checkAbort: () => Promise<void>,
): Promise<BlockStats> {
  const statsOf = new Map<string, InputStats>();
  const owners = new Set<string>();
  const outputs: Tensor[] = [];
  let first = true;
  let seen = new Map<Tensor, InputStats>();
  for (const [name, l] of linears) {
    l.onInput = (x, layout) => {
      if (first) {
        const shared = seen.get(x);
        if (shared) {
          statsOf.set(name, shared);
          return;
        }
        const s = new InputStats(l.inFeatures, needs);
        statsOf.set(name, s);
        owners.add(name);
        seen.set(x, s);
      }
      if (owners.has(name)) statsOf.get(name)!.observe(x, layout);
    };
  }
  try {
    for (const x of xs) {
      await checkAbort();
      outputs.push(runner.run(b, x));
      first = false;
      seen = new Map();
    }
  } finally {
    for (const [, l] of linears) l.onInput = null;
  }
  return {
    of: (name) => {
      const s = statsOf.get(name);
      if (!s) throw new Error(`prune: ${name} was not called in block ${b}'s forward`);
      return s;
    },
    outputs,
  };
}

/** Prune one linear in place with the chosen method. */
function pruneLayer(
  name: string,
  l: Linear,
  nm: NMPattern | null,
  s: number,
  stats: BlockStats | null,
  opts: PruneOptions,
  report: PruneReport,
): void {
  const w = l.weight as Tensor;
  if (nm && nm.n === 0) return; // OWL N:M can leave a block dense
  let mask: Mask;
  switch (opts.method) {
    case 'magnitude':
      mask = nm ? magnitudeNMMask(w, nm) : magnitudeMask(w, s, opts.magnitude);
      break;
    case 'random': {
      const seed = (opts.seed ?? 0) * 7919 + report.layers.length;
      mask = nm ? randomNMMask(w, nm, seed) : randomMask(w, s, seed);
      break;
    }
    case 'wanda': {
      const S2 = stats!.of(name).squaredNorms();
      mask = nm ? wandaNMMask(w, S2, nm) : wandaMask(w, S2, s);
      break;
    }
    case 'sparsegpt': {
      const r = sparsegpt(w, stats!.of(name).hessian(), {
        ...opts.sparsegpt,
        ...(nm ? { nm } : { sparsity: s }),
      });
      report.dampingRetries += r.dampingRetries;
      l.weight = r.weight;
      return;
    }
    case 'dsnot': {
      const st = stats!.of(name);
      const S2 = st.squaredNorms();
      const d = opts.dsnot ?? {};
      const init = d.initial ?? 'wanda';
      const scores = init === 'wanda' ? wandaScores(w, S2) : magnitudeScores(w);
      mask =
        init === 'wanda'
          ? nm
            ? wandaNMMask(w, S2, nm)
            : wandaMask(w, S2, s)
          : nm
            ? magnitudeNMMask(w, nm)
            : magnitudeMask(w, s, { group: 'row' });
      if (!((d.skipMlp ?? true) && isMlp(name))) {
        mask = dsnot(
          w,
          mask,
          { S1: st.columnSums(), S2, V: st.withinVariance() },
          {
            ...d,
            ...(nm ? { nm, initialScores: scores } : {}),
          },
        ).mask;
      }
      break;
    }
  }
  l.weight = mask.apply(w); // a new tensor: kernels may hold a resident copy of the old one
}
