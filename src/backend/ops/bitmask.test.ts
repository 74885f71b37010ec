import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Bitmask, bitmaskFromDense, bitmaskMatmul } from '../../formats/bitmask.js';
import { FormatError } from '../../formats/errors.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { randn } from '../../tensor/random.js';
import { bitmaskMatmulWasm } from './bitmask.js';
import { matmul } from './matmul.js';
import { assertDispatchesToWasm, assertTwin, countKernelRuns, forEachRuntime, NS } from './testing.js';

/** Column counts that are not multiples of 8 (and of 16 and 64, the kernels' other steps), plus 64 and 72. */
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [5, 17],
  [17, 5],
  [33, 33],
  [3, 64],
  [3, 72],
  [2, 131],
];

function twin(w: Bitmask, N: number, what: string): void {
  assertTwin(bitmaskMatmulWasm, bitmaskMatmul, w, N, what, N + 5 * w.cols);
}

forEachRuntime((rt, use) => {
  test(`bitmask: SpMV and SpMM match bitmaskMatmul, cols not a multiple of 8 (${rt})`, () => {
    use();
    let seed = 1;
    for (const [M, K] of SHAPES) {
      for (const d of [0, 0.1, 0.5, 1]) {
        const w = bitmaskFromDense(testMatrix(M, K, d, seed++));
        for (const N of NS) twin(w, N, `${M}×${K} density ${d}`);
      }
    }
    const big = bitmaskFromDense(withEmptyRows(testMatrix(300, 701, 0.5, seed++), 4));
    for (const N of NS) twin(big, N, '300×701 density 0.5, every 4th row empty');
    // rows of 1100 columns span two 64-byte mask blocks and a tail: SpMV takes its sparse path (only
    // non-zero mask bytes) at low density and for a dense row paired with an empty one
    for (const d of [0.02, 0.1, 0.3, 1]) {
      const w = bitmaskFromDense(withEmptyRows(testMatrix(37, 1100, d, seed++), 3));
      twin(w, 1, `37×1100 density ${d}, every 3rd row empty`);
      twin(w, 8, `37×1100 density ${d}, every 3rd row empty`);
    }
  });
});

test('bitmask: matmul() dispatches to the WebAssembly kernel', () => {
  assertDispatchesToWasm(
    'relaxed',
    [[bitmaskFromDense(testMatrix(9, 30, 0.5, 3)), randn([30], 4)]],
    matmul,
    bitmaskMatmulWasm,
  );
});

test('bitmask: a mask that disagrees with rowPtr raises FormatError before any kernel runs', () => {
  const runs = countKernelRuns();
  const good = bitmaskFromDense(testMatrix(4, 12, 0.5, 5));
  const extraBit = good.mask.slice();
  extraBit[0] = extraBit[0]! ^ 1; // one more or one fewer stored value in row 0 than rowPtr says
  assert.throws(() => bitmaskMatmulWasm({ ...good, mask: extraBit }, randn([12], 1)), FormatError);
  const padding = good.mask.slice();
  padding[1] = padding[1]! | 0x80; // bit 7 of row 0's second byte is column 15 ≥ 12
  assert.throws(() => bitmaskMatmulWasm({ ...good, mask: padding }, randn([12], 1)), FormatError);
  assert.equal(runs.calls, 0, 'no kernel ran');
});
