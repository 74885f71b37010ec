import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormatError } from '../../formats/errors.js';
import { type NM, nmFromDense, nmMatmul, nmPruneMagnitude } from '../../formats/nm.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { randn } from '../../tensor/random.js';
import { nmPanelsMatmulRef } from '../reference/nm.js';
import { relError, TOL } from '../tolerances.js';
import { matmul } from './matmul.js';
import { nmMatmulWasm } from './nm.js';
import { NM_PANEL_COLS, NM24_PANEL_COLS, nmPanelGroups, packNmPanels, withNmPanels } from './nm-panels.js';
import {
  assertDispatchesToWasm,
  assertGemvInto,
  assertTwin,
  countKernelRuns,
  forEachRuntime,
  NM_PATTERNS,
  NM_SHAPES,
  NS,
  onEveryRuntime,
  rhs,
} from './testing.js';

/** An n:m weight from a [M,K] matrix of the given density (pruned to n:m, so the density is at most n/m). */
function nmWeight(M: number, K: number, d: number, n: number, m: number, seed: number): NM {
  return nmFromDense(nmPruneMagnitude(testMatrix(M, K, d, seed), n, m), n, m);
}

function twin(w: NM, N: number, what: string): void {
  assertTwin(nmMatmulWasm, nmMatmul, w, N, what, N + 3 * w.cols);
}

forEachRuntime((rt, use) => {
  test(`nm: SpMV and SpMM match nmMatmul for 2:4, 4:8, 1:4, 2:8, 3:16 with partial last groups (${rt})`, () => {
    use();
    let seed = 1;
    for (const [n, m] of NM_PATTERNS) {
      for (const [M, K] of NM_SHAPES) {
        for (const d of [0, 0.1, 0.5, 1]) {
          const w = nmWeight(M, K, d, n, m, seed++);
          for (const N of NS) twin(w, N, `${n}:${m} ${M}×${K} density ${d}`);
        }
      }
      const big = nmFromDense(
        nmPruneMagnitude(withEmptyRows(testMatrix(300, 702, 1, seed++), 5), n, m),
        n,
        m,
      );
      for (const N of [1, 8, 17, 24, 29]) twin(big, N, `${n}:${m} 300×702, every 5th row empty`);
    }
  });
});

test('nm: matmul() dispatches to the WebAssembly kernels', () => {
  const cases = (
    [
      [2, 4],
      [4, 8],
    ] as const
  ).map(([n, m]) => [nmWeight(8, 24, 1, n, m, 3), randn([24], 4)] as const);
  assertDispatchesToWasm('relaxed', cases, matmul, nmMatmulWasm);
});

test('nm: meta that breaks the pattern raises FormatError before any kernel runs', () => {
  const runs = countKernelRuns();
  const good = nmWeight(4, 8, 1, 2, 4, 5);
  const swapped = good.meta.slice();
  swapped[0] = 1 | (0 << 2); // positions 1 then 0: not increasing
  assert.throws(() => nmMatmulWasm({ ...good, meta: swapped }, randn([8], 1)), FormatError);
  assert.throws(() => nmMatmulWasm({ ...good, meta: good.meta.subarray(1) }, randn([8], 1)), FormatError);
  assert.equal(runs.calls, 0, 'no kernel ran');
});

/** Panel width (columns) the panel tests force, and K at it, just above it, and not a multiple of a panel. */
const PANEL_COLS = 64;
const PANEL_KS = [64, 65, 200];
/** Enough rows that every N of the panel tests splits over two threads. */
const PANEL_ROWS = 2000;

forEachRuntime((rt, use) => {
  test(`nm: column panels (K = 64, 65, 200 with 64-column panels) match the twin and nmMatmul for 2:4, 4:8, 1:4, 3:8 (${rt})`, () => {
    use();
    let seed = 100;
    for (const [n, m] of [
      [2, 4],
      [4, 8],
      [1, 4],
      [3, 8],
    ] as const) {
      for (const K of PANEL_KS) {
        withNmPanels({ cols: PANEL_COLS }, () => {
          const w = nmWeight(PANEL_ROWS, K, 0.7, n, m, seed++);
          const layout = packNmPanels(w);
          const panels = Math.ceil(layout.groups / layout.panelGroups);
          assert.equal(panels > 1, K > PANEL_COLS, `${n}:${m} K=${K}: ${panels} panels`);
          for (const N of [1, 3, 8, 24, 29]) {
            const b = rhs(K, N, seed++);
            const got = nmMatmulWasm(w, b).data;
            const twin = nmPanelsMatmulRef(layout, b.data, N);
            const what = `${n}:${m} ${PANEL_ROWS}×${K} in ${panels} panels, N=${N}`;
            const tol = N === 1 ? TOL.spmv : TOL.spmm;
            assert.ok(relError(got, twin) <= tol, `${what}: kernel vs twin ${relError(got, twin)}`);
            const want = nmMatmul(w, b).data;
            assert.ok(relError(twin, want) <= tol, `${what}: twin vs nmMatmul ${relError(twin, want)}`);
          }
        });
      }
    }
  });
});

test('nm: panel plans keep narrow weights whole and split wide ones into balanced panels', () => {
  assert.equal(nmPanelGroups(576, 2, 4), 144, 'SmolLM-135M K = 576: one panel');
  assert.equal(nmPanelGroups(NM24_PANEL_COLS, 2, 4), NM24_PANEL_COLS / 4, '2:4 at the threshold: one panel');
  assert.equal(nmPanelGroups(1536, 2, 4), 192, '2:4 K = 1536: two panels of 192 groups');
  assert.equal(nmPanelGroups(4096, 2, 4), 256);
  assert.equal(nmPanelGroups(11008, 2, 4), 252, '2:4 K = 11008: ten panels of 252 groups and one of 232');
  assert.equal(nmPanelGroups(NM_PANEL_COLS, 4, 8), NM_PANEL_COLS / 8, '4:8 at the threshold: one panel');
  assert.equal(nmPanelGroups(11008, 4, 8), 232, '4:8 K = 11008: six panels, 1856 columns or fewer');
  assert.equal(nmPanelGroups(65, 2, 4, { cols: 64 }), 12, 'G = 17 over two panels: 12 + 5');
});

test('nm: matmulInto reads x and writes y in kernel memory, with the same numbers as matmul', () => {
  onEveryRuntime((where) => {
    let seed = 300;
    for (const [n, m] of NM_PATTERNS) {
      // K a multiple of m (x read where it lies) and not (x copied and zero-padded in the call frame)
      for (const K of [2 * m * 5, 2 * m * 5 + 3]) {
        assertGemvInto(nmWeight(37, K, 0.6, n, m, seed++), seed++, `${where} ${n}:${m} K=${K}`);
      }
    }
  });
});
