/**
 * Memory read bandwidth as WebAssembly sees it: stream a buffer much larger than the last-level cache
 * through a SIMD sum (src/kernels/probe.ts) on the runtime's threads. Benchmarks divide it by the bytes
 * a decode step must read to get a memory roofline.
 */

import { existsSync, readFileSync } from 'node:fs';
import { fmaChainsRef, streamSumRef } from '../reference/probe.js';
import { runtime } from '../wasm.js';

/** Bytes per chunk: the unit threads split (large enough that a call's overhead is noise). */
const CHUNK_BYTES = 1 << 20;

/** What one probe measured. */
export interface BandwidthProbe {
  /** Bytes streamed per pass. */
  bytes: number;
  /** Threads that streamed (the runtime's). */
  threads: number;
  /** Seconds of each timed pass. */
  seconds: number[];
  /** Bytes per second of the median pass. */
  bytesPerSecond: number;
}

/**
 * Stream `bytes` (rounded up to 1 MiB) `passes` times after one untimed pass and report the median rate.
 * Checks the kernel's sums against the TypeScript twin on the first chunks.
 * @example readBandwidth(8 * llcBytes).bytesPerSecond / 1e9 // GB/s
 */
export function readBandwidth(bytes: number, passes = 5): BandwidthProbe {
  checkPasses(passes);
  const prober = new BandwidthProber(bytes);
  try {
    return prober.measure(passes);
  } finally {
    prober.free();
  }
}

/**
 * A probe buffer kept between measurements, so that probes taken at different times in a run stream the same
 * memory (a fresh buffer each time may land on pages that read at a different rate).
 * @example const p = new BandwidthProber(8 * llcBytes); p.measure(3); …; p.free()
 */
export class BandwidthProber {
  private readonly buf: number;
  private readonly out: number;
  private readonly chunks: number;
  private freed = false;

  /** Allocate `bytes` (rounded up to 1 MiB), fill it and check the kernel's sums against the TypeScript twin. */
  constructor(bytes: number) {
    if (!(Number.isFinite(bytes) && bytes > 0)) {
      throw new RangeError(`readBandwidth: bytes must be a positive number, got ${bytes}`);
    }
    const rt = runtime();
    this.chunks = Math.ceil(bytes / CHUNK_BYTES);
    const total = this.chunks * CHUNK_BYTES;
    this.buf = rt.alloc(total);
    this.out = rt.alloc(this.chunks * 4);
    try {
      const view = rt.f32(this.buf, total / 4);
      for (let i = 0; i < view.length; i += 1024) view.fill((i >> 10) % 7, i, i + 1024);
      this.pass();
      const checked = Math.min(4, this.chunks); // the first chunks, or all when there are fewer
      const want = streamSumRef(rt.f32(this.buf, (checked * CHUNK_BYTES) / 4).slice(), CHUNK_BYTES / 4);
      const got = rt.f32(this.out, want.length);
      want.forEach((v, c) => {
        if (got[c] !== v) throw new Error(`readBandwidth: chunk ${c} summed to ${got[c]}, expected ${v}`);
      });
    } catch (e) {
      this.free();
      throw e;
    }
  }

  /** One untimed pass, then `passes` timed ones on the runtime's current threads; the median pass's rate. */
  measure(passes = 5): BandwidthProbe {
    if (this.freed) throw new Error('BandwidthProber.measure: the probe buffer was freed');
    checkPasses(passes);
    this.pass();
    const seconds: number[] = [];
    for (let p = 0; p < passes; p++) {
      const t0 = performance.now();
      this.pass();
      seconds.push((performance.now() - t0) / 1000);
    }
    const sorted = [...seconds].sort((a, b) => a - b);
    const med = sorted[sorted.length >> 1]!;
    const bytes = this.chunks * CHUNK_BYTES;
    return { bytes, threads: runtime().threads, seconds, bytesPerSecond: bytes / med };
  }

  /** Give the buffer back to the heap (measure then throws). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    const rt = runtime();
    rt.free(this.buf);
    rt.free(this.out);
  }

  private pass(): void {
    const rt = runtime();
    rt.parallel('stream_sum_f32', [this.buf, CHUNK_BYTES, this.out], rt.rowRanges(this.chunks));
  }
}

function checkPasses(passes: number, what = 'readBandwidth'): void {
  if (!(Number.isInteger(passes) && passes >= 1)) {
    throw new RangeError(`${what}: passes must be an integer ≥ 1, got ${passes}`);
  }
}

/** What one arithmetic probe measured. */
export interface FmaProbe {
  /** Threads that ran chains (the runtime's). */
  threads: number;
  /** f32 multiply-adds (lanes counted) per second of the median pass. */
  multiplyAddsPerSecond: number;
}

/** Steps of every chain per unit, and units per thread: a pass of about 10 ms on one thread here. */
const FMA_ITERS = 1 << 16;
const FMA_UNITS_PER_THREAD = 24;

/**
 * How many f32 multiply-adds a second the runtime's threads issue: independent SIMD chains with nothing else to do
 * (src/kernels/probe.ts fma_chains_f32), one untimed pass then `passes` timed ones, the median. The floor a
 * compute-bound kernel such as decode attention is measured against. Checks the chains against the twin.
 * @example multiplyAddRate().multiplyAddsPerSecond / 1e9 // G multiply-adds/s
 */
export function multiplyAddRate(passes = 5): FmaProbe {
  checkPasses(passes, 'multiplyAddRate');
  const rt = runtime();
  const units = FMA_UNITS_PER_THREAD * rt.threads;
  const out = rt.alloc(units * 4);
  try {
    const pass = () => rt.parallel('fma_chains_f32', [FMA_ITERS, out], rt.rowRanges(units));
    pass();
    const want = fmaChainsRef(FMA_ITERS);
    const got = rt.f32(out, units);
    got.forEach((v, u) => {
      if (!(Math.abs(v - want) <= 1e-5 * want))
        throw new Error(`multiplyAddRate: unit ${u} summed to ${v}, expected ${want}`);
    });
    const seconds: number[] = [];
    for (let p = 0; p < passes; p++) {
      const t0 = performance.now();
      pass();
      seconds.push((performance.now() - t0) / 1000);
    }
    const med = [...seconds].sort((a, b) => a - b)[seconds.length >> 1]!;
    return { threads: rt.threads, multiplyAddsPerSecond: (units * FMA_ITERS * 48) / med };
  } finally {
    rt.free(out);
  }
}

/** Where Linux reports the last-level cache of CPU 0. */
const LLC_SYSFS = '/sys/devices/system/cpu/cpu0/cache/index3/size';
/** Assumed when sysfs says nothing (a generous server L3, so copies still exceed it). */
const LLC_FALLBACK_BYTES = 128 * 2 ** 20;

/** Parse a sysfs cache size such as "107520K" or "32M" into bytes. */
export function parseCacheSize(text: string): number {
  const m = /^\s*(\d+)\s*([KMG]?)/i.exec(text);
  if (!m) throw new RangeError(`parseCacheSize: cannot read "${text.trim()}"`);
  const unit = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

/** The last-level cache size in bytes and where the figure came from. */
export function lastLevelCache(): { bytes: number; source: string } {
  if (existsSync(LLC_SYSFS))
    return { bytes: parseCacheSize(readFileSync(LLC_SYSFS, 'utf8')), source: LLC_SYSFS };
  return { bytes: LLC_FALLBACK_BYTES, source: 'assumed (no sysfs cache entry)' };
}

/** Bytes a bandwidth probe should stream to measure DRAM, not cache: 8× the last-level cache, at least 256 MiB. */
export function dramProbeBytes(): number {
  return Math.max(256 * 2 ** 20, 8 * lastLevelCache().bytes);
}
