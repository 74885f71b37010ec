import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormatError } from '../../formats/errors.js';
import { type NM, nmFromDense, nmMatmul, nmPruneMagnitude } from '../../formats/nm.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { randn } from '../../tensor/random.js';
import { matmul } from './matmul.js';
import { nmMatmulWasm } from './nm.js';
import { assertDispatchesToWasm, assertTwin, countKernelRuns, forEachRuntime, NS } from './testing.js';

/** 2:4 (own kernels); the generic kernel's n = 1, 2 and 4 paths (1:4, 2:8, 4:8) and its any-n path (3:16). */
const PATTERNS: Array<[number, number]> = [
  [2, 4],
  [4, 8],
  [1, 4],
  [2, 8],
  [3, 16],
];
/** Column counts with a partial last group for every m above (and one exact multiple). */
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [5, 17],
  [17, 5],
  [33, 33],
  [4, 32],
];

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
    for (const [n, m] of PATTERNS) {
      for (const [M, K] of SHAPES) {
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
      for (const N of [1, 8, 17]) twin(big, N, `${n}:${m} 300×702, every 5th row empty`);
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
