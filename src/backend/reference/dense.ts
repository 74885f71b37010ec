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

/** y[M] = W·x for W panel-major with panels of P columns (src/backend/panels.ts packPanels), the twin of gemv_f32_panels. */
export function gemvPanelsRef(
  w: Float32Array,
  x: Float32Array,
  y: Float32Array,
  M: number,
  K: number,
  P: number,
): void {
  y.fill(0, 0, M);
  for (let c0 = 0; c0 < K; c0 += P) {
    const width = Math.min(P, K - c0);
    for (let i = 0; i < M; i++) {
      const row = M * c0 + i * width;
      let s = 0;
      for (let j = 0; j < width; j++) s += w[row + j]! * x[c0 + j]!;
      y[i] = y[i]! + s;
    }
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

/**
 * B[K,N] packed into 8-column strips, the layout the GEMM kernel reads (src/kernels/gemm.ts):
 * packed[(s·K + k)·8 + j] = B[k, 8s + j], zero where 8s + j ≥ N. Length ceil(N/8)·K·8.
 */
export function gemmPackBRef(b: Float32Array, K: number, N: number): Float32Array {
  const strips = Math.ceil(N / 8);
  const packed = new Float32Array(strips * K * 8);
  for (let s = 0; s < strips; s++) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < 8 && s * 8 + j < N; j++) packed[(s * K + k) * 8 + j] = b[k * N + s * 8 + j]!;
    }
  }
  return packed;
}
