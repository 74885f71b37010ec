// Memory read-bandwidth probe: sums f32 chunks of a buffer with SIMD, so timing it over a buffer much
// larger than the last-level cache gives the rate one WebAssembly thread (or several, splitting chunks)
// can stream from DRAM: the roofline a memory-bound kernel such as a decode-step GEMV is measured against.
// TypeScript twins: src/backend/reference/probe.ts streamSumRef, fmaChainsRef.
//
// Four independent accumulators, 64 bytes per iteration: loads + 4 adds, nothing else, so the loop is
// limited by how fast the core's loads are served.

import { madd_f32x4 } from './_math';

/** out[c] = Σ of the f32 values of chunk c (bytes [c·chunkBytes, (c+1)·chunkBytes) of p) for c in [c0, c1). chunkBytes: a multiple of 64. */
export function stream_sum_f32(p: usize, chunkBytes: i32, out: usize, c0: i32, c1: i32): void {
  const size = <usize>chunkBytes;
  for (let c = c0; c < c1; c++) {
    let q = p + <usize>c * size;
    const end = q + size;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (; q < end; q += 64) {
      a0 = f32x4.add(a0, v128.load(q));
      a1 = f32x4.add(a1, v128.load(q, 16));
      a2 = f32x4.add(a2, v128.load(q, 32));
      a3 = f32x4.add(a3, v128.load(q, 48));
    }
    const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
    store<f32>(out + (<usize>c << 2), f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
  }
}

// Arithmetic probe: independent multiply-add chains with nothing else to do, so timing it gives how many f32
// multiply-adds a second one thread (or several, splitting units) can issue: the floor a compute-bound kernel such
// as decode attention is measured against. 12 chains of 4 lanes hide the multiply-add's latency on the two FMA pipes.

/**
 * out[u] = the lanes' sum of 12 chains after `iters` steps of a ← a·C + D (a fused multiply-add with relaxed SIMD),
 * chain c starting at c / 12, for every unit u in [u0, u1): iters · 48 multiply-adds a unit.
 */
export function fma_chains_f32(iters: i32, out: usize, u0: i32, u1: i32): void {
  const c = f32x4.splat(FMA_C);
  const d = f32x4.splat(FMA_D);
  for (let u = u0; u < u1; u++) {
    let a0 = f32x4.splat(<f32>(0.0 / 12));
    let a1 = f32x4.splat(<f32>(1.0 / 12));
    let a2 = f32x4.splat(<f32>(2.0 / 12));
    let a3 = f32x4.splat(<f32>(3.0 / 12));
    let a4 = f32x4.splat(<f32>(4.0 / 12));
    let a5 = f32x4.splat(<f32>(5.0 / 12));
    let a6 = f32x4.splat(<f32>(6.0 / 12));
    let a7 = f32x4.splat(<f32>(7.0 / 12));
    let a8 = f32x4.splat(<f32>(8.0 / 12));
    let a9 = f32x4.splat(<f32>(9.0 / 12));
    let a10 = f32x4.splat(<f32>(10.0 / 12));
    let a11 = f32x4.splat(<f32>(11.0 / 12));
    for (let i = 0; i < iters; i++) {
      a0 = madd_f32x4(a0, c, d);
      a1 = madd_f32x4(a1, c, d);
      a2 = madd_f32x4(a2, c, d);
      a3 = madd_f32x4(a3, c, d);
      a4 = madd_f32x4(a4, c, d);
      a5 = madd_f32x4(a5, c, d);
      a6 = madd_f32x4(a6, c, d);
      a7 = madd_f32x4(a7, c, d);
      a8 = madd_f32x4(a8, c, d);
      a9 = madd_f32x4(a9, c, d);
      a10 = madd_f32x4(a10, c, d);
      a11 = madd_f32x4(a11, c, d);
    }
    const s = f32x4.add(
      f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))),
      f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)),
    );
    store<f32>(out + (<usize>u << 2), f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
  }
}

/** The chains' multiplier and addend: every chain converges to D / (1 − C) = 1. */
const FMA_C: f32 = 0.9990234375; // 1 − 2⁻¹⁰, exact in f32
const FMA_D: f32 = 0.0009765625; // 2⁻¹⁰
