import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { setBackendMode } from '../dispatch.js';
import { GEMV_PANEL_COLS, gemvPanelWidth, packPanels, withGemvPanelCols } from '../panels.js';
import { gemmPackBRef, gemvPanelsRef, gemvRef } from '../reference/dense.js';
import { toKernelMemory } from '../resident.js';
import { relError, TOL } from '../tolerances.js';
import { runtime, useRuntime, type WasmVariant } from '../wasm.js';
import { denseMatmulRef, denseMatmulWasm, gemvWeight } from './dense.js';
import { matmul } from './matmul.js';

const variants: WasmVariant[] = ['simd', 'relaxed'];

for (const variant of variants) {
  for (const threads of [1, 2]) {
    test(`dense GEMV matches its twin (${variant}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
      useRuntime({ variant, threads });
      for (const [M, K] of [
        [1, 1],
        [5, 17],
        [17, 5],
        [64, 257],
        [1031, 515],
      ] as const) {
        const w = randn([M, K], M * 7 + K);
        const x = randn([K], K);
        const err = relError(denseMatmulWasm(w, x).data, denseMatmulRef(w, x).data);
        assert.ok(err <= TOL.gemv, `${M}×${K}: error ${err} > TOL.gemv ${TOL.gemv}`);
      }
    });
  }
}

// Panels of at most 48 columns here (2048 in use): balanced widths rounded to 16, the last one narrower, rows
// not a multiple of 4, one panel only, exact multiples.
const PANEL_SHAPES: Array<[number, number]> = [
  [5, 49],
  [37, 200],
  [64, 96],
  [3, 48],
  [9, 17],
  [130, 131],
];

for (const variant of variants) {
  for (const threads of [1, 2]) {
    test(`dense GEMV on a panel-major copy matches its twins (${variant}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
      useRuntime({ variant, threads });
      withGemvPanelCols(48, () => {
        for (const [M, K] of PANEL_SHAPES) {
          const w = randn([M, K], M * 3 + K);
          const x = randn([K], K + 1);
          const g = gemvWeight(w, M, K);
          assert.equal(g.panel, gemvPanelWidth(K, 16, 48), `${M}×${K}: panel width`);
          if (K > 48) assert.ok(g.panel > 0 && g.panel % 16 === 0, `${M}×${K}: takes the panel path`);
          const err = relError(denseMatmulWasm(w, x).data, denseMatmulRef(w, x).data);
          assert.ok(err <= TOL.gemv, `${M}×${K}: error ${err} > TOL.gemv ${TOL.gemv}`);
          if (g.panel > 0) {
            // the twin reads the packed layout: same result as the row-major reference
            const y = new Float32Array(M);
            const want = new Float32Array(M);
            gemvPanelsRef(
              packPanels(w.data, M, K, g.panel, new Float32Array(M * K)),
              x.data,
              y,
              M,
              K,
              g.panel,
            );
            gemvRef(w.data, x.data, want, M, K);
            assert.ok(relError(y, want) <= 1e-6, `${M}×${K}: gemvPanelsRef disagrees with gemvRef`);
          }
        }
      });
    });
  }
}

test('dense GEMV panels: layout, widths, and kernel arrays read in place row-major', () => {
  useRuntime({ variant: 'simd', threads: 1 });
  // 2 rows × 5 columns in panels of 2: [cols 0-1 of rows 0, 1][cols 2-3 …][col 4 …]
  const w = Float32Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual([...packPanels(w, 2, 5, 2, new Float32Array(10))], [0, 1, 5, 6, 2, 3, 7, 8, 4, 9]);
  assert.equal(gemvPanelWidth(GEMV_PANEL_COLS, 16), 0);
  assert.equal(gemvPanelWidth(4096, 16), 2048);
  assert.equal(gemvPanelWidth(11008, 16), 1840); // 6 panels: 5 × 1840 + 1808
  assert.throws(() => packPanels(w, 2, 5, 0, new Float32Array(10)), /P > 0/);
  const big = randn([3, GEMV_PANEL_COLS + 5], 9);
  assert.ok(gemvWeight(big, 3, GEMV_PANEL_COLS + 5).panel > 0);
  const inKernel = new Tensor(toKernelMemory(runtime(), big.data), big.shape);
  assert.equal(gemvWeight(inKernel, 3, GEMV_PANEL_COLS + 5).panel, 0, 'a kernel array is not copied');
  const x = randn([GEMV_PANEL_COLS + 5], 3);
  assert.ok(relError(denseMatmulWasm(inKernel, x).data, denseMatmulWasm(big, x).data) <= TOL.gemv);
});

/** Largest GEMM parity error over the given [M, K, N] shapes (random A and B). */
function gemmError(shapes: ReadonlyArray<readonly [number, number, number]>): { err: number; at: string } {
  let worst = { err: 0, at: '' };
  for (const [M, K, N] of shapes) {
    const a = randn([M, K], M * 31 + K * 7 + N);
    const b = randn([K, N], K * 13 + N);
    const err = relError(denseMatmulWasm(a, b).data, denseMatmulRef(a, b).data);
    if (!(err <= worst.err)) worst = { err, at: `${M}×${K}·${K}×${N}` };
  }
  return worst;
}

for (const variant of variants) {
  for (const threads of [1, 2]) {
    const label = `${variant}, ${threads} thread${threads > 1 ? 's' : ''}`;
    test(`dense GEMM matches its twin on odd shapes and tails (${label})`, () => {
      useRuntime({ variant, threads });
      // M not a multiple of 4, N not a multiple of 8, K across the kernel's 256-deep blocks
      const { err, at } = gemmError([
        [1, 1, 2],
        [5, 17, 3],
        [17, 5, 9],
        [33, 257, 17],
        [257, 33, 33],
        [6, 600, 12],
        [33, 257, 512],
      ]);
      assert.ok(err <= TOL.gemm, `${at}: error ${err} > TOL.gemm ${TOL.gemm}`);
    });

    test(`dense GEMM matches its twin for every N from 2 to 64 (${label})`, () => {
      useRuntime({ variant, threads });
      const shapes: Array<[number, number, number]> = [];
      for (let N = 2; N <= 64; N++) shapes.push([N % 2 ? 19 : 130, N % 3 ? 21 : 300, N]);
      const { err, at } = gemmError(shapes);
      assert.ok(err <= TOL.gemm, `${at}: error ${err} > TOL.gemm ${TOL.gemm}`);
    });
  }
}

test('dense GEMM: K = 0 gives zeros, M = 0 gives an empty result', () => {
  useRuntime({ variant: 'simd', threads: 1 });
  assert.deepEqual(
    [...denseMatmulWasm(Tensor.zeros([3, 0]), Tensor.zeros([0, 5])).data],
    new Array(15).fill(0),
  );
  assert.deepEqual(denseMatmulWasm(Tensor.zeros([0, 4]), randn([4, 3], 1)).shape, [0, 3]);
});

test('GEMM packing kernel writes the documented strip layout (zero-padded last strip)', () => {
  const rt = useRuntime({ variant: 'simd', threads: 1 });
  for (const [K, N] of [
    [5, 13],
    [1, 8],
    [3, 2],
  ] as const) {
    const b = randn([K, N], K + N);
    const bp = rt.upload(b.data);
    const packed = rt.alloc(Number(rt.kernels.gemm_pack_b_bytes!(K, N)));
    try {
      rt.parallel('gemm_pack_b_f32', [bp, packed, K, N], [[0, Math.ceil(N / 8)]]);
      const want = gemmPackBRef(b.data, K, N);
      assert.deepEqual([...runtime().f32(packed, want.length)], [...want]);
    } finally {
      rt.free(bp);
      rt.free(packed);
    }
  }
});

test('matmul: names the argument when shapes do not fit', () => {
  const w = randn([4, 3], 1);
  assert.throws(() => matmul(w, randn([5], 2)), /b has 5 rows but w has 3 columns/);
  assert.throws(() => matmul(randn([2, 2, 2], 1), randn([2], 1)), /w must be rank 2/);
});

test('matmul: reference mode gives the twin result exactly', () => {
  const w = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  const x = Tensor.from([1, 0, -1]);
  setBackendMode('reference');
  assert.deepEqual([...matmul(w, x).data], [-2, -2]);
  setBackendMode('auto');
  assert.deepEqual([...matmul(w, x).data], [-2, -2]);
});
