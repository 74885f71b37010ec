/**
 * Memory read bandwidth as WebAssembly sees it: stream a buffer much larger than the last-level cache
 * through a SIMD sum (src/kernels/probe.ts) on the runtime's threads. Benchmarks divide it by the bytes
 * a decode step must read to get a memory roofline.
 */

import { streamSumRef } from '../reference/probe.js';
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
  if (!(Number.isFinite(bytes) && bytes > 0)) {
    throw new RangeError(`readBandwidth: bytes must be a positive number, got ${bytes}`);
  }
  if (!(Number.isInteger(passes) && passes >= 1)) {
    throw new RangeError(`readBandwidth: passes must be an integer ≥ 1, got ${passes}`);
  }
  const rt = runtime();
  const chunks = Math.ceil(bytes / CHUNK_BYTES);
  const total = chunks * CHUNK_BYTES;
  const buf = rt.alloc(total);
  const out = rt.alloc(chunks * 4);
  try {
    const view = rt.f32(buf, total / 4);
    for (let i = 0; i < view.length; i += 1024) view.fill((i >> 10) % 7, i, i + 1024);
    const ranges = rt.rowRanges(chunks);
    const args = [buf, CHUNK_BYTES, out];
    rt.parallel('stream_sum_f32', args, ranges);
    const want = streamSumRef(rt.f32(buf, (4 * CHUNK_BYTES) / 4).slice(), CHUNK_BYTES / 4);
    const got = rt.f32(out, want.length);
    want.forEach((v, c) => {
      if (got[c] !== v) throw new Error(`readBandwidth: chunk ${c} summed to ${got[c]}, expected ${v}`);
    });
    const seconds: number[] = [];
    for (let p = 0; p < passes; p++) {
      const t0 = performance.now();
      rt.parallel('stream_sum_f32', args, ranges);
      seconds.push((performance.now() - t0) / 1000);
    }
    const sorted = [...seconds].sort((a, b) => a - b);
    const med = sorted[sorted.length >> 1]!;
    return { bytes: total, threads: rt.threads, seconds, bytesPerSecond: total / med };
  } finally {
    rt.free(buf);
    rt.free(out);
  }
}
