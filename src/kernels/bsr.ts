// BSR SpMV / SpMM: C = W · B for W stored as r×c blocks (block sparse row), block rows [br0, br1) only.
// TypeScript twin: src/formats/bsr.ts bsrMatmul. Layout (byte offsets):
//   blockRowPtr u32[nbr+1], blockColIdx u16 or u32 [nBlocks] (the `_u16` / `_u32` exports),
//   values f32[nBlocks·r·c] (each block row-major), x f32[nbc·c] / B f32[nbc·c, N] (the host zero-pads
//   B to whole block columns), y f32[nbr·r] / C f32[nbr·r, N] (the host allocates whole block rows and
//   keeps the first M). Block b at (bi, bj) covers rows bi·r … bi·r+r−1 and columns bj·c … bj·c+c−1.
// SpMV specialises 1×4, 4×4 and 16×16 (a 4-column block row is one v128), has a path for any c that is a
// multiple of 4 and a scalar path for any r×c. SpMM keeps a 4-row × 8-column tile of C in registers when
// r is a multiple of 4, else one row at a time in 16/8/4-column tiles.

/** y rows of block rows [br0, br1) of W · x; blockColIdx is u16. */
export function bsr_spmv_u16_f32(
  blockRowPtr: usize, blockColIdx: usize, values: usize, x: usize, y: usize, r: i32, c: i32, br0: i32, br1: i32,
): void {
  bsrSpmv<u16>(blockRowPtr, blockColIdx, values, x, y, r, c, br0, br1);
}

/** y rows of block rows [br0, br1) of W · x; blockColIdx is u32. */
export function bsr_spmv_u32_f32(
  blockRowPtr: usize, blockColIdx: usize, values: usize, x: usize, y: usize, r: i32, c: i32, br0: i32, br1: i32,
): void {
  bsrSpmv<u32>(blockRowPtr, blockColIdx, values, x, y, r, c, br0, br1);
}

/** C rows of block rows [br0, br1) of W · B, B [nbc·c, N]; blockColIdx is u16. */
export function bsr_spmm_u16_f32(
  blockRowPtr: usize, blockColIdx: usize, values: usize, b: usize, out: usize, N: i32, r: i32, c: i32, br0: i32, br1: i32,
): void {
  bsrSpmm<u16>(blockRowPtr, blockColIdx, values, b, out, N, r, c, br0, br1);
}

/** C rows of block rows [br0, br1) of W · B, B [nbc·c, N]; blockColIdx is u32. */
export function bsr_spmm_u32_f32(
  blockRowPtr: usize, blockColIdx: usize, values: usize, b: usize, out: usize, N: i32, r: i32, c: i32, br0: i32, br1: i32,
): void {
  bsrSpmm<u32>(blockRowPtr, blockColIdx, values, b, out, N, r, c, br0, br1);
}

// ---- SpMV ------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function bsrSpmv<I>(bp: usize, bi: usize, vals: usize, x: usize, y: usize, r: i32, c: i32, br0: i32, br1: i32): void {
  if (r == 1 && c == 4) spmv1x4<I>(bp, bi, vals, x, y, br0, br1);
  else if (r == 4 && c == 4) spmv4x4<I>(bp, bi, vals, x, y, br0, br1);
  else if (r == 16 && c == 16) spmv16x16<I>(bp, bi, vals, x, y, br0, br1);
  else if ((c & 3) == 0) spmvC4<I>(bp, bi, vals, x, y, r, c, br0, br1);
  else spmvAny<I>(bp, bi, vals, x, y, r, c, br0, br1);
}

/** 1×4 blocks: each block is one v128 of values times one v128 of x; 4 blocks per step, 2 accumulators. */
// @ts-ignore: decorator
@inline function spmv1x4<I>(bp: usize, bi: usize, vals: usize, x: usize, y: usize, br0: i32, br1: i32): void {
  const S = alignof<I>();
  const B = sizeof<I>();
  for (let i = br0; i < br1; i++) {
    let p = <usize>load<u32>(bp + (<usize>i << 2));
    const e = <usize>load<u32>(bp + (<usize>i << 2), 4);
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    for (; p + 4 <= e; p += 4) {
      const ip = bi + (p << S);
      const vp = vals + (p << 4);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(vp), v128.load(x + (<usize>load<I>(ip) << 4))));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(vp, 16), v128.load(x + (<usize>load<I>(ip, B) << 4))));
      a0 = f32x4.add(a0, f32x4.mul(v128.load(vp, 32), v128.load(x + (<usize>load<I>(ip, 2 * B) << 4))));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(vp, 48), v128.load(x + (<usize>load<I>(ip, 3 * B) << 4))));
    }
    for (; p < e; p++) {
      a0 = f32x4.add(a0, f32x4.mul(v128.load(vals + (p << 4)), v128.load(x + (<usize>load<I>(bi + (p << S)) << 4))));
    }
    store<f32>(y + (<usize>i << 2), hsum(f32x4.add(a0, a1)));
  }
}

/** 4×4 blocks: one x vector per block feeds four row accumulators. */
// @ts-ignore: decorator
@inline function spmv4x4<I>(bp: usize, bi: usize, vals: usize, x: usize, y: usize, br0: i32, br1: i32): void {
  const S = alignof<I>();
  for (let i = br0; i < br1; i++) {
    const s = <usize>load<u32>(bp + (<usize>i << 2));
    const e = <usize>load<u32>(bp + (<usize>i << 2), 4);
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let p = s; p < e; p++) {
      const xv = v128.load(x + (<usize>load<I>(bi + (p << S)) << 4));
      const vp = vals + (p << 6);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(vp), xv));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(vp, 16), xv));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(vp, 32), xv));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(vp, 48), xv));
    }
    v128.store(y + (<usize>i << 4), hsum4(a0, a1, a2, a3));
  }
}

/** 16×16 blocks: four rows at a time, each row's 16 products summed before its accumulator add. */
// @ts-ignore: decorator
@inline function spmv16x16<I>(bp: usize, bi: usize, vals: usize, x: usize, y: usize, br0: i32, br1: i32): void {
  const S = alignof<I>();
  for (let i = br0; i < br1; i++) {
    const s = <usize>load<u32>(bp + (<usize>i << 2));
    const e = <usize>load<u32>(bp + (<usize>i << 2), 4);
    for (let ii = 0; ii < 16; ii += 4) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      for (let p = s; p < e; p++) {
        const xp = x + (<usize>load<I>(bi + (p << S)) << 6);
        const x0 = v128.load(xp);
        const x1 = v128.load(xp, 16);
        const x2 = v128.load(xp, 32);
        const x3 = v128.load(xp, 48);
        const vp = vals + (p << 10) + (<usize>ii << 6); // block = 1024 bytes, row = 64 bytes
        a0 = f32x4.add(a0, dot4(vp, x0, x1, x2, x3));
        a1 = f32x4.add(a1, dot4(vp + 64, x0, x1, x2, x3));
        a2 = f32x4.add(a2, dot4(vp + 128, x0, x1, x2, x3));
        a3 = f32x4.add(a3, dot4(vp + 192, x0, x1, x2, x3));
      }
      v128.store(y + ((<usize>i * 16 + ii) << 2), hsum4(a0, a1, a2, a3));
    }
  }
}

/** v[0:16] · (x0, x1, x2, x3) as a vector of partial sums. */
// @ts-ignore: decorator
@inline function dot4(vp: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  return f32x4.add(
    f32x4.add(f32x4.mul(v128.load(vp), x0), f32x4.mul(v128.load(vp, 16), x1)),
    f32x4.add(f32x4.mul(v128.load(vp, 32), x2), f32x4.mul(v128.load(vp, 48), x3)),
  );
}

/** Any r, c a multiple of 4: rows in groups of four (then one at a time), c/4 vectors per block row. */
// @ts-ignore: decorator
@inline function spmvC4<I>(bp: usize, bi: usize, vals: usize, x: usize, y: usize, r: i32, c: i32, br0: i32, br1: i32): void {
  const S = alignof<I>();
  const rowBytes = <usize>c << 2;
  const blockBytes = <usize>r * rowBytes;
  for (let i = br0; i < br1; i++) {
    const s = <usize>load<u32>(bp + (<usize>i << 2));
    const e = <usize>load<u32>(bp + (<usize>i << 2), 4);
    const yRow = y + ((<usize>i * <usize>r) << 2);
    let ii = 0;
    for (; ii + 4 <= r; ii += 4) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      for (let p = s; p < e; p++) {
        const xp = x + <usize>load<I>(bi + (p << S)) * rowBytes;
        const vp = vals + p * blockBytes + <usize>ii * rowBytes;
        for (let q: usize = 0; q < rowBytes; q += 16) {
          const xv = v128.load(xp + q);
          a0 = f32x4.add(a0, f32x4.mul(v128.load(vp + q), xv));
          a1 = f32x4.add(a1, f32x4.mul(v128.load(vp + rowBytes + q), xv));
          a2 = f32x4.add(a2, f32x4.mul(v128.load(vp + 2 * rowBytes + q), xv));
          a3 = f32x4.add(a3, f32x4.mul(v128.load(vp + 3 * rowBytes + q), xv));
        }
      }
      v128.store(yRow + (<usize>ii << 2), hsum4(a0, a1, a2, a3));
    }
    for (; ii < r; ii++) {
      let a = f32x4.splat(0);
      for (let p = s; p < e; p++) {
        const xp = x + <usize>load<I>(bi + (p << S)) * rowBytes;
        const vp = vals + p * blockBytes + <usize>ii * rowBytes;
        for (let q: usize = 0; q < rowBytes; q += 16) a = f32x4.add(a, f32x4.mul(v128.load(vp + q), v128.load(xp + q)));
      }
      store<f32>(yRow + (<usize>ii << 2), hsum(a));
    }
  }
}

/** Any r×c: scalar dot products per row of each block. */
// @ts-ignore: decorator
@inline function spmvAny<I>(bp: usize, bi: usize, vals: usize, x: usize, y: usize, r: i32, c: i32, br0: i32, br1: i32): void {
  const S = alignof<I>();
  const rowBytes = <usize>c << 2;
  const blockBytes = <usize>r * rowBytes;
  for (let i = br0; i < br1; i++) {
    const s = <usize>load<u32>(bp + (<usize>i << 2));
    const e = <usize>load<u32>(bp + (<usize>i << 2), 4);
    for (let ii = 0; ii < r; ii++) {
      let acc: f32 = 0;
      for (let p = s; p < e; p++) {
        const xp = x + <usize>load<I>(bi + (p << S)) * rowBytes;
        const vp = vals + p * blockBytes + <usize>ii * rowBytes;
        for (let q: usize = 0; q < rowBytes; q += 4) acc += load<f32>(vp + q) * load<f32>(xp + q);
      }
      store<f32>(y + ((<usize>i * <usize>r + <usize>ii) << 2), acc);
    }
  }
}

// ---- SpMM ------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function bsrSpmm<I>(bp: usize, bi: usize, vals: usize, b: usize, cOut: usize, N: i32, r: i32, c: i32, br0: i32, br1: i32): void {
  const ldb = <usize>N << 2;
  const blockBytes = (<usize>r * <usize>c) << 2;
  for (let i = br0; i < br1; i++) {
    const s = <usize>load<u32>(bp + (<usize>i << 2));
    const e = <usize>load<u32>(bp + (<usize>i << 2), 4);
    let ii = 0;
    if (N >= 8) {
      for (; ii + 4 <= r; ii += 4) {
        const cRow = cOut + (<usize>i * <usize>r + <usize>ii) * ldb;
        const v0 = vals + s * blockBytes + ((<usize>ii * <usize>c) << 2);
        let j = 0;
        for (; j + 8 <= N; j += 8) rows4x8<I>(bi, s, e, v0, blockBytes, c, b + (<usize>j << 2), ldb, cRow + (<usize>j << 2));
        if (j < N) rowsTail<I>(bi, s, e, v0, blockBytes, c, 4, b, ldb, cRow, j, N);
      }
    }
    for (; ii < r; ii++) {
      const cRow = cOut + (<usize>i * <usize>r + <usize>ii) * ldb;
      rowsTail<I>(bi, s, e, vals + s * blockBytes + ((<usize>ii * <usize>c) << 2), blockBytes, c, 1, b, ldb, cRow, 0, N);
    }
  }
}

/**
 * C[4 rows, 8 columns] over blocks [s, e): for each block column k, two B vectors feed 4 × 2 accumulators
 * (8 accumulators + 2 B loads + 4 value splats = 14 SIMD registers). vp: the tile's first row in block s.
 */
// @ts-ignore: decorator
@inline function rows4x8<I>(bi: usize, s: usize, e: usize, vp: usize, blockBytes: usize, c: i32, bj: usize, ldb: usize, out: usize): void {
  const S = alignof<I>();
  const rowBytes = <usize>c << 2;
  let a00 = f32x4.splat(0);
  let a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0);
  let a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0);
  let a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0);
  let a31 = f32x4.splat(0);
  for (let p = s; p < e; p++) {
    let br = bj + <usize>load<I>(bi + (p << S)) * <usize>c * ldb;
    const vEnd = vp + rowBytes;
    for (let v = vp; v < vEnd; v += 4) {
      const b0 = v128.load(br);
      const b1 = v128.load(br, 16);
      const w0 = v128.load32_splat(v);
      a00 = madd(w0, b0, a00);
      a01 = madd(w0, b1, a01);
      const w1 = v128.load32_splat(v + rowBytes);
      a10 = madd(w1, b0, a10);
      a11 = madd(w1, b1, a11);
      const w2 = v128.load32_splat(v + 2 * rowBytes);
      a20 = madd(w2, b0, a20);
      a21 = madd(w2, b1, a21);
      const w3 = v128.load32_splat(v + 3 * rowBytes);
      a30 = madd(w3, b0, a30);
      a31 = madd(w3, b1, a31);
      br += ldb;
    }
    vp += blockBytes;
  }
  v128.store(out, a00);
  v128.store(out, a01, 16);
  v128.store(out + ldb, a10);
  v128.store(out + ldb, a11, 16);
  v128.store(out + 2 * ldb, a20);
  v128.store(out + 2 * ldb, a21, 16);
  v128.store(out + 3 * ldb, a30);
  v128.store(out + 3 * ldb, a31, 16);
}

/**
 * Columns [j0, N) of `rows` consecutive C rows, one row at a time: 16-, 8- and 4-column register tiles,
 * then scalar columns. vp: the first row's values in block s; cRow: that row of C.
 */
// @ts-ignore: decorator
@inline function rowsTail<I>(
  bi: usize, s: usize, e: usize, vp: usize, blockBytes: usize, c: i32, rows: i32, b: usize, ldb: usize, cRow: usize, j0: i32, N: i32,
): void {
  const S = alignof<I>();
  const rowBytes = <usize>c << 2;
  const kStride = <usize>c * ldb;
  for (let t = 0; t < rows; t++) {
    const v0 = vp + <usize>t * rowBytes;
    const out = cRow + <usize>t * ldb;
    let j = j0;
    for (; j + 16 <= N; j += 16) {
      const bj = b + (<usize>j << 2);
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let vb = v0;
      for (let p = s; p < e; p++) {
        let br = bj + <usize>load<I>(bi + (p << S)) * kStride;
        for (let v = vb; v < vb + rowBytes; v += 4) {
          const w = v128.load32_splat(v);
          a0 = madd(w, v128.load(br), a0);
          a1 = madd(w, v128.load(br, 16), a1);
          a2 = madd(w, v128.load(br, 32), a2);
          a3 = madd(w, v128.load(br, 48), a3);
          br += ldb;
        }
        vb += blockBytes;
      }
      const o = out + (<usize>j << 2);
      v128.store(o, a0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
    }
    for (; j + 4 <= N; j += 4) {
      const bj = b + (<usize>j << 2);
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let vb = v0;
      for (let p = s; p < e; p++) {
        let br = bj + <usize>load<I>(bi + (p << S)) * kStride;
        let v = vb;
        const vEnd = vb + rowBytes;
        for (; v + 8 <= vEnd; v += 8) {
          a0 = madd(v128.load32_splat(v), v128.load(br), a0);
          a1 = madd(v128.load32_splat(v, 4), v128.load(br + ldb), a1);
          br += 2 * ldb;
        }
        if (v < vEnd) a0 = madd(v128.load32_splat(v), v128.load(br), a0);
        vb += blockBytes;
      }
      v128.store(out + (<usize>j << 2), f32x4.add(a0, a1));
    }
    for (; j < N; j++) {
      const bj = b + (<usize>j << 2);
      let acc: f32 = 0;
      let vb = v0;
      for (let p = s; p < e; p++) {
        let br = bj + <usize>load<I>(bi + (p << S)) * kStride;
        for (let v = vb; v < vb + rowBytes; v += 4) {
          acc += load<f32>(v) * load<f32>(br);
          br += ldb;
        }
        vb += blockBytes;
      }
      store<f32>(out + (<usize>j << 2), acc);
    }
  }
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

/** (hsum a0, hsum a1, hsum a2, hsum a3) as one vector: a 4×4 transpose-and-add. */
// @ts-ignore: decorator
@inline function hsum4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t0 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7)); // a0₀+a0₂ a1₀+a1₂ a0₁+a0₃ a1₁+a1₃
  const t1 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
}
