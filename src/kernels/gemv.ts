// Dense GEMV: y[M] = W[M,K] · x[K], W row-major f32. Rows [r0, r1) only, so a pool can split rows.
// TypeScript twin: src/backend/reference/dense.ts gemvRef.
//
// GEMV streams W from DRAM once, so its speed is how fast one core's loads are served. The kernel reads
// W in memory order, one row after the other, 64 bytes per iteration into 4 accumulators: one sequential
// stream, like the read-bandwidth probe (kernels/probe.ts). Measured on the project's machine (AMD EPYC,
// Zen 5) over SmolLM-135M's 513 MiB of f32 weights: this order streams at the probe's rate (≈ 30 GB/s),
// while reading 4 rows at once, each in two halves (8 concurrent streams), reached about 16 GB/s.

//
//
// That rate needs x to stay in L1 beside the stream. In a standalone probe over 4096 rows (1 thread, W from
// DRAM) the row-major kernel streamed 33.6 GB/s with x's footprint ≤ 8 KB, 25 GB/s at 16 KB (K = 4096) and
// 20 GB/s at 44 KB (K = 11008), as W's stream evicts x from the 48 KB L1. Reading a row-major W in column panels
// (a jump every panel) fell to 15 GB/s (each jump restarts the hardware prefetcher; loads touching ahead made it
// worse). So for long rows the resident copy is PANEL-MAJOR (gemv_f32_panels; layout in src/backend/panels.ts):
// columns in panels of ≤ 2048, stored panel after panel (panel p = rows 0..M−1 of its columns), so W is still
// one sequential stream per thread and x's panel stays in L1. `sparsekit bench kernels --threads 1 --only
// "4096x11008 N=1 bf16"`, idle machine, same run as onnxruntime's 5.4–6.1 ms: f32 8.97 → 5.62 ms, bf16 (half.ts)
// 8.8 → 3.2 ms.

/** y[i] = Σ_k w[i,k]·x[k] for i in [r0, r1). w, x, y are byte offsets of f32 arrays. */
export function gemv_f32(w: usize, x: usize, y: usize, M: i32, K: i32, r0: i32, r1: i32): void {
  gemvRows(w + <usize>r0 * (<usize>K << 2), x, y, K, r0, r1, false);
}

/**
 * y = W·x with W panel-major (see the header): panels of P columns (the last one K mod P when that is not 0),
 * panel c holding rows 0..M−1 of columns [c·P, c·P + width) contiguous. Rows [r0, r1); P a multiple of 16.
 */
export function gemv_f32_panels(w: usize, x: usize, y: usize, M: i32, K: i32, P: i32, r0: i32, r1: i32): void {
  for (let c0 = 0; c0 < K; c0 += P) {
    const width = min(P, K - c0);
    const panel = w + <usize>M * (<usize>c0 << 2);
    gemvRows(panel + <usize>r0 * (<usize>width << 2), x + (<usize>c0 << 2), y, width, r0, r1, c0 > 0);
  }
}

/** y[i] (+)= row i · x for i in [r0, r1), the rows K floats each, one after the other from p. */
// @ts-ignore: decorator
@inline function gemvRows(p: usize, x: usize, y: usize, K: i32, r0: i32, r1: i32, accumulate: bool): void {
  const rowBytes = <usize>K << 2;
  const body = <usize>(K >> 4) << 6; // whole 16-column blocks (64 bytes)
  const vec = <usize>(K >> 2) << 4; // whole 4-column vectors
  for (let i = r0; i < r1; i++) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let o: usize = 0;
    for (; o < body; o += 64) {
      a0 = f32x4.add(a0, f32x4.mul(v128.load(p + o), v128.load(x + o)));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(p + o, 16), v128.load(x + o, 16)));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(p + o, 32), v128.load(x + o, 32)));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(p + o, 48), v128.load(x + o, 48)));
    }
    for (; o < vec; o += 16) a0 = f32x4.add(a0, f32x4.mul(v128.load(p + o), v128.load(x + o)));
    let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
    for (; o < rowBytes; o += 4) s += load<f32>(p + o) * load<f32>(x + o);
    const yi = y + (<usize>i << 2);
    store<f32>(yi, accumulate ? load<f32>(yi) + s : s);
    p += rowBytes;
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}
