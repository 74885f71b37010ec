#!/usr/bin/env node
import { cpus, loadavg } from 'node:os';
// Timing aid for the dense kernels and the column-sparse GEMV (for tuning; not a test, asserts nothing).
//   GEMM 1024³ (pack + multiply, GFLOP/s), GEMV 4096² with a cold cache (GB/s of weights streamed),
//   column-sparse GEMV 4096² at several active fractions (GB/s and speed-up over dense GEMV).
// Cold cache: NBUF different 64 MiB weight matrices are cycled so each call streams from DRAM
// (NBUF · 64 MiB > the last-level cache).
// Usage: node scripts/profile-dense.mjs [gemm] [gemv] [colsparse] [--variant simd,relaxed] [--threads 1,2]
//        [--reps <scale of the repetition counts, default 1>]
// Needs a build: node scripts/build-wasm.mjs && npx tsc -p tsconfig.json
import { runColsparseGemv, runGemm } from '../dist/src/backend/ops/index.js';
import { useRuntime } from '../dist/src/backend/wasm.js';

const args = process.argv.slice(2);
function option(name, fallback) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1].split(',') : fallback;
}
const skip = new Set(args.flatMap((a, i) => (a.startsWith('--') ? [a, args[i + 1]] : [])));
const wanted = args.filter((a) => !skip.has(a));
const benches = wanted.length ? wanted : ['gemm', 'gemv', 'colsparse'];
const variants = option('variant', ['simd', 'relaxed']);
const threadCounts = option('threads', ['1', '2']).map(Number);
const repScale = Number(option('reps', ['1'])[0]);
const reps = (n) => Math.max(3, Math.round(n * repScale));
const NBUF = 6;
const SIZE = 4096;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Seconds per call of `fn(rep)` after `warm` warm-up calls: the median and the best of `reps` calls.
 * On a shared machine the best is the better estimate of what the kernel does with the core to itself.
 */
function time(fn, reps, warm = 3) {
  for (let r = 0; r < warm; r++) fn(r);
  const ts = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    fn(r);
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { median: median(ts), best: Math.min(...ts) };
}

/** "best X (median Y) unit" for a rate `work / seconds`. */
function rate(work, t, unit) {
  return `${(work / t.best).toFixed(1)} ${unit} best (median ${(work / t.median).toFixed(1)})`;
}

/** Fill f32 memory with small pseudo-random values (no denormals, no NaN). */
function fill(rt, ptr, n, seed) {
  const v = rt.f32(ptr, n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    v[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 0.1;
  }
}

function gemm(rt, label) {
  const n = 1024;
  const a = rt.alloc(n * n * 4);
  const b = rt.alloc(n * n * 4);
  const c = rt.alloc(n * n * 4);
  fill(rt, a, n * n, 1);
  fill(rt, b, n * n, 2);
  const t = time(() => runGemm(a, b, c, n, n, n), reps(10), 2);
  console.log(`${label} gemm 1024³ (pack + multiply): ${rate((2 * n ** 3) / 1e9, t, 'GFLOP/s')}`);
  for (const p of [a, b, c]) rt.free(p);
  return t;
}

/** NBUF 4096² matrices (read as W row-major by GEMV and as Wt column-major by the column-sparse GEMV). */
function weights(rt) {
  const ws = [];
  for (let i = 0; i < NBUF; i++) {
    const p = rt.alloc(SIZE * SIZE * 4);
    fill(rt, p, SIZE * SIZE, 7 + i);
    ws.push(p);
  }
  return ws;
}

function gemv(rt, label, ws) {
  const x = rt.alloc(SIZE * 4);
  const y = rt.alloc(SIZE * 4);
  fill(rt, x, SIZE, 3);
  const ranges = rt.rowRanges(SIZE, 4);
  const t = time((r) => rt.parallel('gemv_f32', [ws[r % NBUF], x, y, SIZE, SIZE], ranges), reps(60), NBUF);
  console.log(`${label} gemv 4096² cold: ${rate((SIZE * SIZE * 4) / 1e9, t, 'GB/s')}`);
  rt.free(x);
  rt.free(y);
  return t;
}

function colsparse(rt, label, ws, dense) {
  const x = rt.alloc(SIZE * 4);
  const y = rt.alloc(SIZE * 4);
  const idx = rt.alloc(SIZE * 4);
  fill(rt, x, SIZE, 4);
  for (const frac of [1, 0.5, 0.25, 0.1]) {
    // a random sorted subset of about frac·SIZE inputs
    const active = [];
    let s = 12345;
    for (let k = 0; k < SIZE; k++) {
      s = (s * 1103515245 + 12345) >>> 0;
      if (s / 2 ** 32 < frac) active.push(k);
    }
    rt.u32(idx, active.length).set(active);
    const t = time((r) => runColsparseGemv(ws[r % NBUF], x, idx, active.length, y, SIZE), reps(60), NBUF);
    console.log(
      `${label} colsparse 4096² ${(frac * 100).toFixed(0)}% active: ` +
        `${rate((SIZE * active.length * 4) / 1e9, t, 'GB/s')}, vs dense GEMV ` +
        `${(dense.best / t.best).toFixed(2)}× best (median ${(dense.median / t.median).toFixed(2)}×)`,
    );
  }
  for (const p of [x, y, idx]) rt.free(p);
}

console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} cores (${cpus()[0].model})`,
);
for (const variant of variants) {
  const gemmTimes = [];
  for (const threads of threadCounts) {
    const rt = useRuntime({ variant, threads });
    const label = `[${variant}, ${threads}t]`;
    if (benches.includes('gemm')) gemmTimes.push(gemm(rt, label));
    if (benches.includes('gemv') || benches.includes('colsparse')) {
      const ws = weights(rt);
      const dense = gemv(rt, label, ws);
      if (benches.includes('colsparse')) colsparse(rt, label, ws, dense);
      for (const p of ws) rt.free(p);
    }
  }
  if (gemmTimes.length > 1) {
    const [one, last] = [gemmTimes[0], gemmTimes.at(-1)];
    console.log(
      `[${variant}] gemm ${threadCounts.at(-1)}t vs ${threadCounts[0]}t: ${(one.best / last.best).toFixed(2)}× best ` +
        `(median ${(one.median / last.median).toFixed(2)}×)`,
    );
  }
}
process.exit(0);
