/**
 * Named tolerances for fast-kernel vs reference parity tests. Values are relative to the scale of the
 * result (max |a − b| / max(1, max |b|)) unless a name says otherwise. Kernels sum in a different order
 * from their twins, so f32 results differ by rounding that grows with the reduction length.
 */
export const TOL = {
  /** dense GEMV / GEMM, reductions up to ~11k terms. */
  gemv: 1e-5,
  gemm: 1e-5,
  /**
   * bf16 / f16 weights × f32 (GEMV, GEMM) vs the reference, which decodes the same bits exactly and sums
   * in f64: only the kernels' f32 summation order differs, reductions up to ~11k terms.
   */
  halfGemv: 1e-5,
  halfGemm: 1e-5,
  /** sparse × vector (CSR, BSR, N:M, bitmask, COO), reductions up to ~70k stored terms. */
  spmv: 1e-5,
  /** sparse × dense block, same reductions as spmv. */
  spmm: 1e-5,
  /** column-sparse GEMV (active inputs only), reductions over up to ~11k active inputs. */
  colsparse: 1e-5,
  /** row softmax (probabilities ≤ 1; SIMD exp ≈ 2 ulp plus the row sum's rounding). */
  softmax: 1e-6,
  /** row softmax, relative error of each probability (x − max rounds to f32: ~4e-6 at logits 80 below the max). */
  softmaxElement: 1e-5,
  /** the SIMD exp itself: max relative error per element vs f64 Math.exp over [-87.3, 88]. */
  exp: 2.5e-7,
  /**
   * SiLU / GELU (tanh, erf) kernels vs the exact functions in f64: SIMD exp ≈ 2 ulp, erfc to 1.5e-7 absolute
   * (Abramowitz–Stegun 7.1.26), gated by a multiply.
   */
  activation: 1e-6,
  /** RMSNorm: the row's sum of squares in 4 f32 lanes vs f64, rows up to a few thousand wide. */
  rmsnorm: 1e-6,
  /** blocked causal attention vs exact masked softmax(QKᵀ·scale)·V, keys up to ~1k, head dim up to 256. */
  attention: 1e-5,
  /**
   * attention backward (dq, dk, dv) vs its f64 twin: products of f32 tiles, dk and dv summed over up to ~1k
   * queries of a kv group's heads, probabilities recomputed with the SIMD exp from the forward's log-sum-exp.
   */
  attentionBackward: 1e-5,
} as const;

/** max |a − b| / max(1, max |b|): the error measure every parity test uses. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`relError: lengths ${a.length} and ${b.length} differ`);
  let err = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return Number.POSITIVE_INFINITY;
    if (d > err) err = d;
    const m = Math.abs(b[i]!);
    if (m > scale) scale = m;
  }
  return err / scale;
}
