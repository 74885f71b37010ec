/**
 * TypeScript twin of the CSR kernels (src/kernels/csr.ts; csr-half.ts on the decoded values): the readable
 * definition of what they compute from the column-panel layout (src/backend/ops/csr-panels.ts).
 */

import type { CsrPanels } from '../ops/csr-panels.js';

/**
 * C[M,N] = W[M,K] · B[K,N] for W in column panels (values as f32), rows [r0, r1) of C only: panel p's entry
 * (i, c) is W[i, p·width + c]; the first panel stores C's rows, the others add to them.
 * b: B [K,N] row-major (x [K] when N = 1); c: C [M,N] row-major.
 */
export function csrPanelsRef(
  w: CsrPanels<Float32Array>,
  b: Float32Array,
  N: number,
  c: Float32Array,
  r0 = 0,
  r1 = w.rows,
): void {
  c.fill(0, r0 * N, r1 * N);
  for (let p = 0; p < w.panels; p++) {
    const first = p * w.width;
    for (let i = r0; i < r1; i++) {
      const row = p * w.rows + i;
      for (let q = w.rowPtr[row]!; q < w.rowPtr[row + 1]!; q++) {
        const v = w.values[q]!;
        const k = first + w.colIdx[q]!;
        for (let j = 0; j < N; j++) c[i * N + j] = c[i * N + j]! + v * b[k * N + j]!;
      }
    }
  }
}
