/** TypeScript twin of the bandwidth probe kernel (src/kernels/probe.ts). */

/** out[c] = Σ of chunk c of `data` (chunks of `chunk` floats) for every chunk. */
export function streamSumRef(data: Float32Array, chunk: number): Float32Array {
  const out = new Float32Array(Math.floor(data.length / chunk));
  for (let c = 0; c < out.length; c++) {
    let s = 0;
    for (let k = c * chunk; k < (c + 1) * chunk; k++) s += data[k]!;
    out[c] = s;
  }
  return out;
}

/** The multiplier and addend of the arithmetic probe's chains (src/kernels/probe.ts fma_chains_f32). */
export const FMA_C = 1 - 2 ** -10;
export const FMA_D = 2 ** -10;

/**
 * The value fma_chains_f32 stores for one unit: 12 chains a ← a·C + D over `iters` steps from c / 12, summed over
 * 4 lanes each. In f64 with one rounding to f32 per step, as a fused multiply-add rounds (the kernel's plain SIMD
 * build rounds the product too: equal to within a few ulps of the sum).
 */
export function fmaChainsRef(iters: number): number {
  let sum = 0;
  for (let c = 0; c < 12; c++) {
    let a = Math.fround(c / 12);
    for (let i = 0; i < iters; i++) a = Math.fround(a * FMA_C + FMA_D);
    sum += 4 * a;
  }
  return sum;
}
