#!/usr/bin/env node
// Times the sparse matmul kernels against sparsekit's own dense kernels (GEMV / GEMM) on 4096×4096
// weights, cold cache: every timed call uses the next of several distinct weight copies, together more
// than twice the last-level cache. A profiling aid for kernel work, not a test and not the benchmark
// (bench/ compares against onnxruntime). Needs a build: `node scripts/build-wasm.mjs && npx tsc`.
//
// Usage: node scripts/profile-sparse.mjs [--variant simd|relaxed] [--threads 1|2] [--size 4096]
//                                        [--only csr,bsr,nm,bitmask,coo] [--n 1,8,64] [--rounds 5]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const sk = await import(`${root}dist/src/index.js`);
const formats = await import(`${root}dist/src/formats/index.js`);

const { values: opt } = parseArgs({
  options: {
    variant: { type: 'string', default: 'relaxed' },
    threads: { type: 'string', default: '1' },
    size: { type: 'string', default: '4096' },
    only: { type: 'string', default: 'csr,bsr,nm,bitmask,coo' },
    n: { type: 'string', default: '1,8,64' },
    rounds: { type: 'string', default: '5' },
  },
});
const S = Number(opt.size);
const THREADS = Number(opt.threads);
const ROUNDS = Number(opt.rounds);
const ONLY = new Set(opt.only.split(','));
const NS = opt.n.split(',').map(Number);
process.env.SPARSEKIT_QUIET = '1';
sk.useRuntime({ variant: opt.variant, threads: THREADS });
sk.setFallbackPolicy('throw');

function llcBytes() {
  try {
    const t = readFileSync('/sys/devices/system/cpu/cpu0/cache/index3/size', 'utf8');
    const m = /(\d+)([KMG]?)/.exec(t);
    return Number(m[1]) * { '': 1, K: 1024, M: 2 ** 20, G: 2 ** 30 }[m[2]];
  } catch {
    return 128 * 2 ** 20;
  }
}
const LLC = llcBytes();

/** Distinct copies of a weight (same values, separate arrays) so each call finds its weight evicted. */
function copiesOf(w, bytes) {
  const n = Math.max(4, Math.floor((2 * LLC) / bytes) + 1);
  const out = [w];
  for (let i = 1; i < n; i++) {
    if (w instanceof sk.Tensor) out.push(new sk.Tensor(w.data.slice(), w.shape));
    else {
      const c = { ...w };
      for (const [k, v] of Object.entries(w)) if (ArrayBuffer.isView(v)) c[k] = v.slice();
      out.push(c);
    }
  }
  return out;
}

/** Median ms per call of matmul(copy, b) for each list of copies, alternating the lists round by round. */
function timeRounds(lists, b) {
  for (const copies of lists) for (const w of copies) sk.matmul(w, b);
  const ms = lists.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    lists.forEach((copies, l) => {
      for (const w of copies) {
        const t0 = performance.now();
        sk.matmul(w, b);
        ms[l].push(performance.now() - t0);
      }
    });
  }
  return ms.map((xs) => xs.sort((a, c) => a - c)[xs.length >> 1]);
}

function rhs(N, seed) {
  return N === 1 ? sk.randn([S], seed) : sk.randn([S, N], seed);
}

const dense = sk.randn([S, S], 1);
const denseCopies = copiesOf(dense, S * S * 4);
const rows = [];

/** Time a sparse weight against the dense one (same rounds, so machine load affects both alike). */
function sparseCase(name, w) {
  const bytes = formats.FORMATS[w.format].nbytes(w);
  const nnz = formats.nnz(w);
  const copies = copiesOf(w, bytes);
  for (const N of NS) {
    const [ms, denseMs] = timeRounds([copies, denseCopies], rhs(N, 3));
    rows.push({
      case: `${name} (${copies.length} copies)`,
      N,
      'MB/weight': (bytes / 2 ** 20).toFixed(1),
      ms: ms.toFixed(3),
      'dense ms': denseMs.toFixed(3),
      'GB/s': (bytes / ms / 1e6).toFixed(1),
      'useful GFLOP/s': ((2 * nnz * N) / ms / 1e6).toFixed(1),
      'vs dense': `${(denseMs / ms).toFixed(2)}×`,
    });
    console.error(`${name} N=${N}: ${ms.toFixed(3)} ms, dense ${denseMs.toFixed(3)} ms`);
  }
  for (const c of copies) sk.release(c);
}

const pruned = {};
function unstructured(sparsity) {
  pruned[sparsity] ??= sk.sparsify(dense, sparsity, 5);
  return pruned[sparsity];
}

/** Zero a seeded fraction `sparsity` of the r×c blocks of the dense weight. */
function blockPrune(r, c, sparsity) {
  const out = dense.data.slice();
  const next = sk.rng(9);
  for (let bi = 0; bi < Math.ceil(S / r); bi++) {
    for (let bj = 0; bj < Math.ceil(S / c); bj++) {
      if (next() >= sparsity) continue;
      for (let i = bi * r; i < Math.min(S, bi * r + r); i++)
        out.fill(0, i * S + bj * c, i * S + Math.min(S, bj * c + c));
    }
  }
  return new sk.Tensor(out, [S, S]);
}

if (ONLY.has('csr')) {
  for (const sp of [0.9, 0.5]) sparseCase(`csr ${sp * 100}%`, formats.csrFromDense(unstructured(sp)));
}
if (ONLY.has('coo')) sparseCase('coo 90%', formats.cooFromDense(unstructured(0.9)));
if (ONLY.has('bitmask')) {
  for (const sp of [0.5, 0.9]) sparseCase(`bitmask ${sp * 100}%`, formats.bitmaskFromDense(unstructured(sp)));
}
if (ONLY.has('nm')) {
  for (const [n, m] of [
    [2, 4],
    [1, 4],
    [4, 8],
  ]) {
    sparseCase(`nm ${n}:${m}`, formats.nmFromDense(formats.nmPruneMagnitude(dense, n, m), n, m));
  }
}
if (ONLY.has('bsr')) {
  for (const [r, c] of [
    [1, 4],
    [4, 4],
    [16, 16],
    [3, 5],
  ]) {
    sparseCase(`bsr ${r}×${c} 90%`, formats.bsrFromDense(blockPrune(r, c, 0.9), r, c));
  }
}

console.log(
  `\nprofile-sparse: ${S}×${S}, variant ${opt.variant}, ${THREADS} thread(s), LLC ${(LLC / 2 ** 20).toFixed(0)} MiB, ` +
    `median of ${ROUNDS} rounds over the copies; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
);
console.table(rows);
