// Row-wise softmax, and exp_f32 (an array wrapper of the vector exp, for its accuracy test).
// TypeScript twin: src/backend/reference/softmax.ts softmaxRef (max-subtracted, Math.exp).
// The vector exp (accuracy and domain documented there) lives in _math.ts, shared with attention.ts.

import { exp_f32x4 } from './_math';

/** Columns summed in f32 before the running row sum (f64) takes them. */
const SUM_BLOCK: i32 = 256;

/** y[i] = exp(x[i]) for i < n (the kernel behind the accuracy test of exp_f32x4). */
export function exp_f32(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), exp_f32x4(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) {
    const v = exp_f32x4(f32x4.splat(load<f32>(x + (<usize>i << 2))));
    store<f32>(y + (<usize>i << 2), f32x4.extract_lane(v, 0));
  }
}

/**
 * y[R,C] = softmax of each row of x[R,C]: exp(x − max) / Σ exp(x − max). Rows [r0, r1) only.
 * A row whose entries are all −∞ gives zeros (no finite score to normalise); NaN or +∞ gives NaN.
 */
export function softmax_rows_f32(x: usize, y: usize, R: i32, C: i32, r0: i32, r1: i32): void {
  const C4 = C & ~3;
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * (<usize>C << 2);
    const yr = y + <usize>r * (<usize>C << 2);
    // Row max.
    let mv = f32x4.splat(-Infinity);
    let i = 0;
    for (; i < C4; i += 4) mv = f32x4.max(mv, v128.load(xr + (<usize>i << 2)));
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; i < C; i++) m = max(m, load<f32>(xr + (<usize>i << 2)));
    if (m == -Infinity) m = 0; // all −∞: every exp is 0 and the row comes out zero
    // y = exp(x − m), summed in f32 over blocks of SUM_BLOCK columns and across blocks in f64, so long rows
    // (10⁵ columns) keep their sum to ~1e-7 instead of losing digits to one long f32 running sum.
    const ms = f32x4.splat(m);
    let s: f64 = 0;
    i = 0;
    while (i < C4) {
      const blockEnd = min(C4, i + SUM_BLOCK);
      let sv = f32x4.splat(0);
      for (; i < blockEnd; i += 4) {
        const e = exp_f32x4(f32x4.sub(v128.load(xr + (<usize>i << 2)), ms));
        v128.store(yr + (<usize>i << 2), e);
        sv = f32x4.add(sv, e);
      }
      s += <f64>(f32x4.extract_lane(sv, 0) + f32x4.extract_lane(sv, 1)) + <f64>(f32x4.extract_lane(sv, 2) + f32x4.extract_lane(sv, 3));
    }
    for (; i < C; i++) {
      const e = f32x4.extract_lane(exp_f32x4(f32x4.splat(load<f32>(xr + (<usize>i << 2)) - m)), 0);
      store<f32>(yr + (<usize>i << 2), e);
      s += e;
    }
    // Normalise.
    const inv = f32x4.splat(s == 0 ? 0 : <f32>(1 / s));
    for (i = 0; i < C4; i += 4) v128.store(yr + (<usize>i << 2), f32x4.mul(v128.load(yr + (<usize>i << 2)), inv));
    for (; i < C; i++) store<f32>(yr + (<usize>i << 2), load<f32>(yr + (<usize>i << 2)) * f32x4.extract_lane(inv, 0));
  }
}
