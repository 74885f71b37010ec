/**
 * The one place that loads WebAssembly: finds the built kernels, enables relaxed SIMD where the runtime
 * offers it, owns the shared memory, the heap and the thread pool.
 */

import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Heap } from './heap.js';
import { type KernelFn, splitEven, ThreadPool } from './pool.js';
import { KernelProfile } from './profile.js';

/** Which build of the kernels: plain SIMD128, or SIMD128 plus relaxed SIMD. */
export type WasmVariant = 'simd' | 'relaxed';

/** A typed array the heap can hold. */
export type HostArray = Float32Array | Uint32Array | Int32Array | Uint16Array | Uint8Array | Float64Array;

const notices = new Set<string>();
/** Print a notice once per process (fallbacks are worth one line, not one per call). */
export function noticeOnce(key: string, message: string): void {
  if (notices.has(key) || process.env.SPARSEKIT_QUIET) return;
  notices.add(key);
  process.stderr.write(`sparsekit: ${message}\n`);
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'kernels'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('sparsekit: cannot find the package root (looked for package.json next to src/kernels)');
}

function wasmBytes(variant: WasmVariant, shared = true): Uint8Array<ArrayBuffer> {
  const file = join(packageRoot(), 'build', 'wasm', `sparsekit.${variant}${shared ? '' : '.single'}.wasm`);
  if (!existsSync(file)) {
    throw new Error(`sparsekit: ${file} is missing; build the kernels with \`npm run build:wasm\``);
  }
  return new Uint8Array(readFileSync(file));
}

let relaxedChecked: boolean | undefined;
/** Whether this runtime accepts relaxed SIMD (turning on V8's flag for it on Node 20 if needed). */
export function relaxedSimdSupported(): boolean {
  if (relaxedChecked !== undefined) return relaxedChecked;
  const bytes = wasmBytes('relaxed', false);
  if (!WebAssembly.validate(bytes)) {
    try {
      setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      /* not V8: stays unsupported */
    }
  }
  relaxedChecked = WebAssembly.validate(bytes);
  return relaxedChecked;
}

function sharedMemorySupported(): boolean {
  try {
    return (
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer
    );
  } catch {
    return false;
  }
}

export interface RuntimeOptions {
  /** Kernel build; default: `relaxed` where supported, else `simd` (env SPARSEKIT_WASM overrides). */
  variant?: WasmVariant;
  /** Threads including the caller; default: the machine's cores (env SPARSEKIT_THREADS overrides). */
  threads?: number;
}

/** The largest call frame WasmRuntime.beginFrame keeps for reuse (a 128k-vocabulary LM head's is 0.5 MiB). */
const MAX_SCRATCH_BYTES = 4 << 20;

/** A loaded kernel module with its memory, heap and thread pool. */
export class WasmRuntime {
  readonly variant: WasmVariant;
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** The kernel exports; while a profile is open (startProfile), timing wrappers around them. */
  get kernels(): Readonly<Record<string, KernelFn>> {
    return this.calls;
  }
  readonly heap: Heap;
  private readonly exports: Readonly<Record<string, KernelFn>>;
  private calls: Readonly<Record<string, KernelFn>>;
  private profile: KernelProfile | undefined;
  private pool: ThreadPool | undefined;
  private poolThreads = 1;
  // the call-frame scratch block (beginFrame): its offset (-1 before first use), size and whether a frame holds it
  private scratch = -1;
  private scratchBytes = 0;
  private scratchBusy = false;

  constructor(options: RuntimeOptions = {}) {
    let variant = options.variant ?? (process.env.SPARSEKIT_WASM as WasmVariant | undefined);
    if (variant !== undefined && variant !== 'simd' && variant !== 'relaxed') {
      throw new Error(`sparsekit: SPARSEKIT_WASM must be "simd" or "relaxed", got "${variant}"`);
    }
    if (variant === undefined) variant = relaxedSimdSupported() ? 'relaxed' : 'simd';
    if (variant === 'relaxed' && !relaxedSimdSupported()) {
      throw new Error('sparsekit: this runtime does not support relaxed SIMD; use variant "simd"');
    }
    this.variant = variant;
    const shared = sharedMemorySupported();
    this.module = new WebAssembly.Module(wasmBytes(variant, shared));
    this.memory = new WebAssembly.Memory({
      initial: 16,
      maximum: 65536,
      shared,
    } as WebAssembly.MemoryDescriptor);
    const instance = new WebAssembly.Instance(this.module, {
      env: {
        memory: this.memory,
        abort: () => {
          throw new Error('sparsekit kernel aborted');
        },
      },
    });
    this.exports = instance.exports as Record<string, KernelFn>;
    this.calls = this.exports;
    this.heap = new Heap(this.memory, Number(this.exports.heap_base!()));
    const env = process.env.SPARSEKIT_THREADS;
    const cores = availableParallelism();
    if (options.threads === undefined && !env && cores === 1) {
      noticeOnce('one-core', 'this machine has one core: kernels run on one thread');
    }
    this.setThreads(options.threads ?? (env ? Number(env) : cores));
  }

  /** Threads a parallel kernel uses (including the caller). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Use `n` threads (1 = no workers). Falls back to 1 thread with one notice if workers cannot start. */
  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: n must be an integer ≥ 1, got ${n}`);
    if (n === this.poolThreads && (n === 1 || this.pool)) return;
    this.pool?.close();
    this.pool = undefined;
    this.poolThreads = 1;
    if (n === 1) return;
    if (!sharedMemorySupported()) {
      noticeOnce('no-sab', 'SharedArrayBuffer is unavailable: kernels run on one thread');
      return;
    }
    try {
      this.pool = new ThreadPool(this.module, this.memory, this.exports, n);
      this.poolThreads = n;
    } catch (e) {
      noticeOnce(
        'no-pool',
        `worker threads could not start (${(e as Error).message}): kernels run on one thread`,
      );
    }
  }

  /**
   * Run a row-parallel kernel: `kernel(...args, r0, r1)` over `ranges` (default: [0, rows) split evenly
   * in multiples of `align`). Problems smaller than `minWork` (in the caller's unit) stay on one thread.
   */
  parallel(kernel: string, args: readonly number[], ranges: ReadonlyArray<readonly [number, number]>): void {
    const t0 = this.profile ? performance.now() : 0;
    if (this.pool && ranges.length > 1) this.pool.run(kernel, args, ranges);
    else {
      const fn = this.exports[kernel];
      if (!fn) throw new Error(`sparsekit: no kernel named ${kernel} in the ${this.variant} build`);
      for (const [s, e] of ranges) if (s < e) fn(...args, s, e);
    }
    this.profile?.record(kernel, performance.now() - t0);
  }

  /**
   * `kernel(...args, r0, r1)` over `ranges` as a function of no arguments, for a call made again and again with
   * the same arguments (a decode step's GEMVs, see matmulInto): one range calls the export directly with a fixed
   * arity (a spread call costs about as much as a small kernel), several go through `parallel`. The kernel is
   * looked up at each call, so an open profile times it.
   */
  bind(
    kernel: string,
    args: readonly number[],
    ranges: ReadonlyArray<readonly [number, number]>,
  ): () => void {
    if (typeof this.exports[kernel] !== 'function')
      throw new Error(`sparsekit: no kernel named ${kernel} in the ${this.variant} build`);
    const only = ranges.length === 1 ? ranges[0]! : undefined;
    if (!only || args.length > 10) {
      const a = [...args];
      const r = ranges.map(([s, e]) => [s, e] as const);
      return () => this.parallel(kernel, a, r);
    }
    const [r0, r1] = only;
    if (r0 >= r1) return () => {};
    const [a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0, a9 = 0] = args;
    const k = () => this.calls[kernel]!;
    switch (args.length) {
      case 2:
        return () => void k()(a0, a1, r0, r1);
      case 3:
        return () => void k()(a0, a1, a2, r0, r1);
      case 4:
        return () => void k()(a0, a1, a2, a3, r0, r1);
      case 5:
        return () => void k()(a0, a1, a2, a3, a4, r0, r1);
      case 6:
        return () => void k()(a0, a1, a2, a3, a4, a5, r0, r1);
      case 7:
        return () => void k()(a0, a1, a2, a3, a4, a5, a6, r0, r1);
      case 8:
        return () => void k()(a0, a1, a2, a3, a4, a5, a6, a7, r0, r1);
      case 9:
        return () => void k()(a0, a1, a2, a3, a4, a5, a6, a7, a8, r0, r1);
      case 10:
        return () => void k()(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, r0, r1);
      default: {
        const a = [...args];
        return () => this.parallel(kernel, a, [[r0, r1]]);
      }
    }
  }

  /**
   * Time every kernel call from now until stopProfile: `kernels` hands out timing wrappers and each `parallel`
   * run counts as one call of its kernel. Costs a clock read per call; off by default.
   * @example const p = rt.startProfile(); model.forward(ids, cache); rt.stopProfile(); p.timings()
   */
  startProfile(): KernelProfile {
    if (this.profile) throw new Error('startProfile: a profile is already open; call stopProfile() first');
    const profile = new KernelProfile();
    const wrapped: Record<string, KernelFn> = {};
    for (const [name, fn] of Object.entries(this.exports)) {
      if (typeof fn !== 'function') continue;
      let counter: { calls: number; ms: number } | undefined; // made at the first call: only called kernels are listed
      const done = (t0: number) => {
        counter ??= profile.counter(name);
        counter.calls++;
        counter.ms += performance.now() - t0;
      };
      // a fixed-arity call to the export (extra arguments are ignored by WebAssembly) stays on V8's fast
      // JS-to-WebAssembly path; a spread call costs about a microsecond, as much as a small kernel
      wrapped[name] =
        fn.length <= 12
          ? (a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0, i = 0, j = 0, k = 0, l = 0) => {
              const t0 = performance.now();
              const r = fn(a, b, c, d, e, f, g, h, i, j, k, l);
              done(t0);
              return r;
            }
          : (...args: number[]) => {
              const t0 = performance.now();
              const r = fn(...args);
              done(t0);
              return r;
            };
    }
    this.profile = profile;
    this.calls = wrapped;
    return profile;
  }

  /** Close the open profile and return it; kernels are called directly again. */
  stopProfile(): KernelProfile {
    const profile = this.profile;
    if (!profile) throw new Error('stopProfile: no profile is open; call startProfile() first');
    profile.close();
    this.profile = undefined;
    this.calls = this.exports;
    return profile;
  }

  /** Row ranges for `rows` rows on this runtime's threads (one range when `work` is below `minWork`). */
  rowRanges(rows: number, align = 1, work = Number.POSITIVE_INFINITY, minWork = 0): Array<[number, number]> {
    const parts = work < minWork ? 1 : this.threads;
    return splitEven(rows, parts, align);
  }

  /** Allocate `bytes` on the heap; returns a byte offset. */
  alloc(bytes: number): number {
    return this.heap.alloc(bytes);
  }

  /** Free a heap block. */
  free(ptr: number): void {
    this.heap.release(ptr);
  }

  /**
   * A block of `bytes` for one kernel call's frame (inputs, outputs, scratch), handed back with endFrame when the
   * call returns. It is the runtime's reusable scratch block (grown as needed and kept), so a decode step's
   * ~200 GEMV frames cost no heap traffic. A frame opened while the scratch is in use, or larger than
   * MAX_SCRATCH_BYTES (not worth keeping: e.g. a long context's KV copies), gets a fresh heap block.
   */
  beginFrame(bytes: number): number {
    if (this.scratchBusy || bytes > MAX_SCRATCH_BYTES) return this.alloc(bytes);
    if (bytes > this.scratchBytes) {
      if (this.scratch >= 0) this.free(this.scratch);
      this.scratch = -1; // alloc may throw: no stale offset
      this.scratchBytes = 0;
      const size = Math.ceil(bytes / 64) * 64;
      this.scratch = this.alloc(size);
      this.scratchBytes = size;
    }
    this.scratchBusy = true;
    return this.scratch;
  }

  /** Hand back a block from beginFrame. */
  endFrame(ptr: number): void {
    if (ptr === this.scratch && this.scratchBusy) this.scratchBusy = false;
    else this.free(ptr);
  }

  /** Copy a host array into a fresh heap block and return its offset. */
  upload(src: HostArray): number {
    const ptr = this.alloc(src.byteLength);
    new Uint8Array(this.memory.buffer, ptr, src.byteLength).set(
      new Uint8Array(src.buffer, src.byteOffset, src.byteLength),
    );
    return ptr;
  }

  /** Write a host array at `ptr`. */
  write(ptr: number, src: HostArray): void {
    new Uint8Array(this.memory.buffer, ptr, src.byteLength).set(
      new Uint8Array(src.buffer, src.byteOffset, src.byteLength),
    );
  }

  /** A live f32 view of heap memory (re-take it after anything that may grow memory). */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  /** A live u32 view of heap memory. */
  u32(ptr: number, length: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, length);
  }

  /** Stop worker threads (the runtime keeps working on one thread). */
  close(): void {
    this.setThreads(1);
  }
}

let current: WasmRuntime | undefined;

/** The process-wide runtime, created on first use. */
export function runtime(): WasmRuntime {
  if (!current) current = new WasmRuntime();
  return current;
}

/** Replace the process-wide runtime (e.g. to force the `simd` build); closes the old one. */
export function useRuntime(options: RuntimeOptions): WasmRuntime {
  current?.close();
  current = new WasmRuntime(options);
  return current;
}
