/** Small dense f64 linear algebra for SparseGPT: Cholesky factorisation and the inverse from it. */

/**
 * In-place lower Cholesky factor of the symmetric positive-definite a [n, n] (row-major; the upper triangle is
 * zeroed). Returns false (leaving `a` partly overwritten) when a pivot is not positive.
 */
export function choleskyLower(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j]!;
    for (let k = 0; k < j; k++) d -= a[rj + k]! ** 2;
    if (!(d > 0) || !Number.isFinite(d)) return false;
    const l = Math.sqrt(d);
    a[rj + j] = l;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j]!;
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = s / l;
    }
    for (let k = j + 1; k < n; k++) a[rj + k] = 0;
  }
  return true;
}

/** (L Lᵀ)⁻¹ [n, n] from the lower Cholesky factor L [n, n]: L⁻ᵀ L⁻¹ (torch.cholesky_inverse). */
export function choleskyInverse(L: Float64Array, n: number): Float64Array {
  // Li = L⁻¹ (lower triangular), by forward substitution column by column
  const Li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    Li[j * n + j] = 1 / L[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += L[i * n + k]! * Li[k * n + j]!;
      Li[i * n + j] = -s / L[i * n + i]!;
    }
  }
  // out = Liᵀ Li: out[i][j] = Σ_{k ≥ max(i,j)} Li[k][i] · Li[k][j]
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let i = 0; i <= k; i++) {
      const v = Li[rk + i]!;
      if (v === 0) continue;
      const ri = i * n;
      for (let j = 0; j <= k; j++) out[ri + j]! += v * Li[rk + j]!;
    }
  }
  return out;
}
