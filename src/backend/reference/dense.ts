/** TypeScript twins of the dense kernels: the readable definition every fast path is checked against. */

/** y[M] = W[M,K] · x[K]. */
export function gemvRef(w: Float32Array, x: Float32Array, y: Float32Array, M: number, K: number): void {
  for (let i = 0; i < M; i++) {
    let s = 0;
    const row = i * K;
    for (let k = 0; k < K; k++) s += w[row + k]! * x[k]!;
    y[i] = s;
  }
}

/** C[M,N] = A[M,K] · B[K,N], all row-major. */
export function gemmRef(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  M: number,
  K: number,
  N: number,
): void {
  c.fill(0, 0, M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const aik = a[i * K + k]!;
      if (aik === 0) continue;
      const bRow = k * N;
      const cRow = i * N;
      for (let j = 0; j < N; j++) c[cRow + j] = c[cRow + j]! + aik * b[bRow + j]!;
    }
  }
}
