import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csrFromDense } from '../../formats/csr.js';
import { type HalfCSR, halfCsrFromCsr, halfCsrFromDense, halfCsrFromParts } from '../../formats/csr-half.js';
import { FormatError } from '../../formats/errors.js';
import type { HalfFormat } from '../../formats/half.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { bf16BitsToF32, f16BitsToF32 } from '../../tensor/dtype.js';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { release } from '../resident.js';
import { useRuntime } from '../wasm.js';
import { halfCsrMatmulRef, halfCsrMatmulWasm } from './csr-half.js';
import { matmul } from './matmul.js';
import { assertDispatchesToWasm, assertTwin, countKernelRuns, forEachRuntime, NS } from './testing.js';

const TYPES: HalfFormat[] = ['bf16', 'f16'];
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [5, 17],
  [17, 5],
  [33, 33],
];
const DENSITIES = [0, 0.1, 0.5, 1];
const DECODE = { bf16: bf16BitsToF32, f16: f16BitsToF32 };

function twin(w: HalfCSR, N: number, what: string): void {
  assertTwin(halfCsrMatmulWasm, halfCsrMatmulRef, w, N, what, N + w.cols);
}

/**
 * Every 16-bit pattern (optionally without f16 Inf / NaN) as a value of a CSR [patterns/8 · 8 rows, 8]
 * whose rows store all 8 columns: row i holds pattern i at column i mod 8 and +0 bits elsewhere, so each row
 * runs the 8-wide SIMD step and W · ones gives pattern i decoded.
 */
function everyPattern(type: HalfFormat, withSpecials: boolean): { w: HalfCSR; patterns: number[] } {
  const patterns: number[] = [];
  for (let p = 0; p < 65536; p++) if (withSpecials || (p & 0x7c00) !== 0x7c00) patterns.push(p);
  const rows = patterns.length;
  const rowPtr = Uint32Array.from({ length: rows + 1 }, (_, i) => 8 * i);
  const colIdx = Uint16Array.from({ length: 8 * rows }, (_, q) => q % 8);
  const values = new Uint16Array(8 * rows);
  patterns.forEach((p, i) => {
    values[8 * i + (i % 8)] = p;
  });
  return { w: halfCsrFromParts(rows, 8, rowPtr, colIdx, values, type), patterns };
}

forEachRuntime((rt, use) => {
  test(`csr_bf16 / csr_f16: SpMV and SpMM match the reference on odd shapes and densities (${rt})`, () => {
    use();
    let seed = 1;
    for (const type of TYPES) {
      for (const [M, K] of SHAPES) {
        for (const d of DENSITIES) {
          const w = halfCsrFromDense(testMatrix(M, K, d, seed++), type);
          for (const N of NS) twin(w, N, `${type} ${M}×${K} density ${d}`);
        }
      }
      const big = halfCsrFromDense(withEmptyRows(testMatrix(300, 700, 0.3, 7), 4), type);
      for (const N of NS) twin(big, N, `${type} 300×700 density 0.3, every 4th row empty`);
    }
  });

  test(`csr_bf16 / csr_f16: u32 column indices when cols > 65536 (${rt})`, () => {
    use();
    for (const type of TYPES) {
      const w = halfCsrFromDense(testMatrix(3, 70_001, 0.02, 11), type);
      assert.ok(w.colIdx instanceof Uint32Array);
      for (const N of [1, 3, 8, 17]) twin(w, N, `${type} 3×70001 density 0.02`);
    }
  });
});

test('csr_bf16 / csr_f16: every value bit pattern decodes exactly (SpMV and SpMM, with and without f16 Inf/NaN)', () => {
  useRuntime({ variant: 'relaxed', threads: 1 });
  for (const [type, withSpecials] of [
    ['bf16', true],
    ['f16', true],
    ['f16', false],
  ] as const) {
    const { w, patterns } = everyPattern(type, withSpecials);
    for (const N of [1, 3]) {
      const y = halfCsrMatmulWasm(
        w,
        new Tensor(new Float32Array(8 * N).fill(1), N === 1 ? [8] : [8, N]),
      ).data;
      patterns.forEach((p, i) => {
        const want = DECODE[type](p);
        for (let j = 0; j < N; j++) {
          const got = y[i * N + j]!;
          const what = `${type} pattern 0x${p.toString(16)} N=${N}`;
          if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `${what} must give NaN`);
          else assert.ok(got === want, `${what} gave ${got}, want ${want}`);
        }
      });
    }
  }
});

test('csr_bf16 / csr_f16: matmul() dispatches to the WebAssembly kernel', () => {
  const w = testMatrix(40, 50, 0.2, 3);
  assertDispatchesToWasm(
    'simd',
    [
      [halfCsrFromDense(w, 'bf16'), randn([50], 4)],
      [halfCsrFromDense(w, 'f16'), randn([50, 5], 5)],
    ],
    matmul,
    halfCsrMatmulWasm,
  );
});

test('csr_bf16: a malformed weight raises FormatError before any kernel runs; release() re-uploads', () => {
  const runs = countKernelRuns();
  const good = halfCsrFromCsr(csrFromDense(testMatrix(4, 6, 0.5, 5)), 'bf16');
  assert.throws(
    () => halfCsrMatmulWasm({ ...good, colIdx: good.colIdx.slice().reverse() }, randn([6], 1)),
    FormatError,
  );
  assert.throws(() => halfCsrMatmulWasm({ ...good, values: new Uint16Array(1) }, randn([6], 1)), FormatError);
  assert.equal(runs.calls, 0, 'no kernel ran');
  assert.throws(() => halfCsrMatmulWasm(good, randn([7], 1)), /b has 7 rows but w has 6 columns/);
  const x = randn([6], 2);
  const before = halfCsrMatmulWasm(good, x);
  assert.equal(runs.calls, 1);
  good.values.fill(0); // in-place edit: the resident copy is still the uploaded one until release()
  assert.deepEqual(halfCsrMatmulWasm(good, x).data, before.data);
  release(good);
  assert.deepEqual([...halfCsrMatmulWasm(good, x).data], [0, 0, 0, 0]);
});

test('csr / csr_bf16 / csr_f16 SpMV: a row ending mid-step reads none of the next row (Inf values, Inf x there)', () => {
  useRuntime({ variant: 'relaxed', threads: 1 });
  // row 2r holds r ones at columns 0..r−1 (every tail length 0–7); row 2r+1 holds Inf at columns 8..15, where x
  // is Inf too: the SpMV's masked last step of row 2r reads row 2r+1's entries and must not let them in
  const M = 16;
  const K = 16;
  const dense = new Float32Array(M * K);
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < r; c++) dense[2 * r * K + c] = 1;
    for (let c = 8; c < 16; c++) dense[(2 * r + 1) * K + c] = Number.POSITIVE_INFINITY;
  }
  const w = new Tensor(dense, [M, K]);
  const x = new Tensor(
    Float32Array.from({ length: K }, (_, c) => (c < 8 ? 1 : Number.POSITIVE_INFINITY)),
    [K],
  );
  const runs: Array<[string, Float32Array]> = [
    ['csr', matmul(csrFromDense(w), x).data],
    ['csr_bf16', halfCsrMatmulWasm(halfCsrFromDense(w, 'bf16'), x).data],
    ['csr_f16', halfCsrMatmulWasm(halfCsrFromDense(w, 'f16'), x).data],
  ];
  for (const [what, y] of runs) {
    for (let r = 0; r < 8; r++) {
      assert.equal(y[2 * r], r, `${what}: row ${2 * r} (${r} entries)`);
      assert.equal(y[2 * r + 1], Number.POSITIVE_INFINITY, `${what}: row ${2 * r + 1}`);
    }
  }
});
