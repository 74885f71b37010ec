/** TypeScript twin of the softmax kernel (src/kernels/softmax.ts): the readable definition, in f64. */

/**
 * y[R,C] = softmax of each row of x[R,C]: exp(x − max) / Σ exp(x − max).
 * A row whose entries are all −∞ gives zeros; NaN or +∞ in a row gives NaN.
 */
export function softmaxRef(x: Float32Array, y: Float32Array, R: number, C: number): void {
  for (let r = 0; r < R; r++) {
    const row = r * C;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < C; j++) max = Math.max(max, x[row + j]!);
    if (max === Number.NEGATIVE_INFINITY) max = 0;
    let sum = 0;
    for (let j = 0; j < C; j++) sum += Math.exp(x[row + j]! - max);
    for (let j = 0; j < C; j++) y[row + j] = sum === 0 ? 0 : Math.exp(x[row + j]! - max) / sum;
  }
}
