/**
 * Thread pool: worker_threads that instantiate the same compiled kernels against the same shared
 * WebAssembly.Memory. A job is (kernel, numeric args, row range); the calling thread runs the first
 * range itself, so `threads = 2` means one worker. Jobs are signalled through a shared Int32Array with
 * Atomics.wait/notify after a short spin, so a call stays synchronous.
 */

import { Worker } from 'node:worker_threads';

/** Slot layout in the shared control arrays (one 64-byte line per worker so flags never share a line). */
const SLOT_I32 = 16;
const SLOT_F64 = 32;
const MAX_ARGS = SLOT_F64 - 4;
/** Flag values in a worker's slot. */
const IDLE = 0;
const BUSY = 1;
const FAILED = 2;
const READY_TIMEOUT_MS = 10_000;
/** Iterations the caller spins on a worker's flag before sleeping on it. */
const SPIN = 4000;
/**
 * How long (µs) an idle worker keeps polling its flag before it sleeps; SPARSEKIT_POOL_SPIN_US overrides it.
 * Waking a sleeping worker costs tens of µs on a VM, about the length of one decode-step GEMV.
 */
export const WORKER_SPIN_MICROS = spinMicrosFromEnv(process.env.SPARSEKIT_POOL_SPIN_US, 200);

/** A non-negative number of µs from `value`, else `fallback`. */
export function spinMicrosFromEnv(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value.trim() !== '' && Number.isFinite(n) && n >= 0 ? n : fallback;
}

export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  args: SharedArrayBuffer;
  kernels: string[];
  slot: number;
  /** µs an idle worker polls before sleeping. */
  spinMicros: number;
}

export type KernelFn = (...args: number[]) => unknown;

/** Runs row ranges of a kernel on `threads` threads (the caller plus threads − 1 workers). */
export class ThreadPool {
  readonly threads: number;
  private readonly workers: Worker[] = [];
  private readonly flags: Int32Array;
  private readonly args: Float64Array;
  private readonly ids = new Map<string, number>();

  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    private readonly local: Record<string, KernelFn>,
    threads: number,
  ) {
    const kernels = Object.keys(local).filter((k) => typeof local[k] === 'function');
    for (const [i, k] of kernels.entries()) this.ids.set(k, i);
    const n = Math.max(0, threads - 1);
    const control = new SharedArrayBuffer(Math.max(1, n) * SLOT_I32 * 4);
    const args = new SharedArrayBuffer(Math.max(1, n) * SLOT_F64 * 8);
    this.flags = new Int32Array(control);
    this.args = new Float64Array(args);
    const url = new URL('./worker.js', import.meta.url);
    for (let slot = 0; slot < n; slot++) {
      Atomics.store(this.flags, slot * SLOT_I32, BUSY);
      const init: WorkerInit = {
        module,
        memory,
        control,
        args,
        kernels,
        slot,
        spinMicros: WORKER_SPIN_MICROS,
      };
      const w = new Worker(url, { workerData: init });
      w.unref();
      this.workers.push(w);
    }
    // Wait (synchronously) until every worker has instantiated the kernels and marked itself idle.
    let started = 0;
    for (let slot = 0; slot < n; slot++) {
      const r = Atomics.wait(this.flags, slot * SLOT_I32, BUSY, READY_TIMEOUT_MS);
      if (r === 'timed-out' && Atomics.load(this.flags, slot * SLOT_I32) === BUSY) break;
      started++;
    }
    if (started < n) {
      this.close();
      throw new Error(`ThreadPool: only ${started} of ${n} workers started within ${READY_TIMEOUT_MS} ms`);
    }
    this.threads = n + 1;
  }

  /**
   * Run `kernel(...args, start, end)` for every [start, end) in `ranges` (at most `threads` of them),
   * the first on this thread, and return when all are done.
   */
  run(kernel: string, args: readonly number[], ranges: ReadonlyArray<readonly [number, number]>): void {
    const fn = this.local[kernel];
    const id = this.ids.get(kernel);
    if (!fn || id === undefined) throw new Error(`ThreadPool.run: no kernel named ${kernel}`);
    if (ranges.length > this.threads) {
      throw new RangeError(`ThreadPool.run: ${ranges.length} ranges for ${this.threads} threads`);
    }
    if (args.length + 2 > MAX_ARGS) throw new RangeError(`ThreadPool.run: at most ${MAX_ARGS - 2} args`);
    const started: number[] = [];
    for (let r = 1; r < ranges.length; r++) {
      const slot = r - 1;
      const base = slot * SLOT_F64;
      const [s, e] = ranges[r]!;
      if (s >= e) continue;
      this.args[base] = id;
      this.args[base + 1] = args.length + 2;
      for (let i = 0; i < args.length; i++) this.args[base + 2 + i] = args[i]!;
      this.args[base + 2 + args.length] = s;
      this.args[base + 3 + args.length] = e;
      Atomics.store(this.flags, slot * SLOT_I32, BUSY);
      Atomics.notify(this.flags, slot * SLOT_I32);
      started.push(slot);
    }
    const first = ranges[0];
    let error: unknown;
    if (first && first[0] < first[1]) {
      try {
        fn(...args, first[0], first[1]);
      } catch (e) {
        error = e;
      }
    }
    let failed = false;
    for (const slot of started) {
      const at = slot * SLOT_I32;
      for (let i = 0; i < SPIN && Atomics.load(this.flags, at) === BUSY; i++);
      while (Atomics.load(this.flags, at) === BUSY) Atomics.wait(this.flags, at, BUSY, 1000);
      if (Atomics.load(this.flags, at) === FAILED) {
        failed = true;
        Atomics.store(this.flags, at, IDLE);
      }
    }
    if (error) throw error;
    if (failed)
      throw new Error(`ThreadPool.run: kernel ${kernel} trapped in a worker (bad offsets or sizes?)`);
  }

  /** Stop the workers. */
  close(): void {
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}

/** Split [0, total) into at most `parts` ranges whose starts are multiples of `align`. */
export function splitEven(total: number, parts: number, align = 1): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const units = Math.ceil(total / align);
  const p = Math.max(1, Math.min(parts, units));
  let start = 0;
  for (let i = 0; i < p; i++) {
    const end = i === p - 1 ? total : Math.min(total, Math.round((units * (i + 1)) / p) * align);
    if (end > start) out.push([start, end]);
    start = end;
  }
  return out;
}

/**
 * Split rows so each range holds about the same cost, from a cumulative cost array `prefix`
 * (length rows + 1, e.g. a CSR rowPtr): balances non-zeros rather than rows.
 */
export function splitByPrefix(
  prefix: ArrayLike<number>,
  parts: number,
  align = 1,
  rowCost = 0,
): Array<[number, number]> {
  const rows = prefix.length - 1;
  const costAt = (r: number) => prefix[r]! + rowCost * r;
  const total = costAt(rows);
  const p = Math.max(1, Math.min(parts, Math.ceil(rows / align)));
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 1; i <= p && start < rows; i++) {
    let end = rows;
    if (i < p) {
      const target = (total * i) / p;
      let lo = start;
      let hi = rows;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (costAt(mid) < target) lo = mid + 1;
        else hi = mid;
      }
      end = Math.min(rows, Math.max(start + align, Math.round(lo / align) * align));
    }
    out.push([start, end]);
    start = end;
  }
  return out;
}
