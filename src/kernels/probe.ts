// Memory read-bandwidth probe: sums f32 chunks of a buffer with SIMD, so timing it over a buffer much
// larger than the last-level cache gives the rate one WebAssembly thread (or several, splitting chunks)
// can stream from DRAM: the roofline a memory-bound kernel such as a decode-step GEMV is measured against.
// TypeScript twin: src/backend/reference/probe.ts streamSumRef.
//
// Four independent accumulators, 64 bytes per iteration: loads + 4 adds, nothing else, so the loop is
// limited by how fast the core's loads are served.

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
