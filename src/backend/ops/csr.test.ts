import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CSR, csrFromDense, csrMatmul } from '../../formats/csr.js';
import { FormatError } from '../../formats/errors.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { randn } from '../../tensor/random.js';
import { release } from '../resident.js';
import { useRuntime } from '../wasm.js';
import { csrMatmulWasm } from './csr.js';
import { matmul } from './matmul.js';
import { assertDispatchesToWasm, assertTwin, countKernelRuns, forEachRuntime, NS } from './testing.js';

const SHAPES: Array<[number, number]> = [
  [1, 1],
  [5, 17],
  [17, 5],
  [33, 33],
];
const DENSITIES = [0, 0.1, 0.5, 1];

function twin(w: CSR, N: number, what: string): void {
  assertTwin(csrMatmulWasm, csrMatmul, w, N, what, N + w.cols);
}

forEachRuntime((rt, use) => {
  test(`csr: SpMV and SpMM match csrMatmul on odd shapes and densities (${rt})`, () => {
    use();
    let seed = 1;
    for (const [M, K] of SHAPES) {
      for (const d of DENSITIES) {
        const w = csrFromDense(testMatrix(M, K, d, seed++));
        for (const N of NS) twin(w, N, `${M}×${K} density ${d}`);
      }
    }
    const big = csrFromDense(withEmptyRows(testMatrix(300, 700, 0.3, 7), 4));
    for (const N of NS) twin(big, N, '300×700 density 0.3, every 4th row empty');
    twin(csrFromDense(testMatrix(9, 40, 0.5, 8)), 512, '9×40 density 0.5');
  });

  test(`csr: u32 column indices when cols > 65536 (${rt})`, () => {
    use();
    const w = csrFromDense(testMatrix(3, 70_001, 0.02, 11));
    assert.ok(w.colIdx instanceof Uint32Array);
    for (const N of [1, 3, 8, 17]) twin(w, N, '3×70001 density 0.02');
  });
});

test('csr: matmul() dispatches to the WebAssembly kernel', () => {
  assertDispatchesToWasm(
    'simd',
    [[csrFromDense(testMatrix(40, 50, 0.2, 3)), randn([50], 4)]],
    matmul,
    csrMatmulWasm,
  );
});

test('csr: a malformed weight raises FormatError before any kernel runs', () => {
  const runs = countKernelRuns();
  const good = csrFromDense(testMatrix(4, 6, 0.5, 5));
  const unsorted: CSR = { ...good, colIdx: good.colIdx.slice().reverse() };
  assert.throws(() => csrMatmulWasm(unsorted, randn([6], 1)), FormatError);
  assert.throws(() => csrMatmulWasm({ ...good, rowPtr: good.rowPtr.slice(1) }, randn([6], 1)), FormatError);
  assert.equal(runs.calls, 0, 'no kernel ran');
  assert.throws(() => csrMatmulWasm(good, randn([7], 1)), /b has 7 rows but w has 6 columns/);
  csrMatmulWasm(good, randn([6], 1));
  assert.equal(runs.calls, 1);
});

test('csr: the weight is validated once, when it becomes resident; release() re-uploads', () => {
  useRuntime({ variant: 'simd', threads: 1 });
  const w = csrFromDense(testMatrix(6, 8, 0.5, 9));
  const x = randn([8], 2);
  const before = csrMatmulWasm(w, x);
  w.colIdx.reverse(); // in-place edit: the resident copy is still the validated one
  assert.deepEqual(csrMatmulWasm(w, x).data, before.data);
  release(w);
  assert.throws(() => csrMatmulWasm(w, x), FormatError);
  const v = csrFromDense(testMatrix(6, 8, 0.5, 9));
  csrMatmulWasm(v, x);
  const grown = Object.assign(v, { cols: 9 }); // a shape edit without release() is caught, not read past
  assert.throws(() => csrMatmulWasm(grown, randn([9], 2)), /resident copy is 6×8; call release\(w\)/);
});
