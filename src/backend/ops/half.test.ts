import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FormatError } from '../../formats/errors.js';
import { type HalfFormat, type HalfMatrix, halfFromBits, halfFromDense } from '../../formats/half.js';
import { testMatrix } from '../../formats/testing.js';
import { bf16BitsToF32, f16BitsToF32 } from '../../tensor/dtype.js';
import { randn } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { packPanels, withGemvPanelCols } from '../panels.js';
import { halfGemvPanelsRef, halfGemvRef, halfPackXRef } from '../reference/half.js';
import { relError, TOL } from '../tolerances.js';
import { runtime } from '../wasm.js';
import { halfMatmulRef, halfMatmulWasm } from './half.js';
import { matmul } from './matmul.js';
import { assertDispatchesToWasm, assertTwin, countKernelRuns, forEachRuntime, NS, rhs } from './testing.js';

const FORMATS: HalfFormat[] = ['bf16', 'f16'];
/** Odd row and column counts (tails of the 4-row blocks and 8-column chunks), 4096 columns, a 2-thread split. */
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [1, 5],
  [5, 17],
  [17, 5],
  [6, 600],
  [33, 4096],
  [1031, 515],
];
const DECODE = { bf16: bf16BitsToF32, f16: f16BitsToF32 };

/** The kernel and the reference agree within TOL.halfGemv (N = 1) or TOL.halfGemm. */
function assertHalfTwin(w: HalfMatrix, N: number, what: string, seed: number): void {
  assertTwin(halfMatmulWasm, halfMatmulRef, w, N, what, seed, { vector: TOL.halfGemv, block: TOL.halfGemm });
}

/**
 * Every one of the 65536 bit patterns (optionally without Inf / NaN) as a weight [rows, 8] whose row i holds
 * pattern i in column i mod 8 and zeros elsewhere, so W · ones gives each decoded pattern exactly.
 */
function everyPattern(format: HalfFormat, withSpecials: boolean): { w: HalfMatrix; patterns: number[] } {
  const patterns: number[] = [];
  for (let p = 0; p < 65536; p++) {
    const special = format === 'f16' ? (p & 0x7c00) === 0x7c00 : (p & 0x7f80) === 0x7f80;
    if (withSpecials || !special) patterns.push(p);
  }
  const bits = new Uint16Array(patterns.length * 8);
  patterns.forEach((p, i) => {
    bits[i * 8 + (i % 8)] = p;
  });
  return { w: halfFromBits(bits, patterns.length, 8, format), patterns };
}

/** Each output equals the decoded pattern: same NaN-ness, same value (+0 and −0 both read as 0 after a sum). */
function assertDecodedExactly(
  y: Float32Array,
  N: number,
  patterns: number[],
  format: HalfFormat,
  what: string,
) {
  patterns.forEach((p, i) => {
    const want = DECODE[format](p);
    for (let j = 0; j < N; j++) {
      const got = y[i * N + j]!;
      if (Number.isNaN(want))
        assert.ok(Number.isNaN(got), `${what}: pattern 0x${p.toString(16)} must give NaN`);
      else assert.ok(got === want, `${what}: pattern 0x${p.toString(16)} gave ${got}, want ${want}`);
    }
  });
}

forEachRuntime((label, use) => {
  test(`half: bf16 and f16 GEMV and GEMM match the reference on odd shapes (${label})`, () => {
    use();
    let seed = 1;
    for (const format of FORMATS) {
      for (const [M, K] of SHAPES) {
        const w = halfFromDense(testMatrix(M, K, 1, seed++), format);
        const ns = M * K > 100_000 ? [1, 8] : NS;
        for (const N of ns) assertHalfTwin(w, N, `${format} ${M}×${K}`, seed++);
      }
    }
  });

  test(`half: every bf16 and f16 bit pattern decodes exactly, subnormals, Inf and NaN included (${label})`, () => {
    use();
    for (const format of FORMATS) {
      for (const withSpecials of [true, false]) {
        const { w, patterns } = everyPattern(format, withSpecials);
        const what = `${format}${withSpecials ? ' with Inf/NaN' : ' finite only'}`;
        const gemv = halfMatmulWasm(w, Tensor.from(new Array(8).fill(1), [8]));
        assertDecodedExactly(gemv.data, 1, patterns, format, `${what} GEMV`);
        const gemm = halfMatmulWasm(w, Tensor.from(new Array(8 * 3).fill(1), [8, 3]));
        assertDecodedExactly(gemm.data, 3, patterns, format, `${what} GEMM`);
      }
    }
  });
});

forEachRuntime((label, use) => {
  test(`half: bf16 and f16 GEMV on panel-major copies match the reference (${label})`, () => {
    use();
    // panels of at most 64 columns (2048 in use): widths rounded to 32, the last narrower, K mod 8 tails
    withGemvPanelCols(64, () => {
      let seed = 100;
      for (const format of FORMATS) {
        for (const [M, K] of [
          [5, 65],
          [9, 300],
          [37, 128],
          [6, 71],
        ] as const) {
          const w = halfFromDense(testMatrix(M, K, 1, seed++), format);
          assertHalfTwin(w, 1, `${format} ${M}×${K} in panels`, seed++);
          // the twin reads the packed layout and agrees with the row-major reference
          const P = Math.ceil(K / Math.ceil(K / 64) / 32) * 32;
          const x = rhs(K, 1, seed++).data;
          const got = new Float32Array(M);
          const want = new Float32Array(M);
          halfGemvPanelsRef(format, packPanels(w.data, M, K, P, new Uint16Array(M * K)), x, got, M, K, P);
          halfGemvRef(format, w.data, x, want, M, K);
          assert.ok(relError(got, want) <= 1e-6, `${format} ${M}×${K}: halfGemvPanelsRef disagrees`);
        }
      }
      // f16 Inf / NaN through the panel kernel's exact-specials loop
      const bits = new Uint16Array(3 * 70).fill(0x3c00); // 1.0
      bits[69] = 0x7c00; // +Inf in the second panel of row 0
      bits[70 + 5] = 0x7e00; // NaN in the first panel of row 1
      const y = halfMatmulWasm(
        halfFromBits(bits, 3, 70, 'f16'),
        Tensor.from(new Array(70).fill(1), [70]),
      ).data;
      assert.equal(y[0], Number.POSITIVE_INFINITY);
      assert.ok(Number.isNaN(y[1]!));
      assert.equal(y[2], 70);
    });
  });
});

test('half: f16 weights near the subnormal range, overflowing values and Inf / NaN match the reference', () => {
  runtime();
  const [M, K] = [37, 301];
  const w = randn([M, K], 5);
  for (let i = 0; i < w.size; i++) if (i % 3 === 0) w.data[i] = w.data[i]! * 2 ** -16; // f16 subnormals
  const finite = halfFromDense(w, 'f16');
  for (const N of [1, 8]) assertHalfTwin(finite, N, 'f16 with subnormals', N);
  w.data[40] = 1e6; // rounds to +Inf
  w.data[K * 5 + 7] = Number.NaN;
  const special = halfFromDense(w, 'f16');
  for (const N of [1, 8]) {
    const b = rhs(K, N, 9);
    const got = halfMatmulWasm(special, b).data;
    const want = halfMatmulRef(special, b).data;
    for (let i = 0; i < got.length; i++) {
      if (!Number.isFinite(want[i]!))
        assert.ok(Object.is(got[i], want[i]), `N=${N} [${i}]: ${got[i]} vs ${want[i]}`);
    }
    const finiteRows = (a: Float32Array) =>
      a.filter((_, i) => Math.floor(i / N) !== 0 && Math.floor(i / N) !== 5);
    assert.ok(relError(finiteRows(got), finiteRows(want)) <= TOL.halfGemv, `N=${N}: finite rows`);
    assert.equal(got[0], want[0]); // row 0 holds the +Inf: ±Inf or NaN by the sign of its x
  }
});

test('half: the x permutation kernel matches halfPackXRef', () => {
  const rt = runtime();
  for (const K of [1, 7, 8, 17, 4096]) {
    const x = randn([K], K);
    const xp = rt.upload(x.data);
    const out = rt.alloc(K * 4);
    rt.kernels.half_pack_x!(xp, out, K);
    assert.deepEqual(rt.f32(out, K).slice(), halfPackXRef(x.data, K), `K=${K}`);
    rt.free(xp);
    rt.free(out);
  }
});

test('half: matmul() dispatches bf16 and f16 weights to the WebAssembly kernels', () => {
  const cases = FORMATS.flatMap((f) => [
    [halfFromDense(testMatrix(8, 24, 1, 3), f), randn([24], 4)] as const,
    [halfFromDense(testMatrix(8, 24, 1, 3), f), randn([24, 5], 4)] as const,
  ]);
  assertDispatchesToWasm('relaxed', cases, matmul, halfMatmulWasm);
});

test('half: a malformed weight or right-hand side is an error before any kernel runs', () => {
  const counter = countKernelRuns();
  const good = halfFromDense(testMatrix(4, 8, 1, 5), 'bf16');
  assert.throws(() => halfMatmulWasm({ ...good, data: good.data.subarray(1) }, randn([8], 1)), FormatError);
  assert.throws(() => halfMatmulWasm({ ...good, format: 'f32' } as never, randn([8], 1)), FormatError);
  assert.throws(
    () => halfMatmulWasm(good, randn([9], 1)),
    /halfMatmulWasm: b has 9 rows but w has 8 columns/,
  );
  assert.throws(() => matmul(good, randn([8, 2, 2], 1)), /matmul: b must be \[K\] or \[K,N\]/);
  assert.equal(counter.calls, 0, 'no kernel ran');
});

test('half: the single-thread build (no SharedArrayBuffer) gives the same results', () => {
  const index = fileURLToPath(new URL('../../index.js', import.meta.url));
  const script = `
    const s = await import(${JSON.stringify(index)});
    const { halfMatmulRef } = await import(${JSON.stringify(fileURLToPath(new URL('./half.js', import.meta.url)))});
    const out = [];
    for (const f of ['bf16', 'f16']) {
      const w = s.halfFromDense(s.randn([13, 67], 1), f);
      for (const b of [s.randn([67], 2), s.randn([67, 9], 3)]) out.push(s.relError(s.matmul(w, b).data, halfMatmulRef(w, b).data));
    }
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(
    process.execPath,
    ['--no-harmony-sharedarraybuffer', '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
      env: { ...process.env, SPARSEKIT_QUIET: '1' },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const errors = JSON.parse(r.stdout) as number[];
  assert.equal(errors.length, 4);
  for (const e of errors) assert.ok(e <= TOL.halfGemm, `error ${e}`);
});
