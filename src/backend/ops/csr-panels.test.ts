import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CSR, csrFromDense, csrMatmul } from '../../formats/csr.js';
import { type HalfCSR, halfCsrFromDense, halfCsrMatmul, halfCsrValues } from '../../formats/csr-half.js';
import { decodeHalf } from '../../formats/half.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import type { Tensor } from '../../tensor/tensor.js';
import { csrPanelsRef } from '../reference/csr.js';
import { release } from '../resident.js';
import { relError, TOL } from '../tolerances.js';
import { runtime, type WasmRuntime } from '../wasm.js';
import { csrRanges, csrRun, residentCsr, uploadCsr } from './csr.js';
import { halfCsrRun, uploadHalfCsr } from './csr-half.js';
import {
  type CsrPanels,
  PANEL_MAX_COLS,
  packCsrPanels,
  panelMaxWidth,
  panelPlan,
  SPMM_PANEL_COLS,
  setSpmmCopies,
  spmmCopyWidth,
} from './csr-panels.js';
import { matmul } from './matmul.js';
import { forEachRuntime, rhs } from './testing.js';

/**
 * Right-hand-side widths: SpMV, odd, each SpMM column tile (24, 16, 8, 4, scalar), N = 8's own loop (32-byte B
 * rows), 8-column tiles inside wider rows (9 = 8 + 1, 33 = 24 + 8 + 1) and B packed into strips with row blocks
 * (from 128 columns: 157 = 6·24 + 8 + 4 + 1, 176 = 7·24 + 8).
 */
const PANEL_NS = [1, 3, 7, 8, 9, 24, 33, 64, 157, 176];

/** The widest panel in the small-matrix tests (the default rule never splits below 2048 columns). */
const WIDTH = 32;

test('panelPlan: one panel up to maxWidth, else the fewest balanced panels in multiples of 16', () => {
  assert.deepEqual(panelPlan(32, 32), { width: 32, panels: 1 });
  assert.deepEqual(panelPlan(33, 32), { width: 32, panels: 2 }); // 32 + 1 columns
  assert.deepEqual(panelPlan(100, 32), { width: 32, panels: 4 }); // 32·3 + 4
  assert.deepEqual(panelPlan(11008, 2048), { width: 1840, panels: 6 }); // 1840·5 + 1808
  assert.deepEqual(panelPlan(11008, 4452), { width: 3680, panels: 3 }); // 3680·2 + 3648
  assert.throws(() => panelPlan(100, 0), /maxWidth must be an integer in \[1, 16384\], got 0/);
  assert.throws(() => panelPlan(100, 70_000), /maxWidth must be an integer/);
});

test('panelMaxWidth: 2048 columns and fewer stay one panel at any density; K = 11008 splits, K = 4096 from 15% density', () => {
  for (const bytes of [4, 2]) assert.ok(panelMaxWidth(1, bytes) >= 2048);
  assert.ok(panelMaxWidth(0.1, 4) >= 4096, 'f32 at 90% sparsity: K = 4096 stays one panel');
  assert.ok(panelMaxWidth(0.2, 4) < 4096, 'f32 at 80% sparsity: K = 4096 splits');
  for (const d of [0.05, 0.1, 0.3, 0.5, 1])
    for (const bytes of [4, 2]) assert.ok(panelMaxWidth(d, bytes) < 11008);
});

/** A W [M,K] whose columns in [c0, c1) are all zero (an empty panel). */
function withEmptyColumns(w: Tensor, c0: number, c1: number): Tensor {
  const out = w.clone();
  for (let i = 0; i < w.rows; i++) out.data.fill(0, i * w.cols + c0, i * w.cols + c1);
  return out;
}

/** A W [M,K] whose row `row` keeps only its entries in columns [c0, c1) (all its non-zeros in one panel). */
function rowInOnePanel(w: Tensor, row: number, c0: number, c1: number): Tensor {
  const out = w.clone();
  out.data.fill(0, row * w.cols, row * w.cols + c0);
  out.data.fill(0, row * w.cols + c1, (row + 1) * w.cols);
  return out;
}

/** Named matrices that exercise the panels at maxWidth WIDTH. */
function panelCases(): Array<{ name: string; w: Tensor }> {
  return [
    { name: '9×32, one panel (K = maxWidth)', w: testMatrix(9, 32, 0.5, 1) },
    { name: '9×33, panels of 32 and 1', w: testMatrix(9, 33, 0.5, 2) },
    { name: '17×100, K not a multiple of the width', w: testMatrix(17, 100, 0.4, 3) },
    { name: '17×100, every 3rd row empty', w: withEmptyRows(testMatrix(17, 100, 0.4, 4), 3) },
    { name: '17×100, panel 1 empty', w: withEmptyColumns(testMatrix(17, 100, 0.4, 5), 32, 64) },
    { name: '17×100, row 2 only in panel 2', w: rowInOnePanel(testMatrix(17, 100, 0.6, 6), 2, 64, 96) },
    { name: '5×70, dense', w: testMatrix(5, 70, 1, 7) },
    { name: '5×70, empty', w: testMatrix(5, 70, 0, 8) },
  ];
}

/** The twin on the packed layout, values decoded to f32. */
function twinProduct(packed: CsrPanels<Float32Array>, b: Tensor): Float32Array {
  const N = b.rank === 1 ? 1 : b.shape[1]!;
  const c = new Float32Array(packed.rows * N);
  csrPanelsRef(packed, b.data, N, c);
  return c;
}

/**
 * For each N: the twin on the packed panels equals the format's reference product (the packing is right) and
 * the kernel on the resident panels equals the twin (the kernel is right), within TOL.spmv / TOL.spmm.
 */
function assertPanelParity(
  rt: WasmRuntime,
  what: string,
  packed: CsrPanels<Float32Array>,
  reference: (b: Tensor) => Tensor,
  kernel: (b: Tensor) => Tensor,
): void {
  for (const N of PANEL_NS) {
    const b = rhs(packed.cols, N, N + packed.cols);
    const tol = N === 1 ? TOL.spmv : TOL.spmm;
    const twin = twinProduct(packed, b);
    const packErr = relError(twin, reference(b).data);
    assert.ok(packErr <= tol, `${what} N=${N}: twin on the panels vs the CSR reference ${packErr} > ${tol}`);
    const got = kernel(b);
    assert.deepEqual(got.shape, b.rank === 1 ? [packed.rows] : [packed.rows, N], `${what}: shape`);
    const err = relError(got.data, twin);
    assert.ok(err <= tol, `${what} N=${N} (${rt.threads} threads): kernel vs twin ${err} > ${tol}`);
  }
}

/** Upload `w` in panels of at most maxWidth, check its plan and parity, free it. */
function checkCsr(rt: WasmRuntime, w: CSR, maxWidth: number, what: string): void {
  const packed = packCsrPanels(w, panelPlan(w.cols, maxWidth));
  const up = uploadCsr(rt, w, { maxWidth });
  try {
    assert.deepEqual([up.value.width, up.value.panels], [packed.width, packed.panels], `${what}: plan`);
    assert.ok(
      packed.colIdx.every((c) => c < packed.width) && packed.rowPtr.length === packed.panels * w.rows + 1,
      `${what}: panel-relative indices and one row pointer per (panel, row)`,
    );
    assertPanelParity(
      rt,
      `csr ${what}`,
      packed,
      (b) => csrMatmul(w, b),
      (b) => csrRun(rt, up.value, b),
    );
  } finally {
    for (const p of up.ptrs) rt.free(p);
  }
}

function checkHalf(rt: WasmRuntime, w: HalfCSR, maxWidth: number, what: string): void {
  const bits = packCsrPanels(w, panelPlan(w.cols, maxWidth));
  const packed = { ...bits, values: decodeHalf(halfCsrValues(w), bits.values) };
  const up = uploadHalfCsr(rt, w, { maxWidth });
  try {
    assert.equal(up.value.panels, packed.panels, `${what}: plan`);
    assertPanelParity(
      rt,
      `${w.format} ${what}`,
      packed,
      (b) => halfCsrMatmul(w, b),
      (b) => halfCsrRun(rt, up.value, b),
    );
  } finally {
    for (const p of up.ptrs) rt.free(p);
  }
}

forEachRuntime((label, use) => {
  test(`csr panels: kernel = twin on the packed panels = csrMatmul, csr / csr_bf16 / csr_f16 (${label})`, () => {
    use();
    const rt = runtime();
    for (const { name, w } of panelCases()) {
      checkCsr(rt, csrFromDense(w), WIDTH, name);
      checkHalf(rt, halfCsrFromDense(w, 'bf16'), WIDTH, name);
      checkHalf(rt, halfCsrFromDense(w, 'f16'), WIDTH, name);
    }
  });

  test(`csr panels: rows split across the threads, panels of 232–256 columns (${label})`, () => {
    use();
    const rt = runtime();
    const w = csrFromDense(withEmptyRows(testMatrix(160, 1000, 0.5, 9), 7));
    const up = uploadCsr(rt, w, { maxWidth: 256 });
    try {
      assert.equal(up.value.panels, 4);
      assert.equal(csrRanges(rt, up.value, 1).length, rt.threads, 'one row range per thread');
    } finally {
      for (const p of up.ptrs) rt.free(p);
    }
    checkCsr(rt, w, 256, '160×1000');
    checkHalf(rt, halfCsrFromDense(withEmptyRows(testMatrix(160, 1000, 0.5, 9), 7), 'bf16'), 256, '160×1000');
  });
});

test('csr panels: a CSR wider than 16384 columns always splits, with u16 byte offsets per panel', () => {
  // x (70001 floats) is larger than the kernels' 64 KiB scratch: the SpMV gathers from x where it lies
  const w = csrFromDense(testMatrix(3, 70_001, 0.02, 11));
  assert.ok(w.colIdx instanceof Uint32Array);
  const rt = runtime();
  const up = uploadCsr(rt, w, { maxWidth: PANEL_MAX_COLS });
  try {
    assert.deepEqual([up.value.width, up.value.panels], [14016, 5]);
  } finally {
    for (const p of up.ptrs) rt.free(p);
  }
  assert.throws(
    () => uploadCsr(rt, w, { maxWidth: PANEL_MAX_COLS + 1 }),
    /maxWidth must be an integer in \[1, 16384\]/,
  );
  checkCsr(rt, w, PANEL_MAX_COLS, '3×70001');
});

test('spmmCopyWidth: SpMM from 8 columns runs on 1024-column panels where the SpMV panels are wider', () => {
  assert.equal(spmmCopyWidth(4096, 0.1, 4, 8), SPMM_PANEL_COLS, '4096² at 90%: one 4096-column SpMV panel');
  assert.equal(spmmCopyWidth(11008, 0.3, 2, 512), SPMM_PANEL_COLS);
  assert.equal(spmmCopyWidth(1536, 0.3, 2, 64), SPMM_PANEL_COLS, "SmolLM-135M's down_proj");
  assert.equal(spmmCopyWidth(4096, 0.1, 4, 7), undefined, 'fewer than 8 columns: the SpMV layout');
  assert.equal(spmmCopyWidth(4096, 0.1, 4, 1), undefined);
  assert.equal(spmmCopyWidth(1024, 0.1, 4, 64), undefined, 'SpMV panels already ≤ 1024 columns');
  setSpmmCopies(false);
  try {
    assert.equal(spmmCopyWidth(4096, 0.1, 4, 8), undefined, 'turned off');
  } finally {
    setSpmmCopies(true);
  }
  assert.throws(() => setSpmmCopies('yes' as unknown as boolean), /setSpmmCopies: on must be true or false/);
});

forEachRuntime((label, use) => {
  test(`csr / csr_bf16 / csr_f16 matmul: SpMM from 8 columns on the SpMM copy = the reference, SpMV on its own layout (${label})`, () => {
    use();
    const rt = runtime();
    const dense = withEmptyRows(testMatrix(23, 2600, 0.3, 14), 5);
    const weights = [csrFromDense(dense), halfCsrFromDense(dense, 'bf16'), halfCsrFromDense(dense, 'f16')];
    // the panel width each SpMM launch ran on (its args: …, N, rows, width, panels, …)
    const widths: number[] = [];
    const parallel = rt.parallel.bind(rt);
    rt.parallel = (kernel, args, ranges) => {
      if (kernel.startsWith('csr_spmm_')) widths.push(args[kernel === 'csr_spmm_f32' ? 9 : 10]!);
      parallel(kernel, args, ranges);
    };
    try {
      for (const w of weights) {
        const reference = (b: Tensor) =>
          w.format === 'csr' ? csrMatmul(w as CSR, b) : halfCsrMatmul(w as HalfCSR, b);
        for (const N of [1, 7, 8, 33, 64, 157]) {
          widths.length = 0;
          const b = rhs(w.cols, N, N);
          const err = relError(matmul(w, b).data, reference(b).data);
          const tol = N === 1 ? TOL.spmv : TOL.spmm;
          assert.ok(err <= tol, `${w.format} N=${N} (${rt.threads} threads): ${err} > ${tol}`);
          if (N > 1) assert.deepEqual(widths, [N >= 8 ? 880 : 2600], `${w.format} N=${N}: panel width`);
        }
        assert.equal(
          residentCsr(rt, csrFromDense(dense)).width,
          2600,
          'the SpMV layout: one 2600-column panel',
        );
        release(w);
      }
    } finally {
      rt.parallel = parallel;
    }
  });
});
