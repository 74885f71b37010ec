/** TypeScript twin of the SDDMM kernel (src/kernels/sddmm.ts): the sampled product, one dot per position. */

/**
 * out[p] = Σ_t a[i·T + t] · b[colIdx[p]·T + t] for the positions p in rowPtr[i] … rowPtr[i+1] of every row i.
 * a [M,T], b [K,T] row-major; rowPtr [M+1]; colIdx, out [nnz]. Sums in f32 order-free (f64 here).
 */
export function sddmmRef(
  rowPtr: Uint32Array,
  colIdx: Uint32Array,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  T: number,
): void {
  const M = rowPtr.length - 1;
  for (let i = 0; i < M; i++) {
    for (let p = rowPtr[i]!; p < rowPtr[i + 1]!; p++) {
      const ao = i * T;
      const bo = colIdx[p]! * T;
      let s = 0;
      for (let t = 0; t < T; t++) s += a[ao + t]! * b[bo + t]!;
      out[p] = s;
    }
  }
}
