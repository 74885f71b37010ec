/**
 * COO matmul. There is no COO kernel: the fast path converts the weight to CSR once (validated, kept
 * resident with the COO object as owner) and runs the CSR kernels (src/kernels/csr.ts); the reference is
 * the format's own cooMatmul.
 */

import { type COO, cooMatmul, cooToCsr, cooValidate } from '../../formats/coo.js';
import type { Tensor } from '../../tensor/tensor.js';
import { register } from '../dispatch.js';
import { resident } from '../resident.js';
import { runtime } from '../wasm.js';
import { checkSparseCall, csrRun, sameShape, uploadCsr } from './csr.js';

/**
 * W[M,K] · B with W in COO and B [K] (→ [M]) or [K,N] (→ [M,N]), on the CSR kernels. The first call
 * validates w, converts it to CSR and uploads that; later calls reuse it (`release(w)` after changing w).
 * @example cooMatmulWasm(cooFromDense(w), x)
 */
export function cooMatmulWasm(w: COO, b: Tensor): Tensor {
  checkSparseCall('cooMatmulWasm', 'coo', w, b);
  const rt = runtime();
  const r = resident(rt, w, 'coo-as-csr', () => {
    cooValidate(w);
    return uploadCsr(rt, cooToCsr(w));
  });
  return csrRun(rt, sameShape(r, w), b);
}

register('matmul', ['coo', 'dense'], 'fast', cooMatmulWasm);
register('matmul', ['coo', 'dense'], 'reference', cooMatmul);
