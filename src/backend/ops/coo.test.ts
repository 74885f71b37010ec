import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type COO, cooFromDense, cooMatmul } from '../../formats/coo.js';
import { FormatError } from '../../formats/errors.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { randn } from '../../tensor/random.js';
import { cooMatmulWasm } from './coo.js';
import { matmul } from './matmul.js';
import { assertDispatchesToWasm, assertTwin, countKernelRuns, forEachRuntime, NS } from './testing.js';

function twin(w: COO, N: number, what: string): void {
  assertTwin(cooMatmulWasm, cooMatmul, w, N, what, N + w.cols);
}

forEachRuntime((rt, use) => {
  test(`coo: the CSR-converted fast path matches cooMatmul (${rt})`, () => {
    use();
    let seed = 1;
    for (const [M, K] of [
      [1, 1],
      [5, 17],
      [17, 5],
      [33, 33],
    ] as const) {
      for (const d of [0, 0.1, 0.5, 1]) {
        const w = cooFromDense(testMatrix(M, K, d, seed++));
        for (const N of NS) twin(w, N, `${M}×${K} density ${d}`);
      }
    }
    const big = cooFromDense(withEmptyRows(testMatrix(300, 700, 0.3, seed++), 4));
    for (const N of NS) twin(big, N, '300×700 density 0.3, every 4th row empty');
    const wide = cooFromDense(testMatrix(2, 70_000, 0.01, seed++)); // u32 indices after conversion
    for (const N of [1, 8]) twin(wide, N, '2×70000 density 0.01');
  });
});

test('coo: matmul() dispatches to the fast path', () => {
  assertDispatchesToWasm(
    'simd',
    [[cooFromDense(testMatrix(10, 12, 0.4, 3)), randn([12, 3], 4)]],
    matmul,
    cooMatmulWasm,
  );
});

test('coo: unsorted entries raise FormatError before any kernel runs', () => {
  const runs = countKernelRuns();
  const good = cooFromDense(testMatrix(4, 6, 0.5, 5));
  const unsorted: COO = { ...good, rowIdx: good.rowIdx.slice().reverse() };
  assert.throws(() => cooMatmulWasm(unsorted, randn([6], 1)), FormatError);
  assert.equal(runs.calls, 0, 'no kernel ran');
});
