/** TypeScript twins of the half-precision kernels (src/kernels/half.ts): the readable definitions. */

import { decodeHalf, type HalfFormat } from '../../formats/half.js';
import { gemvPanelsRef, gemvRef } from './dense.js';

/**
 * x [K] in the order the half GEMV kernels read it: per whole 8-column chunk the even columns then the
 * odd ones (x0 x2 x4 x6 x1 x3 x5 x7), the last K mod 8 columns in order.
 */
export function halfPackXRef(x: Float32Array, K: number): Float32Array {
  const xp = new Float32Array(K);
  const body = K - (K % 8);
  for (let c = 0; c < body; c += 8) {
    for (let j = 0; j < 4; j++) {
      xp[c + j] = x[c + 2 * j]!;
      xp[c + 4 + j] = x[c + 2 * j + 1]!;
    }
  }
  xp.set(x.subarray(body, K), body);
  return xp;
}

/** y[M] = W[M,K] · x[K], W given as `format` bits [M·K] row-major: gemvRef on W decoded to f32 (summed in f64). */
export function halfGemvRef(
  format: HalfFormat,
  w: Uint16Array,
  x: Float32Array,
  y: Float32Array,
  M: number,
  K: number,
): void {
  gemvRef(decodeHalf(format, w.subarray(0, M * K)), x, y, M, K);
}

/** halfGemvRef for W panel-major with panels of P columns (src/backend/panels.ts), the twin of gemv_*_f32_panels. */
export function halfGemvPanelsRef(
  format: HalfFormat,
  w: Uint16Array,
  x: Float32Array,
  y: Float32Array,
  M: number,
  K: number,
  P: number,
): void {
  gemvPanelsRef(decodeHalf(format, w.subarray(0, M * K)), x, y, M, K, P);
}

/** C[M,N] = W[M,K] · B[K,N] (row-major), W given as `format` bits; each output summed in f64. */
export function halfGemmRef(
  format: HalfFormat,
  w: Uint16Array,
  b: Float32Array,
  c: Float32Array,
  M: number,
  K: number,
  N: number,
): void {
  const acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    const row = decodeHalf(format, w.subarray(i * K, (i + 1) * K));
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const v = row[k]!;
      for (let j = 0; j < N; j++) acc[j]! += v * b[k * N + j]!;
    }
    c.set(acc, i * N);
  }
}
