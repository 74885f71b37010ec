import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bitmaskNbytes,
  bsrNbytes,
  cooNbytes,
  csrNbytes,
  nmNbytes,
  nmPruneMagnitude,
  toFormat,
} from '../src/formats/index.js';
import { randn, sparsify } from '../src/tensor/random.js';
import { type KernelCaseSpec, kernelCase } from './cases.js';
import { blockSparsify } from './weights.js';

const base = { op: 'matmul', impl: 'sparsekit', threads: 1 } as const;

test('a case names itself and counts dense work as 2·M·K·N', () => {
  const c = kernelCase({
    ...base,
    format: 'csr',
    pattern: 'unstructured',
    M: 64,
    K: 96,
    N: 8,
    sparsity: 0.9,
  });
  assert.equal(c.id, 'matmul 64x96 N=8 csr 90% t1');
  assert.equal(c.denseFlops(), 2 * 64 * 96 * 8);
  assert.equal(c.nnz(), 64 * 96 - Math.round(64 * 96 * 0.9));
  assert.equal(c.flops(), 2 * c.nnz() * 8);
  // weight + input [K,N] + output [M,N], f32
  assert.equal(c.bytes(), c.weightBytes() + 96 * 8 * 4 + 64 * 8 * 4);
});

test('weightBytes() equals the exact nbytes of what the kernel streams for the weights the benchmark builds', () => {
  // K = 70000 > 65536 makes CSR fall back to u32 indices; the other shapes use u16.
  for (const [M, K] of [
    [8, 40],
    [17, 64],
    [2, 70000],
  ] as const) {
    const w = randn([M, K], M + K);
    for (const s of [0.5, 0.9]) {
      const pruned = sparsify(w, s, 3);
      const spec = { ...base, pattern: 'unstructured', M, K, N: 1, sparsity: s } as const;
      assert.equal(
        kernelCase({ ...spec, format: 'csr' }).weightBytes(),
        csrNbytes(toFormat(pruned, { format: 'csr' })),
      );
      // COO runs on a resident CSR conversion: it streams CSR's bytes, though it stores more
      assert.equal(
        kernelCase({ ...spec, format: 'coo' }).weightBytes(),
        csrNbytes(toFormat(pruned, { format: 'csr' })),
      );
      assert.ok(
        cooNbytes(toFormat(pruned, { format: 'coo' })) > kernelCase({ ...spec, format: 'coo' }).weightBytes(),
      );
      const bm = toFormat(pruned, { format: 'bitmask' });
      assert.equal(kernelCase({ ...spec, format: 'bitmask' }).weightBytes(), bitmaskNbytes(bm));
      const blocked = blockSparsify(w, 4, 4, s, 5);
      const bsr: KernelCaseSpec = {
        ...base,
        format: 'bsr',
        pattern: 'block',
        block: [4, 4],
        M,
        K,
        N: 1,
        sparsity: s,
      };
      assert.equal(
        kernelCase(bsr).weightBytes(),
        bsrNbytes(toFormat(blocked, { format: 'bsr', blockRows: 4, blockCols: 4 })),
        `bsr ${M}×${K} at ${s}`,
      );
    }
    const nm = toFormat(nmPruneMagnitude(w, 2, 4), { format: 'nm', n: 2, m: 4 });
    const nmCase = kernelCase({
      ...base,
      format: 'nm',
      pattern: 'nm',
      nm: [2, 4],
      M,
      K,
      N: 1,
      sparsity: 0.5,
    });
    assert.equal(nmCase.weightBytes(), nmNbytes(nm));
    assert.equal(nmCase.nnz(), (M * K) / 2);
  }
});

test('2:4 streams 56.25% of the dense bytes; column-sparse GEMV only its active columns', () => {
  const dense = kernelCase({
    ...base,
    format: 'dense',
    pattern: 'dense',
    M: 4096,
    K: 4096,
    N: 1,
    sparsity: 0,
  });
  const nm = kernelCase({
    ...base,
    format: 'nm',
    pattern: 'nm',
    nm: [2, 4],
    M: 4096,
    K: 4096,
    N: 1,
    sparsity: 0.5,
  });
  assert.equal(nm.weightBytes() / dense.weightBytes(), 0.5625);
  const col = kernelCase({
    ...base,
    op: 'colsparse_gemv',
    format: 'dense',
    pattern: 'inputs',
    M: 4096,
    K: 4096,
    N: 1,
    sparsity: 0.5,
  });
  assert.equal(col.weightBytes(), dense.weightBytes() / 2);
  assert.equal(col.flops(), dense.flops() / 2);
  assert.equal(col.id, 'colsparse_gemv 4096x4096 N=1 dense 50% inputs active t1');
});

test('impossible cases are refused with the field to fix', () => {
  assert.throws(
    () => kernelCase({ ...base, format: 'bsr', pattern: 'block', M: 4, K: 4, N: 1, sparsity: 0.5 }),
    /bsr case needs block/,
  );
  assert.throws(
    () => kernelCase({ ...base, format: 'csr', pattern: 'unstructured', M: 4, K: 4, N: 1, sparsity: 1.5 }),
    /sparsity must be in \[0,1\)/,
  );
  assert.throws(
    () =>
      kernelCase({
        ...base,
        impl: 'onnxruntime',
        format: 'dense',
        pattern: 'dense',
        M: 4,
        K: 4,
        N: 1,
        sparsity: 0,
      }),
    /needs a layout/,
  );
});
