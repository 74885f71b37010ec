// The CSR SpMM row walk over one column panel, shared by csr.ts (f32 values) and csr-half.ts (half values
// widened to f32 first): C[i, :] (+)= Σ_p values[p] · B[colIdx[p] / 4, :] for rows [r0, r1), colIdx u16 byte
// offsets (column · 4, as the SpMV gathers x by) relative to the panel's first column (b points at that column's
// row of B), so B's row for an index is at b + index · (rowStride / 4) (`idxScale`).
import { madd_f32x4 as madd } from './_math';

// Each C row is computed in column tiles held in registers: 24 columns (6 accumulators, one non-zero per
// step: 6 B loads + 1 splat + 6 accumulators = 13 of V8's 15 SIMD registers), then 16 (two non-zeros
// per step, products summed before the accumulator add to halve the dependency chain), 8 and 4 (four
// non-zeros per step), then scalar columns. The relaxed build fuses each multiply-add (relaxed_madd):
// 1.18× faster at 64 columns here; measured slower: 28-column tiles (7 accumulators, 64 columns) and
// 24-column tiles taking two non-zeros per step (V8 then spills). `accumulate` (a constant at each call):
// add the tile to what C holds (panels after the first) instead of storing it.
// N = 8 has its own row loop (B rows of 32 bytes: a shift instead of a multiply per index) and the 8-column
// tile loads four values at once and broadcasts them by shuffles, summing the four products in a multiply-add
// chain off the accumulator. Measured A/B against the previous tile8 (four splat loads, mul + add pairs, a
// multiply per index), same process, cold, relaxed build, 1 thread, sparsify(randn) at 90%, CPU time, two
// passes: N = 8 1.07–1.10× at 4096×4096 (1.25 → 1.15 ms), 1.07–1.16× at 4096×11008 (3 panels of 3680);
// N = 56 (8-column tile after two 24s) 1.02–1.03×; 1536×576 at 70% (B in L1) N = 8 1.22–1.29×; SmolLM-135M
// prefill (N = 512, 1536×576 and 576×1536 at 70%) 0.96–1.07× (noise). Eight accumulators (one pair per
// non-zero of a step) were 0.82× (spills); four accumulators fed by FMAs, within 5% of this. What limits N = 8 is B's rows coming from L2, not the instructions:
// with 1024-column panels (B's slice 32 KB, in L1) the same loops run 1.2–1.3× faster (the new tile8
// 1.4–1.5× the old one at the current width), but SpMV loses 0.74–0.82× at 90% with those panels (see
// csr.ts). In `--print-wasm-code` the 24-column loop loads B into 6 registers, then 6 vfmadd231ps, each on its
// own accumulator: 4 cycles of FMA latency per non-zero, so 1.5 of the 2 FMAs a cycle; 12 accumulators
// would spill (V8 keeps the 6 loads live at once).
/** C rows [r0, r1) = this panel's W rows · B [panel columns, N] (the first panel). */
export function csrSpmmPanelStore(
  rowPtr: usize, colIdx: usize, values: usize, b: usize, rowStride: usize, groupStride: usize, c: usize, N: i32,
  r0: i32, r1: i32,
): void {
  csrSpmmPanel(rowPtr, colIdx, values, b, rowStride, groupStride, c, N, r0, r1, false);
}

/** C rows [r0, r1) += this panel's W rows · B [panel columns, N] (the panels after the first). */
export function csrSpmmPanelAdd(
  rowPtr: usize, colIdx: usize, values: usize, b: usize, rowStride: usize, groupStride: usize, c: usize, N: i32,
  r0: i32, r1: i32,
): void {
  csrSpmmPanel(rowPtr, colIdx, values, b, rowStride, groupStride, c, N, r0, r1, true);
}

// @ts-ignore: decorator
@inline function csrSpmmPanel(
  rowPtr: usize, colIdx: usize, values: usize, b: usize, rowStride: usize, groupStride: usize, c: usize, N: i32,
  r0: i32, r1: i32, accumulate: bool,
): void {
  if (N == 8) {
    // B's rows are 32 bytes: the constant row stride (8 per index unit) turns each index's multiply into a shift.
    for (let i = r0; i < r1; i++) {
      const s = <usize>load<u32>(rowPtr + (<usize>i << 2));
      const e = <usize>load<u32>(rowPtr + (<usize>i << 2), 4);
      tile8(colIdx + (s << 1), values + (s << 2), e - s, b, 8, c + (<usize>i << 5), accumulate);
    }
    return;
  }
  // Row-major B (groupStride 32, a constant in this copy of the walk, so the tiles' offsets fold as before): one
  // row at a time, all its tiles while its entries are in L1. B packed (wide right-hand sides): blocks of
  // SPMM_ROW_BLOCK rows, each column tile over the block's rows before the next tile, so the tile's strips of B
  // are reused from L1 / L2 across the block.
  if (groupStride == 32) csrSpmmRowMajor(rowPtr, colIdx, values, b, rowStride, c, N, r0, r1, accumulate);
  else csrSpmmBlocks(rowPtr, colIdx, values, b, rowStride, groupStride, c, N, r0, r1, accumulate);
}

// @ts-ignore: decorator
@inline function csrSpmmRowMajor(
  rowPtr: usize, colIdx: usize, values: usize, b: usize, rowBytes: usize, c: usize, N: i32, r0: i32, r1: i32,
  accumulate: bool,
): void {
  for (let i = r0; i < r1; i++) {
    const rp = rowPtr + (<usize>i << 2);
    const s = <usize>load<u32>(rp);
    const e = <usize>load<u32>(rp, 4);
    const cRow = c + <usize>i * rowBytes;
    const ip = colIdx + (s << 1);
    const vp = values + (s << 2);
    const n = e - s;
    let j = 0;
    for (; j + 24 <= N; j += 24) tile24(ip, vp, n, b + (<usize>j << 2), rowBytes >> 2, 32, cRow + (<usize>j << 2), accumulate);
    if (j + 16 <= N) {
      tile16(ip, vp, n, b + (<usize>j << 2), rowBytes >> 2, 32, cRow + (<usize>j << 2), accumulate);
      j += 16;
    }
    if (j + 8 <= N) {
      tile8(ip, vp, n, b + (<usize>j << 2), rowBytes >> 2, cRow + (<usize>j << 2), accumulate);
      j += 8;
    }
    if (j + 4 <= N) {
      tile4(ip, vp, n, b + (<usize>j << 2), rowBytes >> 2, cRow + (<usize>j << 2), accumulate);
      j += 4;
    }
    for (; j < N; j++) column1(ip, vp, n, b + (<usize>j << 2), rowBytes >> 2, cRow + (<usize>j << 2), accumulate);
  }
}

// @ts-ignore: decorator
@inline function csrSpmmBlocks(
  rowPtr: usize, colIdx: usize, values: usize, b: usize, rowStride: usize, groupStride: usize, c: usize, N: i32,
  r0: i32, r1: i32, accumulate: bool,
): void {
  const cBytes = <usize>N << 2;
  for (let i0 = r0; i0 < r1; i0 += SPMM_ROW_BLOCK) {
    const i1 = min(r1, i0 + SPMM_ROW_BLOCK);
    let j = 0;
    for (; j + 24 <= N; j += 24) blockTile(24, rowPtr, colIdx, values, b, rowStride, groupStride, c, cBytes, j, i0, i1, accumulate);
    if (j + 16 <= N) {
      blockTile(16, rowPtr, colIdx, values, b, rowStride, groupStride, c, cBytes, j, i0, i1, accumulate);
      j += 16;
    }
    if (j + 8 <= N) {
      blockTile(8, rowPtr, colIdx, values, b, rowStride, groupStride, c, cBytes, j, i0, i1, accumulate);
      j += 8;
    }
    if (j + 4 <= N) {
      blockTile(4, rowPtr, colIdx, values, b, rowStride, groupStride, c, cBytes, j, i0, i1, accumulate);
      j += 4;
    }
    for (; j < N; j++) {
      const bj = colAt(b, j, groupStride);
      for (let i = i0; i < i1; i++) {
        const s = <usize>load<u32>(rowPtr + (<usize>i << 2));
        const n = <usize>load<u32>(rowPtr + (<usize>i << 2), 4) - s;
        column1(colIdx + (s << 1), values + (s << 2), n, bj, rowStride >> 2, c + <usize>i * cBytes + (<usize>j << 2), accumulate);
      }
    }
  }
}

/** out[0] (+)= Σ_q v[q] · B[col[q], j] for one column (bj: column j of B's row 0). */
// @ts-ignore: decorator
@inline function column1(ip: usize, vp: usize, n: usize, bj: usize, idxScale: usize, out: usize, accumulate: bool): void {
  let acc: f32 = accumulate ? load<f32>(out) : 0;
  for (let q: usize = 0; q < n; q++) {
    acc += load<f32>(vp + (q << 2)) * load<f32>(bj + <usize>load<u16>(ip + (q << 1)) * idxScale);
  }
  store<f32>(out, acc);
}

/** The `width`-column tile (24, 16, 8 or 4: a constant at each call) at column j of rows [i0, i1) of C. */
// @ts-ignore: decorator
@inline function blockTile(
  width: i32, rowPtr: usize, colIdx: usize, values: usize, b: usize, rowStride: usize, groupStride: usize, c: usize,
  cBytes: usize, j: i32, i0: i32, i1: i32, accumulate: bool,
): void {
  const bj = colAt(b, j, groupStride);
  for (let i = i0; i < i1; i++) {
    const s = <usize>load<u32>(rowPtr + (<usize>i << 2));
    const n = <usize>load<u32>(rowPtr + (<usize>i << 2), 4) - s;
    const ip = colIdx + (s << 1);
    const vp = values + (s << 2);
    const out = c + <usize>i * cBytes + (<usize>j << 2);
    if (width == 24) tile24(ip, vp, n, bj, rowStride >> 2, groupStride, out, accumulate);
    else if (width == 16) tile16(ip, vp, n, bj, rowStride >> 2, groupStride, out, accumulate);
    else if (width == 8) tile8(ip, vp, n, bj, rowStride >> 2, out, accumulate);
    else tile4(ip, vp, n, bj, rowStride >> 2, out, accumulate);
  }
}

/** Rows per block of the general SpMM walk (see csrSpmmPanel). */
const SPMM_ROW_BLOCK: i32 = 64;

/** Address of column j of B's row 0 when B's 8-column groups are groupStride bytes apart (see csrSpmmPanel). */
// @ts-ignore: decorator
@inline function colAt(b: usize, j: i32, groupStride: usize): usize {
  return b + <usize>(j >> 3) * groupStride + (<usize>(j & 7) << 2);
}

/** out[0:4] = a, or out[0:4] += a when accumulating; `offset` in bytes. */
// @ts-ignore: decorator
@inline function put(out: usize, a: v128, offset: usize, accumulate: bool): void {
  if (accumulate) v128.store(out + offset, f32x4.add(v128.load(out + offset), a));
  else v128.store(out + offset, a);
}

/** c[0:24] (+)= Σ_q v[q] · B[col[q], 0:24] for the n non-zeros at ip / vp; bj points at column j of B row 0. */
// @ts-ignore: decorator
@inline function tile24(ip: usize, vp: usize, n: usize, bj: usize, idxScale: usize, groupStride: usize, out: usize, accumulate: bool): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0);
  let a5 = f32x4.splat(0);
  for (let q: usize = 0; q < n; q++) {
    const v = v128.load32_splat(vp + (q << 2));
    const br = bj + <usize>load<u16>(ip + (q << 1)) * idxScale;
    a0 = madd(v, v128.load(br), a0);
    a1 = madd(v, v128.load(br, 16), a1);
    if (groupStride == 32) {
      // row-major B (groupStride a constant at this inlined call): immediate load offsets
      a2 = madd(v, v128.load(br, 32), a2);
      a3 = madd(v, v128.load(br, 48), a3);
      a4 = madd(v, v128.load(br, 64), a4);
      a5 = madd(v, v128.load(br, 80), a5);
    } else {
      const br1 = br + groupStride;
      const br2 = br1 + groupStride;
      a2 = madd(v, v128.load(br1), a2);
      a3 = madd(v, v128.load(br1, 16), a3);
      a4 = madd(v, v128.load(br2), a4);
      a5 = madd(v, v128.load(br2, 16), a5);
    }
  }
  put(out, a0, 0, accumulate);
  put(out, a1, 16, accumulate);
  put(out, a2, 32, accumulate);
  put(out, a3, 48, accumulate);
  put(out, a4, 64, accumulate);
  put(out, a5, 80, accumulate);
}

/** Like tile24 for 16 columns, two non-zeros per step. */
// @ts-ignore: decorator
@inline function tile16(ip: usize, vp: usize, n: usize, bj: usize, idxScale: usize, groupStride: usize, out: usize, accumulate: bool): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let q: usize = 0;
  for (; q + 2 <= n; q += 2) {
    const v0 = v128.load32_splat(vp + (q << 2));
    const v1 = v128.load32_splat(vp + (q << 2), 4);
    const b0 = bj + <usize>load<u16>(ip + (q << 1)) * idxScale;
    const b1 = bj + <usize>load<u16>(ip + (q << 1), 2) * idxScale;
    a0 = madd(v1, v128.load(b1), madd(v0, v128.load(b0), a0));
    a1 = madd(v1, v128.load(b1, 16), madd(v0, v128.load(b0, 16), a1));
    if (groupStride == 32) {
      a2 = madd(v1, v128.load(b1, 32), madd(v0, v128.load(b0, 32), a2));
      a3 = madd(v1, v128.load(b1, 48), madd(v0, v128.load(b0, 48), a3));
    } else {
      a2 = madd(v1, v128.load(b1 + groupStride), madd(v0, v128.load(b0 + groupStride), a2));
      a3 = madd(v1, v128.load(b1 + groupStride, 16), madd(v0, v128.load(b0 + groupStride, 16), a3));
    }
  }
  if (q < n) {
    const v = v128.load32_splat(vp + (q << 2));
    const br = bj + <usize>load<u16>(ip + (q << 1)) * idxScale;
    a0 = madd(v, v128.load(br), a0);
    a1 = madd(v, v128.load(br, 16), a1);
    a2 = madd(v, v128.load(br + groupStride), a2);
    a3 = madd(v, v128.load(br + groupStride, 16), a3);
  }
  put(out, a0, 0, accumulate);
  put(out, a1, 16, accumulate);
  put(out, a2, 32, accumulate);
  put(out, a3, 48, accumulate);
}

/**
 * Like tile24 for 8 columns, four non-zeros per step: their values in one v128 load, each broadcast by a
 * shuffle (not four splat loads), their four products summed in a chain of multiply-adds off the accumulator,
 * which takes one add per step (so its latency never limits the loop).
 */
// @ts-ignore: decorator
@inline function tile8(ip: usize, vp: usize, n: usize, bj: usize, idxScale: usize, out: usize, accumulate: bool): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let q: usize = 0;
  for (; q + 4 <= n; q += 4) {
    const iq = ip + (q << 1);
    const vv = v128.load(vp + (q << 2));
    const b0 = bj + <usize>load<u16>(iq) * idxScale;
    const b1 = bj + <usize>load<u16>(iq, 2) * idxScale;
    const b2 = bj + <usize>load<u16>(iq, 4) * idxScale;
    const b3 = bj + <usize>load<u16>(iq, 6) * idxScale;
    const v0 = i32x4.shuffle(vv, vv, 0, 0, 0, 0);
    const v1 = i32x4.shuffle(vv, vv, 1, 1, 1, 1);
    const v2 = i32x4.shuffle(vv, vv, 2, 2, 2, 2);
    const v3 = i32x4.shuffle(vv, vv, 3, 3, 3, 3);
    const lo = madd(v3, v128.load(b3), madd(v2, v128.load(b2), madd(v1, v128.load(b1), f32x4.mul(v0, v128.load(b0)))));
    const hi = madd(v3, v128.load(b3, 16), madd(v2, v128.load(b2, 16), madd(v1, v128.load(b1, 16), f32x4.mul(v0, v128.load(b0, 16)))));
    a0 = f32x4.add(a0, lo);
    a1 = f32x4.add(a1, hi);
  }
  for (; q < n; q++) {
    const v = v128.load32_splat(vp + (q << 2));
    const br = bj + <usize>load<u16>(ip + (q << 1)) * idxScale;
    a0 = madd(v, v128.load(br), a0);
    a1 = madd(v, v128.load(br, 16), a1);
  }
  put(out, a0, 0, accumulate);
  put(out, a1, 16, accumulate);
}

/** Like tile24 for 4 columns, four non-zeros per step. */
// @ts-ignore: decorator
@inline function tile4(ip: usize, vp: usize, n: usize, bj: usize, idxScale: usize, out: usize, accumulate: bool): void {
  let a0 = f32x4.splat(0);
  let q: usize = 0;
  for (; q + 4 <= n; q += 4) {
    const iq = ip + (q << 1);
    const p01 = f32x4.add(
      f32x4.mul(v128.load32_splat(vp + (q << 2)), v128.load(bj + <usize>load<u16>(iq) * idxScale)),
      f32x4.mul(v128.load32_splat(vp + (q << 2), 4), v128.load(bj + <usize>load<u16>(iq, 2) * idxScale)),
    );
    const p23 = f32x4.add(
      f32x4.mul(v128.load32_splat(vp + (q << 2), 8), v128.load(bj + <usize>load<u16>(iq, 4) * idxScale)),
      f32x4.mul(v128.load32_splat(vp + (q << 2), 12), v128.load(bj + <usize>load<u16>(iq, 6) * idxScale)),
    );
    a0 = f32x4.add(a0, f32x4.add(p01, p23));
  }
  for (; q < n; q++) {
    a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(vp + (q << 2)), v128.load(bj + <usize>load<u16>(ip + (q << 1)) * idxScale)));
  }
  put(out, a0, 0, accumulate);
}
