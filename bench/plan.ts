/**
 * The kernel suite's plan: which cases run, grouped by the weight they need so that each weight is
 * built once, used for every format, thread count and batch, then released.
 */

import {
  type KernelCase,
  type KernelCaseSpec,
  kernelCase,
  type SparsityPattern,
  type WeightFormat,
} from './cases.js';

/** Options that shape the plan (from the command line). */
export interface PlanOptions {
  quick: boolean;
  threads: number[];
  /** Keep only cases whose id contains this (plus the dense baselines they are compared with). */
  only?: string;
}

/** One pruned weight and every case that runs on it. */
export interface WeightGroup {
  /** e.g. `4096x4096 unstructured 90%`. */
  key: string;
  M: number;
  K: number;
  pattern: SparsityPattern;
  sparsity: number;
  block?: [number, number];
  nm?: [number, number];
  /** Dense weights stored in half precision: the group's weight is rounded to it (so checks are exact). */
  storage?: 'bf16' | 'f16';
  cases: KernelCase[];
}

/** Full-run grid. 4096×11008 is M=4096 outputs × K=11008 inputs (an FFN down-projection). */
export const FULL = {
  shapes: [
    [4096, 4096],
    [4096, 11008],
  ] as Array<[number, number]>,
  batches: [1, 8, 64],
  unstructured: [0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95],
  /** COO runs through CSR, so a few points show its overhead. */
  coo: [0.5, 0.75, 0.9, 0.95],
  block: [0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95],
  reps: 5,
};

/** `--quick`: one shape, batch 1 and 8, fewer sparsities; the default threads are [1]. */
export const QUICK = {
  shapes: [[4096, 4096]] as Array<[number, number]>,
  batches: [1, 8],
  unstructured: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
  coo: [] as number[],
  block: [0.5, 0.75, 0.9],
  reps: 3,
};

/** Formats timed on an unstructured weight. */
const UNSTRUCTURED_FORMATS: WeightFormat[] = ['csr', 'bitmask'];
/** Size of the compute-bound dense probe. */
export const GEMM_SIZE = 1024;
/** Fraction of inputs active in the column-sparse GEMV case. */
export const ACTIVE_INPUTS = 0.5;

type GroupSpec = Omit<WeightGroup, 'key' | 'cases'>;

function groupKey(g: GroupSpec): string {
  const kind =
    g.pattern === 'block'
      ? `block${g.block![0]}x${g.block![1]}`
      : g.pattern === 'nm'
        ? `${g.nm![0]}:${g.nm![1]}`
        : g.pattern;
  const s = g.pattern === 'dense' || g.pattern === 'nm' ? '' : ` ${Math.round(g.sparsity * 1000) / 10}%`;
  return `${g.M}x${g.K} ${kind}${s}${g.storage ? ` ${g.storage}` : ''}`;
}

type Variant = Pick<KernelCaseSpec, 'op' | 'impl' | 'format' | 'layout' | 'pass'> & { batches: number[] };

function expand(g: GroupSpec, variants: Variant[], threads: number[]): WeightGroup {
  const cases: KernelCase[] = [];
  for (const t of threads) {
    for (const v of variants) {
      for (const N of v.batches) {
        const { batches: _, ...rest } = v;
        const { storage: _s, ...shape } = g;
        cases.push(kernelCase({ ...rest, ...shape, N, threads: t, sparsity: g.sparsity }));
      }
    }
  }
  return { ...g, key: groupKey(g), cases };
}

/** Every weight group of the kernel suite, before `--only` filtering. */
function allGroups(opts: PlanOptions): WeightGroup[] {
  const grid = opts.quick ? QUICK : FULL;
  const { threads } = opts;
  const groups: WeightGroup[] = [];
  const ort = (layout: 'xw' | 'wx', batches: number[]): Variant => ({
    op: 'matmul',
    impl: 'onnxruntime',
    format: 'dense',
    layout,
    batches,
  });
  groups.push(
    expand(
      { M: GEMM_SIZE, K: GEMM_SIZE, pattern: 'dense', sparsity: 0 },
      [
        { op: 'gemm', impl: 'sparsekit', format: 'dense', batches: [GEMM_SIZE] },
        { ...ort('xw', [GEMM_SIZE]), op: 'gemm' },
        { ...ort('wx', [GEMM_SIZE]), op: 'gemm' },
      ],
      threads,
    ),
  );
  for (const [M, K] of grid.shapes) {
    const b = grid.batches;
    const baselines = (pass: number): WeightGroup => {
      const g = expand(
        { M, K, pattern: 'dense', sparsity: 0 },
        (
          [
            ort('xw', b),
            ort('wx', b),
            { op: 'matmul', impl: 'sparsekit', format: 'dense', batches: b },
          ] as Variant[]
        ).map((v): Variant => (pass > 1 ? { ...v, pass } : v)),
        threads,
      );
      return pass > 1 ? { ...g, key: `${g.key} (pass ${pass})` } : g;
    };
    groups.push(baselines(1));
    groups.push(
      expand(
        { M, K, pattern: 'inputs', sparsity: 1 - ACTIVE_INPUTS },
        [{ op: 'colsparse_gemv', impl: 'sparsekit', format: 'dense', batches: [1] }],
        threads,
      ),
    );
    for (const s of grid.unstructured) {
      const formats = [...UNSTRUCTURED_FORMATS, ...(grid.coo.includes(s) ? (['coo'] as const) : [])];
      const variants = formats.map(
        (format): Variant => ({ op: 'matmul', impl: 'sparsekit', format, batches: b }),
      );
      groups.push(expand({ M, K, pattern: 'unstructured', sparsity: s }, variants, threads));
    }
    // CSR with bf16 values (a pruned bf16 checkpoint's layout), on the weight rounded to bf16: the decode case
    for (const s of grid.unstructured) {
      groups.push(
        expand(
          { M, K, pattern: 'unstructured', sparsity: s, storage: 'bf16' },
          [{ op: 'matmul', impl: 'sparsekit', format: 'csr_bf16', batches: [1] }],
          threads,
        ),
      );
    }
    groups.push(
      expand(
        { M, K, pattern: 'nm', sparsity: 0.5, nm: [2, 4] },
        [{ op: 'matmul', impl: 'sparsekit', format: 'nm', batches: b }],
        threads,
      ),
    );
    for (const storage of ['bf16', 'f16'] as const) {
      groups.push(
        expand(
          { M, K, pattern: 'dense', sparsity: 0, storage },
          [{ op: 'matmul', impl: 'sparsekit', format: storage, batches: b }],
          threads,
        ),
      );
    }
    for (const s of grid.block) {
      groups.push(
        expand(
          { M, K, pattern: 'block', sparsity: s, block: [4, 4] },
          [{ op: 'matmul', impl: 'sparsekit', format: 'bsr', batches: b }],
          threads,
        ),
      );
    }
    // The baselines again: memory bandwidth on a shared host drifts over minutes, so ratios use both
    // passes pooled and the report shows how far the two passes disagree.
    groups.push(baselines(2));
  }
  return groups;
}

/**
 * The plan. With `only`, a case stays if its id contains the text; the dense baselines of the same
 * shape, batch and threads (sparsekit dense and onnxruntime) stay too, so its ratios can be computed.
 */
export function kernelPlan(opts: PlanOptions): WeightGroup[] {
  // with --only, a case's baselines are timed around it (pass 1 before, pass 2 after) like in a full run
  const groups = allGroups(opts);
  const only = opts.only;
  if (!only) return groups;
  const wanted = new Set<string>();
  for (const g of groups)
    for (const c of g.cases) if (c.id.includes(only)) wanted.add(`${c.M}x${c.K} N=${c.N} t${c.threads}`);
  return groups
    .map((g) => ({
      ...g,
      cases: g.cases.filter(
        (c) =>
          c.id.includes(only) ||
          (g.pattern === 'dense' &&
            c.format === 'dense' &&
            wanted.has(`${c.M}x${c.K} N=${c.N} t${c.threads}`)),
      ),
    }))
    .filter((g) => g.cases.length > 0);
}

/** Default reps for a mode. */
export function defaultReps(quick: boolean): number {
  return (quick ? QUICK : FULL).reps;
}
