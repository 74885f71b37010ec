// Dense GEMM: C[M,N] = A[M,K] · B[K,N], all f32 row-major; rows [r0, r1) of C only, so a pool can split rows.
// B is packed once into 8-column strips (gemm_pack_b_f32); gemm_f32 then walks K in blocks of KC, packs its
// own rows of A for the block into 4-row panels, and runs a 4×8 register-blocked micro-kernel over every
// (panel, strip) pair. Both packed operands are read at unit stride, so the loop is loads and multiply-adds.
// TypeScript twins: src/backend/reference/dense.ts gemmPackBRef (B strips) and gemmRef (the product).
//
// Packed B ("strips"): S = ceil(N/8) strips; strip s holds columns [8s, 8s+8) for every k:
//   bp[(s·K + k)·8 + j] = B[k, 8s + j]   (0 where 8s + j ≥ N)           gemm_pack_b_bytes(K, N)
// Packed A ("panels"), scratch rewritten for every K block [k0, k0+kc): 4-row panel p (rows 4p..4p+3) is
//   ap[(4p·KC) + 4·kk + r] = A[4p + r, k0 + kk]   (0 where 4p + r ≥ M)   gemm_scratch_bytes(M)
// A thread with rows [r0, r1) (r0 a multiple of 4) only touches panels r0/4 … so threads share the scratch.

import { ELEM_F32 } from './_half';
import { GEMM_KC, gemmBlocked, MR, NR } from './_gemm';

/** Bytes the host allocates for B[K,N] packed into strips. */
export function gemm_pack_b_bytes(K: i32, N: i32): usize {
  return (<usize>((N + NR - 1) / NR) * <usize>K * NR) << 2;
}

/** Bytes the host allocates for gemm_f32's A-panel scratch (all M rows, one K block). */
export function gemm_scratch_bytes(M: i32): usize {
  return (<usize>((M + MR - 1) / MR) * MR * <usize>GEMM_KC) << 2;
}

/** Pack strips [s0, s1) of B[K,N] (row-major, byte offset b) into bp (layout above). */
export function gemm_pack_b_f32(b: usize, bp: usize, K: i32, N: i32, s0: i32, s1: i32): void {
  const ldb = <usize>N << 2;
  for (let s = s0; s < s1; s++) {
    const j0 = s * NR;
    const cols = min(NR, N - j0);
    let src = b + (<usize>j0 << 2);
    let dst = bp + ((<usize>s * <usize>K * NR) << 2);
    if (cols == NR) {
      for (let k = 0; k < K; k++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        src += ldb;
        dst += NR << 2;
      }
    } else {
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < NR; j++) store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(src + (<usize>j << 2)) : 0);
        src += ldb;
        dst += NR << 2;
      }
    }
  }
}

/**
 * C[i, :] = A[i, :] · B for i in [r0, r1). a: A [M,K] row-major; bp: B packed by gemm_pack_b_f32; c: C [M,N];
 * ap: scratch for packed A panels (layout above). r0 must be a multiple of 4 (split rows with align 4).
 */
export function gemm_f32(a: usize, bp: usize, c: usize, M: i32, K: i32, N: i32, ap: usize, r0: i32, r1: i32): void {
  gemmBlocked(a, ELEM_F32, bp, c, M, K, N, ap, r0, r1);
}
