/** TypeScript twin of the column-sparse GEMV kernel (src/kernels/colsparse.ts): the readable definition. */

/**
 * y[M] = Σ_{j < nIdx} Wt[idx[j], :] · x[idx[j]], i.e. y = W[:, S] · x[S] for S = idx[0, nIdx).
 * wt: the transposed weight Wt [K,M] row-major (column k of W is the contiguous row k of Wt); x: [K].
 */
export function colsparseGemvRef(
  wt: Float32Array,
  x: Float32Array,
  idx: Uint32Array,
  nIdx: number,
  y: Float32Array,
  M: number,
): void {
  y.fill(0, 0, M);
  for (let j = 0; j < nIdx; j++) {
    const k = idx[j]!;
    const xk = x[k]!;
    const col = k * M;
    for (let m = 0; m < M; m++) y[m] = y[m]! + wt[col + m]! * xk;
  }
}

/** The value column_stream_f32 stores for rows [r0, r1): the sum of those floats of every active column of Wt [K,M]. */
export function columnStreamRef(
  wt: Float32Array,
  M: number,
  idx: Uint32Array,
  r0: number,
  r1: number,
): number {
  let s = 0;
  for (const k of idx) for (let m = r0; m < r1; m++) s += wt[k * M + m]!;
  return s;
}
