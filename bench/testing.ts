/** Test helpers for the benchmark harness (fake results; no timing). */

import { type KernelCaseSpec, kernelCase } from './cases.js';
import type { CaseResult } from './results.js';

/** A timed result for a case spec with a given median (ms). */
export function result(spec: Partial<KernelCaseSpec>, medianMs: number): CaseResult {
  const c = kernelCase({
    op: 'matmul',
    impl: 'sparsekit',
    format: 'dense',
    pattern: 'dense',
    M: 4096,
    K: 4096,
    N: 1,
    sparsity: 0,
    threads: 1,
    ...spec,
  });
  const { nnz, flops, denseFlops, weightBytes, bytes, ...rest } = c;
  return {
    ...rest,
    status: 'ok',
    nnz: nnz(),
    weightBytes: weightBytes(),
    medianMs,
    minMs: medianMs,
    usefulGflops: flops() / (medianMs * 1e6),
  };
}
