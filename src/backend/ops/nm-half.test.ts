import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormatError } from '../../formats/errors.js';
import { decodeHalf, type HalfFormat } from '../../formats/half.js';
import { nmFromDense, nmMatmul, nmPruneMagnitude } from '../../formats/nm.js';
import { type HalfNM, halfNmFromDense, halfNmFromNm, halfNmToNm } from '../../formats/nm-half.js';
import { testMatrix, withEmptyRows } from '../../formats/testing.js';
import { bf16BitsToF32, f16BitsToF32 } from '../../tensor/dtype.js';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { nmPanelsMatmulRef } from '../reference/nm.js';
import { relError, TOL } from '../tolerances.js';
import { matmul } from './matmul.js';
import { halfNmMatmulRef, halfNmMatmulWasm, nmMatmulWasm } from './nm.js';
import { packNmPanels, withNmPanels } from './nm-panels.js';
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

const TYPES: HalfFormat[] = ['bf16', 'f16'];

function halfNm(
  M: number,
  K: number,
  d: number,
  n: number,
  m: number,
  type: HalfFormat,
  seed: number,
): HalfNM {
  return halfNmFromDense(nmPruneMagnitude(testMatrix(M, K, d, seed), n, m), n, m, type);
}

forEachRuntime((rt, use) => {
  test(`nm_bf16 / nm_f16: SpMV and SpMM match the reference for 2:4, 4:8, 1:4, 2:8, 3:16, partial groups (${rt})`, () => {
    use();
    let seed = 1;
    for (const type of TYPES) {
      for (const [n, m] of NM_PATTERNS) {
        for (const [M, K] of NM_SHAPES) {
          for (const d of [0, 0.5, 1]) {
            const w = halfNm(M, K, d, n, m, type, seed++);
            for (const N of NS)
              assertTwin(
                halfNmMatmulWasm,
                halfNmMatmulRef,
                w,
                N,
                `${type} ${n}:${m} ${M}×${K} d ${d}`,
                N + K,
              );
          }
        }
        const big = halfNmFromDense(
          nmPruneMagnitude(withEmptyRows(testMatrix(300, 702, 1, seed++), 5), n, m),
          n,
          m,
          type,
        );
        for (const N of [1, 8, 17, 24, 29]) {
          assertTwin(
            halfNmMatmulWasm,
            halfNmMatmulRef,
            big,
            N,
            `${type} ${n}:${m} 300×702, every 5th row empty`,
            N,
          );
        }
      }
    }
  });

  test(`nm_bf16 / nm_f16: column panels match the twin on the decoded layout (${rt})`, () => {
    use();
    let seed = 100;
    for (const type of TYPES) {
      for (const [n, m] of [
        [2, 4],
        [4, 8],
        [3, 8],
      ] as const) {
        for (const K of [64, 65, 200]) {
          withNmPanels({ cols: 64 }, () => {
            const w = halfNm(2000, K, 0.7, n, m, type, seed++);
            const layout = packNmPanels(w);
            const decoded = { ...layout, values: decodeHalf(type, layout.values) };
            for (const N of [1, 3, 8, 24, 29]) {
              const b = rhs(K, N, seed++);
              const got = halfNmMatmulWasm(w, b).data;
              const want = nmPanelsMatmulRef(decoded, b.data, N);
              const tol = N === 1 ? TOL.spmv : TOL.spmm;
              assert.ok(
                relError(got, want) <= tol,
                `${type} ${n}:${m} 2000×${K} N=${N}: ${relError(got, want)}`,
              );
            }
          });
        }
      }
    }
  });
});

/**
 * Every 16-bit pattern as a value: a [patterns, 16] n:m matrix whose row i holds pattern i in slot 0 of group
 * i mod 4 (position 0) and +0 everywhere else, so W · ones gives pattern i decoded; 16 columns make the 2:4
 * SpMV take its 4-group SIMD step.
 */
function everyPattern(type: HalfFormat, n: number, m: number): { w: HalfNM; patterns: number[] } {
  const patterns = Array.from({ length: 65536 }, (_, p) => p);
  const rows = patterns.length;
  const dense = new Float32Array(rows * 16);
  for (let i = 0; i < rows; i++) dense[i * 16 + m * (i % (16 / m))] = 1;
  const shape = nmFromDense(new Tensor(dense, [rows, 16]), n, m);
  const values = new Uint16Array(shape.values.length);
  for (let s = 0, i = -1; s < values.length; s++) {
    if (shape.values[s] === 1) values[s] = patterns[++i]!;
  }
  return { w: { ...halfNmFromNm(shape, type), values }, patterns };
}

test('nm_bf16 / nm_f16: every bit pattern widens exactly (±0, subnormals, Inf, NaN) in SpMV and SpMM', () => {
  for (const type of TYPES) {
    const decode = type === 'bf16' ? bf16BitsToF32 : f16BitsToF32;
    for (const [n, m] of [
      [2, 4],
      [1, 4],
      [4, 8],
    ] as const) {
      const { w, patterns } = everyPattern(type, n, m);
      for (const N of [1, 8]) {
        const b =
          N === 1
            ? new Tensor(new Float32Array(16).fill(1), [16])
            : new Tensor(new Float32Array(16 * N).fill(1), [16, N]);
        const y = halfNmMatmulWasm(w, b).data;
        for (let i = 0; i < patterns.length; i++) {
          const want = decode(patterns[i]!);
          for (let j = 0; j < N; j++) {
            const got = y[i * N + j]!;
            const ok = Number.isNaN(want) ? Number.isNaN(got) : got === want;
            if (!ok)
              assert.fail(
                `${type} ${n}:${m} N=${N}: pattern 0x${patterns[i]!.toString(16)} gave ${got}, want ${want}`,
              );
          }
        }
      }
    }
  }
});

test('nm_bf16: the same numbers as nm (f32 values) when the values are exactly bf16', () => {
  const nm = nmFromDense(nmPruneMagnitude(testMatrix(64, 96, 1, 9), 2, 4), 2, 4);
  const half = halfNmFromNm(nm, 'bf16');
  const exact = halfNmToNm(half); // the bf16 values, as f32
  for (const N of [1, 8]) {
    const b = rhs(96, N, 3);
    const want = nmMatmulWasm(exact, b).data;
    assert.ok(relError(halfNmMatmulWasm(half, b).data, want) <= (N === 1 ? TOL.spmv : TOL.spmm));
    assert.ok(relError(nmMatmul(exact, b).data, want) <= (N === 1 ? TOL.spmv : TOL.spmm));
  }
});

test('nm_bf16 / nm_f16: matmul() dispatches to the WebAssembly kernels', () => {
  const cases = TYPES.map((type) => [halfNm(8, 24, 1, 2, 4, type, 3), randn([24], 4)] as const);
  assertDispatchesToWasm('relaxed', cases, matmul, halfNmMatmulWasm);
});

test('nm_bf16: malformed meta or values raise FormatError (naming the format) before any kernel runs', () => {
  const runs = countKernelRuns();
  const good = halfNm(4, 8, 1, 2, 4, 'bf16', 5);
  const swapped = good.meta.slice();
  swapped[0] = 1 | (0 << 2); // positions 1 then 0: not increasing
  assert.throws(() => halfNmMatmulWasm({ ...good, meta: swapped }, randn([8], 1)), /nm_bf16: meta/);
  assert.throws(
    () => halfNmMatmulWasm({ ...good, values: good.values.subarray(1) }, randn([8], 1)),
    FormatError,
  );
  assert.throws(
    () => halfNmMatmulWasm({ ...good, format: 'nm' } as never, randn([8], 1)),
    /must be "nm_bf16" or "nm_f16"/,
  );
  assert.equal(runs.calls, 0, 'no kernel ran');
});

test('nm_bf16 / nm_f16: matmulInto reads x and writes y in kernel memory, with the same numbers as matmul', () => {
  onEveryRuntime((where) => {
    let seed = 400;
    for (const type of TYPES) {
      for (const [n, m] of NM_PATTERNS) {
        for (const K of [2 * m * 5, 2 * m * 5 + 3]) {
          assertGemvInto(halfNm(37, K, 0.6, n, m, type, seed++), seed++, `${where} ${type} ${n}:${m} K=${K}`);
        }
      }
    }
  });
});
