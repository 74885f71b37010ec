// Dense GEMV: y[M] = W[M,K] · x[K], W row-major f32. Rows [r0, r1) only, so a pool can split rows.
// TypeScript twin: src/backend/reference/dense.ts gemvRef.
//
// GEMV streams W from DRAM once, so its speed is how fast one core's loads are served. The kernel reads
// W in memory order, one row after the other, 64 bytes per iteration into 4 accumulators: one sequential
// stream, like the read-bandwidth probe (kernels/probe.ts). Measured on the project's machine (AMD EPYC,
// Zen 5) over SmolLM-135M's 513 MiB of f32 weights: this order streams at the probe's rate (≈ 30 GB/s),
// while reading 4 rows at once, each in two halves (8 concurrent streams), reached about 16 GB/s.

/** y[i] = Σ_k w[i,k]·x[k] for i in [r0, r1). w, x, y are byte offsets of f32 arrays. */
export function gemv_f32(w: usize, x: usize, y: usize, M: i32, K: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>K << 2;
  const body = <usize>(K >> 4) << 6; // whole 16-column blocks (64 bytes)
  const vec = <usize>(K >> 2) << 4; // whole 4-column vectors
  let p = w + <usize>r0 * rowBytes;
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
    store<f32>(y + (<usize>i << 2), s);
    p += rowBytes;
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}
