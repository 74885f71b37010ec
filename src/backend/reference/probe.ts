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
