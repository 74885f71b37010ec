// CSR SpMV / SpMM: C[M,N] = W[M,K] · B[K,N] for W in compressed sparse row form, rows [r0, r1) only.
// TypeScript twin: src/formats/csr.ts csrMatmul. Layout (all byte offsets into memory):
//   rowPtr u32[M+1], colIdx u16[nnz] or u32[nnz] (the `_u16` / `_u32` exports), values f32[nnz],
//   x f32[K] / B f32[K,N] row-major, y f32[M] / C f32[M,N] row-major.
// One generic body per kernel, instantiated for each index width (AssemblyScript generics are
// monomorphised, so `load<I>` compiles to a plain 16- or 32-bit load).

import { gather4 } from './_gather';

// ---- SpMV: y[i] = Σ_p values[p] · x[colIdx[p]] ------------------------------------------------------

/** y[i] for i in [r0, r1); colIdx is u16. */
export function csr_spmv_u16_f32(rowPtr: usize, colIdx: usize, values: usize, x: usize, y: usize, r0: i32, r1: i32): void {
  csrSpmv<u16>(rowPtr, colIdx, values, x, y, r0, r1);
}

/** y[i] for i in [r0, r1); colIdx is u32. */
export function csr_spmv_u32_f32(rowPtr: usize, colIdx: usize, values: usize, x: usize, y: usize, r0: i32, r1: i32): void {
  csrSpmv<u32>(rowPtr, colIdx, values, x, y, r0, r1);
}

// One row at a time, eight non-zeros per step into two accumulators (values as v128 loads, x gathered lane
// by lane: load32_zero + load32_lane), then four, then one. Rows are read in memory order, so values and
// colIdx are each one sequential stream. Measured same-process, cold, one thread, relaxed build (CPU-time
// medians): against the previous kernel, which advanced two rows together (four streams), 2.5–2.7× faster at
// 70% on SmolLM-135M's 1536×576, 576×1536 and 576×576 (e.g. 217 → 85 µs), 3.2× on 4096×4096 at 90%
// (1419 → 448 µs); 16 per step (4 accumulators), 4 per step (1 accumulator), u64 index loads split by
// shifts, and scalar loops with 4 accumulators were all within 5% of this or slower.
// @ts-ignore: decorator
@inline function csrSpmv<I>(rowPtr: usize, colIdx: usize, values: usize, x: usize, y: usize, r0: i32, r1: i32): void {
  const S = alignof<I>(); // log2 bytes per index
  const B = sizeof<I>();
  let p = <usize>load<u32>(rowPtr + (<usize>r0 << 2));
  for (let i = r0; i < r1; i++) {
    const e = <usize>load<u32>(rowPtr + (<usize>i << 2), 4);
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    for (; p + 8 <= e; p += 8) {
      const ip = colIdx + (p << S);
      a0 = madd(v128.load(values + (p << 2)), gather4<I>(x, ip), a0);
      a1 = madd(v128.load(values + (p << 2), 16), gather4<I>(x, ip + 4 * B), a1);
    }
    store<f32>(y + (<usize>i << 2), rowRest<I>(colIdx, values, x, p, e, f32x4.add(a0, a1)));
    p = e;
  }
}

/** hsum(a) + Σ_{p ≤ q < e} values[q] · x[colIdx[q]]: four at a time, then one at a time. */
// @ts-ignore: decorator
@inline function rowRest<I>(colIdx: usize, values: usize, x: usize, p: usize, e: usize, a: v128): f32 {
  const S = alignof<I>();
  for (; p + 4 <= e; p += 4) a = f32x4.add(a, f32x4.mul(v128.load(values + (p << 2)), gather4<I>(x, colIdx + (p << S))));
  let s = hsum(a);
  for (; p < e; p++) s += load<f32>(values + (p << 2)) * load<f32>(x + (<usize>load<I>(colIdx + (p << S)) << 2));
  return s;
}

// ---- SpMM: C[i, :] = Σ_p values[p] · B[colIdx[p], :] ------------------------------------------------

/** C rows [r0, r1) of W · B with B [K,N]; colIdx is u16. */
export function csr_spmm_u16_f32(
  rowPtr: usize, colIdx: usize, values: usize, b: usize, c: usize, N: i32, r0: i32, r1: i32,
): void {
  csrSpmm<u16>(rowPtr, colIdx, values, b, c, N, r0, r1);
}

/** C rows [r0, r1) of W · B with B [K,N]; colIdx is u32. */
export function csr_spmm_u32_f32(
  rowPtr: usize, colIdx: usize, values: usize, b: usize, c: usize, N: i32, r0: i32, r1: i32,
): void {
  csrSpmm<u32>(rowPtr, colIdx, values, b, c, N, r0, r1);
}

// Each C row is computed in column tiles held in registers: 24 columns (6 accumulators, one non-zero per
// step: 6 B loads + 1 splat + 6 accumulators = 13 of V8's 15 SIMD registers), then 16 (two non-zeros
// per step, products summed before the accumulator add to halve the dependency chain), 8 and 4 (four
// non-zeros per step), then scalar columns. The relaxed build fuses each multiply-add (relaxed_madd):
// 1.18× faster at 64 columns here; measured slower: 28-column tiles (7 accumulators, 64 columns) and
// 24-column tiles taking two non-zeros per step (V8 then spills).
// @ts-ignore: decorator
@inline function csrSpmm<I>(rowPtr: usize, colIdx: usize, values: usize, b: usize, c: usize, N: i32, r0: i32, r1: i32): void {
  const S = alignof<I>();
  const rowBytes = <usize>N << 2;
  for (let i = r0; i < r1; i++) {
    const rp = rowPtr + (<usize>i << 2);
    const s = <usize>load<u32>(rp);
    const e = <usize>load<u32>(rp, 4);
    const cRow = c + <usize>i * rowBytes;
    const ip = colIdx + (s << S);
    const vp = values + (s << 2);
    const n = e - s;
    let j = 0;
    for (; j + 24 <= N; j += 24) tile24<I>(ip, vp, n, b + (<usize>j << 2), rowBytes, cRow + (<usize>j << 2));
    if (j + 16 <= N) {
      tile16<I>(ip, vp, n, b + (<usize>j << 2), rowBytes, cRow + (<usize>j << 2));
      j += 16;
    }
    if (j + 8 <= N) {
      tile8<I>(ip, vp, n, b + (<usize>j << 2), rowBytes, cRow + (<usize>j << 2));
      j += 8;
    }
    if (j + 4 <= N) {
      tile4<I>(ip, vp, n, b + (<usize>j << 2), rowBytes, cRow + (<usize>j << 2));
      j += 4;
    }
    for (; j < N; j++) {
      const bj = b + (<usize>j << 2);
      let acc: f32 = 0;
      for (let q: usize = 0; q < n; q++) {
        acc += load<f32>(vp + (q << 2)) * load<f32>(bj + <usize>load<I>(ip + (q << S)) * rowBytes);
      }
      store<f32>(cRow + (<usize>j << 2), acc);
    }
  }
}

/** c[0:24] = Σ_q v[q] · B[col[q], 0:24] for the n non-zeros at ip / vp; bj points at column j of B row 0. */
// @ts-ignore: decorator
@inline function tile24<I>(ip: usize, vp: usize, n: usize, bj: usize, rowBytes: usize, out: usize): void {
  const S = alignof<I>();
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0);
  let a5 = f32x4.splat(0);
  for (let q: usize = 0; q < n; q++) {
    const v = v128.load32_splat(vp + (q << 2));
    const br = bj + <usize>load<I>(ip + (q << S)) * rowBytes;
    a0 = madd(v, v128.load(br), a0);
    a1 = madd(v, v128.load(br, 16), a1);
    a2 = madd(v, v128.load(br, 32), a2);
    a3 = madd(v, v128.load(br, 48), a3);
    a4 = madd(v, v128.load(br, 64), a4);
    a5 = madd(v, v128.load(br, 80), a5);
  }
  v128.store(out, a0);
  v128.store(out, a1, 16);
  v128.store(out, a2, 32);
  v128.store(out, a3, 48);
  v128.store(out, a4, 64);
  v128.store(out, a5, 80);
}

/** Like tile24 for 16 columns, two non-zeros per step. */
// @ts-ignore: decorator
@inline function tile16<I>(ip: usize, vp: usize, n: usize, bj: usize, rowBytes: usize, out: usize): void {
  const S = alignof<I>();
  const B = sizeof<I>();
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let q: usize = 0;
  for (; q + 2 <= n; q += 2) {
    const v0 = v128.load32_splat(vp + (q << 2));
    const v1 = v128.load32_splat(vp + (q << 2), 4);
    const b0 = bj + <usize>load<I>(ip + (q << S)) * rowBytes;
    const b1 = bj + <usize>load<I>(ip + (q << S), B) * rowBytes;
    a0 = madd(v1, v128.load(b1), madd(v0, v128.load(b0), a0));
    a1 = madd(v1, v128.load(b1, 16), madd(v0, v128.load(b0, 16), a1));
    a2 = madd(v1, v128.load(b1, 32), madd(v0, v128.load(b0, 32), a2));
    a3 = madd(v1, v128.load(b1, 48), madd(v0, v128.load(b0, 48), a3));
  }
  if (q < n) {
    const v = v128.load32_splat(vp + (q << 2));
    const br = bj + <usize>load<I>(ip + (q << S)) * rowBytes;
    a0 = madd(v, v128.load(br), a0);
    a1 = madd(v, v128.load(br, 16), a1);
    a2 = madd(v, v128.load(br, 32), a2);
    a3 = madd(v, v128.load(br, 48), a3);
  }
  v128.store(out, a0);
  v128.store(out, a1, 16);
  v128.store(out, a2, 32);
  v128.store(out, a3, 48);
}

/** Like tile24 for 8 columns, four non-zeros per step. */
// @ts-ignore: decorator
@inline function tile8<I>(ip: usize, vp: usize, n: usize, bj: usize, rowBytes: usize, out: usize): void {
  const S = alignof<I>();
  const B = sizeof<I>();
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let q: usize = 0;
  for (; q + 4 <= n; q += 4) {
    const iq = ip + (q << S);
    const v0 = v128.load32_splat(vp + (q << 2));
    const v1 = v128.load32_splat(vp + (q << 2), 4);
    const v2 = v128.load32_splat(vp + (q << 2), 8);
    const v3 = v128.load32_splat(vp + (q << 2), 12);
    const b0 = bj + <usize>load<I>(iq) * rowBytes;
    const b1 = bj + <usize>load<I>(iq, B) * rowBytes;
    const b2 = bj + <usize>load<I>(iq, 2 * B) * rowBytes;
    const b3 = bj + <usize>load<I>(iq, 3 * B) * rowBytes;
    const lo01 = f32x4.add(f32x4.mul(v0, v128.load(b0)), f32x4.mul(v1, v128.load(b1)));
    const lo23 = f32x4.add(f32x4.mul(v2, v128.load(b2)), f32x4.mul(v3, v128.load(b3)));
    const hi01 = f32x4.add(f32x4.mul(v0, v128.load(b0, 16)), f32x4.mul(v1, v128.load(b1, 16)));
    const hi23 = f32x4.add(f32x4.mul(v2, v128.load(b2, 16)), f32x4.mul(v3, v128.load(b3, 16)));
    a0 = f32x4.add(a0, f32x4.add(lo01, lo23));
    a1 = f32x4.add(a1, f32x4.add(hi01, hi23));
  }
  for (; q < n; q++) {
    const v = v128.load32_splat(vp + (q << 2));
    const br = bj + <usize>load<I>(ip + (q << S)) * rowBytes;
    a0 = madd(v, v128.load(br), a0);
    a1 = madd(v, v128.load(br, 16), a1);
  }
  v128.store(out, a0);
  v128.store(out, a1, 16);
}

/** Like tile24 for 4 columns, four non-zeros per step. */
// @ts-ignore: decorator
@inline function tile4<I>(ip: usize, vp: usize, n: usize, bj: usize, rowBytes: usize, out: usize): void {
  const S = alignof<I>();
  const B = sizeof<I>();
  let a0 = f32x4.splat(0);
  let q: usize = 0;
  for (; q + 4 <= n; q += 4) {
    const iq = ip + (q << S);
    const p01 = f32x4.add(
      f32x4.mul(v128.load32_splat(vp + (q << 2)), v128.load(bj + <usize>load<I>(iq) * rowBytes)),
      f32x4.mul(v128.load32_splat(vp + (q << 2), 4), v128.load(bj + <usize>load<I>(iq, B) * rowBytes)),
    );
    const p23 = f32x4.add(
      f32x4.mul(v128.load32_splat(vp + (q << 2), 8), v128.load(bj + <usize>load<I>(iq, 2 * B) * rowBytes)),
      f32x4.mul(v128.load32_splat(vp + (q << 2), 12), v128.load(bj + <usize>load<I>(iq, 3 * B) * rowBytes)),
    );
    a0 = f32x4.add(a0, f32x4.add(p01, p23));
  }
  for (; q < n; q++) {
    a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(vp + (q << 2)), v128.load(bj + <usize>load<I>(ip + (q << S)) * rowBytes)));
  }
  v128.store(out, a0);
}

/** a·b + c: fused (relaxed_madd) in the relaxed build, a multiply and an add in the plain SIMD build. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}
