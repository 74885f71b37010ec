/**
 * The kernel benchmark suite: sparsekit dense, each sparse format through the public `matmul`, the
 * column-sparse GEMV, and onnxruntime-node's dense MatMul as the peer, cold-cache, in one process.
 *
 * One weight group at a time (see plan.ts): prune the weight, then per implementation build its
 * cold-cache copies, time every thread count and batch, check the first output against sparsekit
 * rows of the exact product, and release the copies before the next one (4096×11008 f32 is 180 MB a copy).
 */

import { columnStream } from '../src/backend/ops/colsparse.js';
import type { Weight } from '../src/formats/index.js';
import {
  halfCsrFromDense,
  halfFromDense,
  halfToDense,
  nmPruneMagnitude,
  toFormat,
  weightNbytes,
} from '../src/formats/index.js';
import { columnSparseGemv, matmul, registeredOps, relError, release, runtime } from '../src/index.js';
import { randn, sparsify } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { attachRatios } from './analysis.js';
import type { KernelCase, WeightFormat } from './cases.js';
import { cpuSnapshot } from './cpu-share.js';
import { loadOrt, ORT_INSTALL_HINT, type OrtModule, peerSessions } from './ort-peer.js';
import { defaultReps, kernelPlan, type WeightGroup } from './plan.js';
import { type ProgressSink, progress } from './progress.js';
import type { CaseResult, SuiteResult } from './results.js';
import { resultHeader, type SuiteOptions } from './suite.js';
import { Interrupted, median, timeCold } from './timing.js';
import { activeSet, blockSparsify, coldCopies, lastLevelCache, transposed } from './weights.js';

/** Options of `sparsekit bench kernels`. */
export interface KernelSuiteOptions extends SuiteOptions {
  /** Extra timed calls per case while they fit in this many seconds (default 0.5). */
  budgetSeconds?: number;
}

/** Seeds: the same weights, inputs and sparsity patterns every run. */
const SEED = { weight: 7, input: 11, prune: 13 };
/** A case whose first output differs from the exact rows by more than this (relError) is reported as an error. */
const MAX_REL_ERROR = 1e-4;

/** Whether (op, formats) has a WebAssembly kernel registered (not just a reference). */
function hasFastPath(op: string, format: string): boolean {
  const key = `${op}(${format},dense)`;
  return registeredOps().some((o) => o.key === key && o.fast);
}

/** The dense weight a group runs on: pruned as its pattern says (rounded to its half-precision storage). */
function prunedWeight(base: Tensor, g: WeightGroup): Tensor {
  const rounded = g.storage ? halfToDense(halfFromDense(base, g.storage)) : base;
  return g.pattern === 'dense' ? rounded : applyPattern(rounded, g);
}

function applyPattern(base: Tensor, g: WeightGroup): Tensor {
  switch (g.pattern) {
    case 'dense':
    case 'inputs':
      return base;
    case 'unstructured':
      return sparsify(base, g.sparsity, SEED.prune);
    case 'block':
      return blockSparsify(base, g.block![0], g.block![1], g.sparsity, SEED.prune);
    case 'nm':
      return nmPruneMagnitude(base, g.nm![0], g.nm![1]);
  }
}

/** The sparse format object (or the dense tensor) for a sparsekit case, and its exact bytes. */
function packWeight(w: Tensor, c: KernelCase): { weight: Weight; nbytes: number } {
  const weight = formatWeight(w, c);
  return { weight, nbytes: weightNbytes(weight) };
}

function formatWeight(w: Tensor, c: KernelCase): Weight {
  switch (c.format as WeightFormat) {
    case 'dense':
      return w;
    case 'csr':
      return toFormat(w, { format: 'csr' });
    case 'csr_bf16':
      return halfCsrFromDense(w, 'bf16');
    case 'coo':
      return toFormat(w, { format: 'coo' });
    case 'bitmask':
      return toFormat(w, { format: 'bitmask' });
    case 'bsr':
      return toFormat(w, { format: 'bsr', blockRows: c.block![0], blockCols: c.block![1] });
    case 'nm':
      return toFormat(w, { format: 'nm', n: c.nm![0], m: c.nm![1] });
    case 'bf16':
    case 'f16':
      return halfFromDense(w, c.format as 'bf16' | 'f16');
  }
}

/** Distinct objects over the same host arrays: each becomes its own resident copy in kernel memory. */
function copiesOf(w: Weight, n: number): Weight[] {
  return Array.from({ length: n }, () => (w instanceof Tensor ? new Tensor(w.data, w.shape) : { ...w }));
}

/** A rough time for a case (seconds), only to weight progress and ETA. */
function estimateSeconds(c: KernelCase, llcBytes: number, reps: number): number {
  const copies = coldCopies(c.weightBytes(), llcBytes);
  const rate = c.impl === 'onnxruntime' || c.pattern === 'dense' ? 40e9 : 8e9;
  const call = Math.max(c.bytes() / 12e9, c.flops() / rate) / c.threads ** 0.6 + 2e-5;
  return (copies + reps) * call + c.weightBytes() / 2e9;
}

function emptyResult(c: KernelCase, status: CaseResult['status'], note?: string): CaseResult {
  const { nnz, flops, denseFlops, weightBytes, bytes, ...spec } = c;
  return { ...spec, status, ...(note ? { note } : {}), nnz: nnz(), weightBytes: weightBytes() };
}

function timedResult(c: KernelCase, ms: number[], copies: number, extra: Partial<CaseResult>): CaseResult {
  const med = median(ms);
  return {
    ...emptyResult(c, 'ok'),
    ...extra,
    copies,
    samples: ms.length,
    ms: ms.map((v) => Math.round(v * 1e4) / 1e4),
    medianMs: med,
    minMs: Math.min(...ms),
    usefulGflops: c.flops() / (med * 1e6),
    denseEqGflops: c.denseFlops() / (med * 1e6),
    gbps: c.bytes() / (med * 1e6),
  };
}

/** Per batch: the right-hand side, and the rows of the exact output every case's first result is checked on. */
interface BatchData {
  b: Tensor;
  rows: Uint32Array;
  expected: Float32Array;
}

/** The suite's state across groups. */
class KernelRun {
  readonly results: CaseResult[] = [];
  private base: { M: number; K: number; w: Tensor } | undefined;
  private ort: OrtModule | null | undefined;
  ortVersion = 'not loaded';

  constructor(
    readonly llc: { bytes: number; source: string },
    readonly reps: number,
    readonly budgetSeconds: number,
    readonly shouldStop: () => boolean,
    readonly sink: ProgressSink,
  ) {}

  private baseWeight(M: number, K: number): Tensor {
    if (!this.base || this.base.M !== M || this.base.K !== K) {
      this.base = undefined; // let the old one go before making the new one
      this.base = { M, K, w: randn([M, K], SEED.weight) };
    }
    return this.base.w;
  }

  private async peer(): Promise<OrtModule | null> {
    if (this.ort !== undefined) return this.ort;
    try {
      const { ort, version } = await loadOrt();
      this.ort = ort;
      this.ortVersion = version;
    } catch (e) {
      this.sink.note(`sparsekit bench: ${(e as Error).message}`);
      this.ort = null;
    }
    return this.ort;
  }

  copiesFor(c: KernelCase): number {
    return coldCopies(c.weightBytes(), this.llc.bytes);
  }

  private finish(c: KernelCase, r: CaseResult): void {
    this.results.push(r);
    const rate =
      r.status === 'ok'
        ? `${r.medianMs!.toFixed(3)} ms, ${r.usefulGflops!.toFixed(1)} GFLOP/s, ${r.gbps!.toFixed(1)} GB/s`
        : `${r.status}${r.note ? ` (${r.note})` : ''}`;
    this.sink.advance(estimateSeconds(c, this.llc.bytes, this.reps), c.id, rate);
  }

  /** Run every case of one weight group. */
  async group(g: WeightGroup): Promise<void> {
    const w = prunedWeight(this.baseWeight(g.M, g.K), g);
    const batches = [...new Set(g.cases.map((c) => c.N))];
    const data = new Map<number, BatchData>();
    for (const N of batches) {
      const b = N === 1 ? randn([g.K], SEED.input) : randn([g.K, N], SEED.input + N);
      const rows = checkRows(g.M);
      data.set(N, { b, rows, expected: expectedRows(w, b, g, rows) });
    }
    const variants = new Map<string, KernelCase[]>();
    for (const c of g.cases) {
      const key = `${c.impl} ${c.op} ${c.format} ${c.layout ?? ''} ${c.pass ?? 1}`;
      variants.set(key, [...(variants.get(key) ?? []), c]);
    }
    for (const cases of variants.values()) {
      const before = this.results.length;
      try {
        if (cases[0]!.impl === 'onnxruntime') await this.peerCases(w, cases, data);
        else await this.sparsekitCases(w, cases, data, g);
      } catch (e) {
        if (e instanceof Interrupted) throw e;
        // One failing implementation (a kernel error, memory exhausted) must not lose the rest of the run.
        const done = new Set(this.results.slice(before).map((r) => r.id));
        const message = (e as Error).message.split('\n')[0]!;
        for (const c of cases) if (!done.has(c.id)) this.finish(c, emptyResult(c, 'error', message));
      }
    }
  }

  private async sparsekitCases(w: Tensor, cases: KernelCase[], data: Map<number, BatchData>, g: WeightGroup) {
    const first = cases[0]!;
    const op = first.op === 'colsparse_gemv' ? 'colsparse_gemv' : 'matmul';
    if (!hasFastPath(op, first.format)) {
      const note = `${op}(${first.format},dense) has only a reference implementation; not timed`;
      for (const c of cases) this.finish(c, emptyResult(c, 'no fast path', note));
      return;
    }
    const { weight, nbytes } = packWeight(w, first);
    const copies = copiesOf(weight, this.copiesFor(first));
    const active = op === 'colsparse_gemv' ? activeSet(g.K, g.K - Math.round(g.K * g.sparsity)) : undefined;
    try {
      for (const c of cases) {
        runtime().setThreads(c.threads);
        const { b, rows, expected } = data.get(c.N)!;
        const call = active
          ? (i: number) => columnSparseGemv(copies[i] as Tensor, b, active)
          : (i: number) => matmul(copies[i]!, b);
        const s = await timeCold(call, this.plan(copies.length), this.shouldStop);
        const err = relError(gatherRows((s.first as Tensor).data, c.M, c.N, rows), expected);
        const extra: Partial<CaseResult> = { measuredWeightBytes: nbytes };
        if (active) extra.columnStream = await this.columnStreams(copies as Tensor[], active, c.K);
        this.finish(c, this.checked(c, s.ms, copies.length, err, extra));
      }
    } finally {
      for (const cw of copies) release(cw);
    }
  }

  /** The column-sparse read pattern alone (columnStream), on the active columns and on all K in order. */
  private async columnStreams(copies: Tensor[], active: Uint32Array, K: number) {
    const rate = async (set: Uint32Array) => {
      const s = await timeCold(
        (i) => columnStream(copies[i]!, set),
        this.plan(copies.length),
        this.shouldStop,
      );
      return (set.length * copies[0]!.shape[0]! * 4) / (median(s.ms) / 1000);
    };
    const all = Uint32Array.from({ length: K }, (_, k) => k);
    return { activeBytesPerSecond: await rate(active), allBytesPerSecond: await rate(all) };
  }

  private async peerCases(w: Tensor, cases: KernelCase[], data: Map<number, BatchData>) {
    const ort = await this.peer();
    if (!ort) {
      for (const c of cases) this.finish(c, emptyResult(c, 'unavailable', ORT_INSTALL_HINT));
      return;
    }
    const first = cases[0]!;
    const layout = first.layout!;
    const [M, K] = [first.M, first.K];
    const weight = layout === 'wx' ? w.data : transposed(w);
    const copies = this.copiesFor(first);
    for (const threads of [...new Set(cases.map((c) => c.threads))]) {
      const sessions = await peerSessions(ort, layout, M, K, weight, threads, copies);
      try {
        for (const c of cases.filter((x) => x.threads === threads)) {
          const { b, rows, expected } = data.get(c.N)!;
          // xw wants x [N,K] (Bᵀ), wx wants x [K,N] (B itself)
          const x = layout === 'wx' ? b.data : transposed(b.rank === 1 ? b.reshape([K, 1]) : b);
          const dims = layout === 'wx' ? [K, c.N] : [c.N, K];
          const feeds = { x: new ort.Tensor('float32', x, dims) };
          const s = await timeCold((i) => sessions[i]!.run(feeds), this.plan(copies), this.shouldStop);
          const y = (s.first as Record<string, { data: Float32Array }>).y!.data;
          const err = relError(gatherRows(y, M, c.N, rows, layout === 'xw'), expected);
          this.finish(c, this.checked(c, s.ms, copies, err, { measuredWeightBytes: M * K * 4 }));
        }
      } finally {
        await Promise.all(sessions.map((s) => s.release()));
      }
    }
  }

  private plan(copies: number) {
    return { copies, reps: this.reps, budgetSeconds: this.budgetSeconds };
  }

  private checked(
    c: KernelCase,
    ms: number[],
    copies: number,
    err: number,
    extra: Partial<CaseResult>,
  ): CaseResult {
    const r = timedResult(c, ms, copies, { ...extra, relError: err });
    if (!(err <= MAX_REL_ERROR)) {
      r.status = 'error';
      r.note = `output differs from the exact product by ${err.toExponential(2)} (limit ${MAX_REL_ERROR})`;
    } else if (
      c.pattern !== 'inputs' && // column-sparse GEMV plans only the active columns it streams
      c.format !== 'coo' && // matmul(coo) streams the CSR it is converted to
      extra.measuredWeightBytes !== undefined &&
      extra.measuredWeightBytes !== c.weightBytes()
    ) {
      // the rates are computed from the planned bytes: a weight that is not the one planned times something else
      r.status = 'error';
      r.note = `the packed weight has ${extra.measuredWeightBytes} bytes, not the ${c.weightBytes()} its case plans`;
    }
    return r;
  }
}

/** Output rows the check compares: 64 spread evenly over [0, M), first and last included (all when M ≤ 64). */
function checkRows(M: number): Uint32Array {
  const n = Math.min(M, 64);
  return Uint32Array.from({ length: n }, (_, j) => (n === 1 ? 0 : Math.round((j * (M - 1)) / (n - 1))));
}

/**
 * The expected output rows `rows` of W·B [M,N] (B masked to the active inputs for column-sparse groups),
 * computed in plain TypeScript with f64 sums: independent of every kernel being timed.
 */
function expectedRows(w: Tensor, b: Tensor, g: WeightGroup, rows: Uint32Array): Float32Array {
  const [M, K] = [g.M, g.K];
  const N = b.rank === 1 ? 1 : b.shape[1]!;
  let keep: Uint8Array | undefined;
  if (g.pattern === 'inputs') {
    keep = new Uint8Array(K);
    for (const k of activeSet(K, K - Math.round(K * g.sparsity))) keep[k] = 1;
  }
  const out = new Float32Array(rows.length * N);
  const acc = new Float64Array(N);
  rows.forEach((i, r) => {
    if (i >= M) throw new RangeError(`expectedRows: row ${i} ≥ ${M}`);
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const v = w.data[i * K + k]!;
      if (v === 0 || (keep && !keep[k])) continue;
      for (let n = 0; n < N; n++) acc[n]! += v * b.data[k * N + n]!;
    }
    out.set(acc, r * N);
  });
  return out;
}

/** Rows `rows` of an output laid out [M,N] (or, with `transposedOut`, [N,M]). */
function gatherRows(
  y: Float32Array,
  M: number,
  N: number,
  rows: Uint32Array,
  transposedOut = false,
): Float32Array {
  const out = new Float32Array(rows.length * N);
  rows.forEach((i, r) => {
    for (let n = 0; n < N; n++) out[r * N + n] = transposedOut ? y[n * M + i]! : y[i * N + n]!;
  });
  return out;
}

/**
 * Run the kernel suite and return its results (ratios attached). Throws Interrupted if `shouldStop`
 * turns true; nothing is written here (the caller writes files only after a complete run).
 */
export async function runKernelSuite(opts: KernelSuiteOptions): Promise<SuiteResult> {
  const threads = opts.threads ?? (opts.quick ? [1] : [1, 2]);
  const reps = opts.reps ?? defaultReps(opts.quick);
  const groups = kernelPlan({ quick: opts.quick, threads, ...(opts.only ? { only: opts.only } : {}) });
  if (!groups.length) throw new RangeError(`bench kernels: --only "${opts.only}" matches no case`);
  const started = performance.now();
  const cpuAtStart = cpuSnapshot();
  const rt = runtime();
  const llc = lastLevelCache();
  const total = groups.reduce(
    (s, g) => s + g.cases.reduce((t, c) => t + estimateSeconds(c, llc.bytes, reps), 0),
    0,
  );
  const sink = progress(total, opts.quick ? 'kernels --quick' : 'kernels', opts.quiet ?? false);
  const run = new KernelRun(llc, reps, opts.budgetSeconds ?? 0.5, opts.shouldStop ?? (() => false), sink);
  try {
    for (const g of groups) {
      if (opts.shouldStop?.()) throw new Interrupted();
      sink.note(`group ${g.key}: ${g.cases.length} cases`);
      await run.group(g);
    }
  } finally {
    sink.stop();
    rt.setThreads(threads[0]!);
  }
  return {
    ...resultHeader('kernels', opts, {
      started,
      cpuAtStart,
      llc: run.llc,
      wasmVariant: rt.variant,
      onnxruntime: run.ortVersion,
      threads,
      reps,
    }),
    cases: attachRatios(run.results),
  };
}
