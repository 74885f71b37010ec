import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BSR, bsrFromDense, bsrMatmul } from '../../formats/bsr.js';
import { FormatError } from '../../formats/errors.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { randn } from '../../tensor/random.js';
import { useRuntime } from '../wasm.js';
import { bsrMatmulWasm } from './bsr.js';
import { matmul } from './matmul.js';
import {
  assertDispatchesToWasm,
  assertGemvInto,
  assertTwin,
  countKernelRuns,
  forEachRuntime,
  NS,
  onEveryRuntime,
} from './testing.js';

/** The specialised block shapes, a generic multiple-of-4 one and two generic odd ones. */
const BLOCKS: Array<[number, number]> = [
  [1, 4],
  [4, 4],
  [16, 16],
  [3, 5],
  [2, 8],
  [5, 1],
];
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [5, 17],
  [17, 5],
  [33, 33],
];

function twin(w: BSR, N: number, what: string): void {
  assertTwin(bsrMatmulWasm, bsrMatmul, w, N, what, N + 7 * w.cols);
}

forEachRuntime((rt, use) => {
  test(`bsr: SpMV and SpMM match bsrMatmul for 1×4, 4×4, 16×16 and odd blocks, ragged edges (${rt})`, () => {
    use();
    let seed = 1;
    for (const [r, c] of BLOCKS) {
      for (const [M, K] of SHAPES) {
        for (const d of [0, 0.1, 0.5, 1]) {
          const w = bsrFromDense(testMatrix(M, K, d, seed++), r, c);
          for (const N of NS) twin(w, N, `${r}×${c} blocks, ${M}×${K} density ${d}`);
        }
      }
      const big = bsrFromDense(withEmptyRows(testMatrix(300, 700, 0.05, seed++), 4), r, c);
      for (const N of [1, 8, 17]) twin(big, N, `${r}×${c} blocks, 300×700 density 0.05, empty rows`);
    }
  });
});

test('bsr: u32 block-column indices when there are more than 65536 block columns', () => {
  for (const threads of [1, 2]) {
    useRuntime({ variant: 'relaxed', threads });
    const w = bsrFromDense(testMatrix(5, 65_540, 0.01, 3), 1, 1);
    assert.ok(w.blockColIdx instanceof Uint32Array);
    for (const N of [1, 8]) twin(w, N, '5×65540 in 1×1 blocks');
  }
});

test('bsr: matmul() dispatches to the WebAssembly kernel', () => {
  assertDispatchesToWasm(
    'simd',
    [[bsrFromDense(testMatrix(12, 20, 0.3, 3), 4, 4), randn([20, 3], 4)]],
    matmul,
    bsrMatmulWasm,
  );
});

test('bsr: a malformed weight raises FormatError before any kernel runs', () => {
  const runs = countKernelRuns();
  const good = bsrFromDense(testMatrix(8, 10, 1, 5), 4, 4);
  const unsorted: BSR = { ...good, blockColIdx: good.blockColIdx.slice().reverse() };
  assert.throws(() => bsrMatmulWasm(unsorted, randn([10], 1)), FormatError);
  const padded = good.values.slice();
  padded[2 * 16 + 2] = 1; // element (0, 2) of block 2, at block column 2, is column 10: padding
  assert.throws(() => bsrMatmulWasm({ ...good, values: padded }, randn([10], 1)), FormatError);
  assert.equal(runs.calls, 0, 'no kernel ran');
});

test('bsr: matmulInto reads x and writes y in kernel memory, with the same numbers as matmul', () => {
  onEveryRuntime((where) => {
    let seed = 500;
    // whole blocks (read and written in place) and partial last block rows and columns (through the frame)
    for (const [M, K, r, c] of [
      [32, 48, 4, 4],
      [33, 50, 4, 4],
      [37, 45, 16, 16],
      [9, 30, 1, 4],
    ]) {
      const w = bsrFromDense(testMatrix(M!, K!, 0.4, seed++), r!, c!);
      assertGemvInto(w, seed++, `${where} ${M}×${K} in ${r}×${c} blocks`);
    }
  });
});
