/**
 * TypeScript twin of the N:M kernels (src/kernels/nm.ts): the readable definition, reading the same resident
 * layout (src/backend/ops/nm-panels.ts: column panels, 2:4 meta as pair codes, 2:4 SpMV on x's pairs).
 */

import { type NmPanels, PAIRS_24 } from '../ops/nm-panels.js';

/** x [G·4] → its pairs [G·12]: group g's (x0,x1) (x0,x2) (x0,x3) (x1,x2) (x1,x3) (x2,x3) from 12·g. */
export function nm24ExpandXRef(x: Float32Array, G: number): Float32Array {
  const xe = new Float32Array(G * 12);
  for (let g = 0; g < G; g++) {
    PAIRS_24.forEach(([p0, p1], c) => {
      xe[g * 12 + 2 * c] = x[g * 4 + p0] ?? 0;
      xe[g * 12 + 2 * c + 1] = x[g * 4 + p1] ?? 0;
    });
  }
  return xe;
}

/**
 * C [M,N] = W · B for W in its resident layout and B [K,N] row-major (B [K] when N = 1; rows past K read as
 * 0). Every slot is processed, padding included (value 0), as the kernels do; panel by panel, each row's
 * panel sum added to C. 2:4 with N = 1 reads x's pairs at the pair code, like nm24_spmv_f32.
 */
export function nmPanelsMatmulRef(w: NmPanels<Float32Array>, b: Float32Array, N: number): Float32Array {
  const { rows, n, m, groups, panelGroups: P, metaBytesPerGroup: mb } = w;
  const bits = 32 - Math.clz32(m - 1);
  const is24 = n === 2 && m === 4;
  const xe = is24 && N === 1 ? nm24ExpandXRef(b, groups) : undefined;
  const out = new Float32Array(rows * N);
  const sum = new Float64Array(N);
  for (let g0 = 0; g0 < groups; g0 += P) {
    const gp = Math.min(P, groups - g0);
    for (let i = 0; i < rows; i++) {
      sum.fill(0);
      const first = rows * g0 + i * gp; // this (panel, row)'s first group record
      for (let g = 0; g < gp; g++) {
        const rec = (first + g) * mb;
        const vals = (first + g) * n;
        if (xe) {
          const pair = (g0 + g) * 12 + (w.meta[rec]! >> 3) * 2;
          sum[0]! += w.values[vals]! * xe[pair]! + w.values[vals + 1]! * xe[pair + 1]!;
          continue;
        }
        for (let s = 0; s < n; s++) {
          const pos = is24 ? PAIRS_24[w.meta[rec]! >> 3]![s]! : field(w.meta, rec, s * bits, bits);
          const k = (g0 + g) * m + pos;
          const v = w.values[vals + s]!;
          for (let j = 0; j < N; j++) sum[j]! += v * (b[k * N + j] ?? 0);
        }
      }
      for (let j = 0; j < N; j++) out[i * N + j]! += sum[j]!;
    }
  }
  return out;
}

/** The `bits`-wide field at bit `bit` of the record at byte `rec` (LSB first; fields span ≤ 2 bytes). */
function field(meta: Uint8Array, rec: number, bit: number, bits: number): number {
  const byte = rec + (bit >> 3);
  return (((meta[byte] ?? 0) | ((meta[byte + 1] ?? 0) << 8)) >> (bit & 7)) & ((1 << bits) - 1);
}
