/** Test helpers shared by the format tests (round-trip property check, tolerances, fixtures); not re-exported. */

import assert from 'node:assert/strict';
import { randn, sparsify } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { FormatError } from './errors.js';
import { type HalfFormat, halfFromDense, halfToDense } from './half.js';
import type { FormatOps, SparseBase } from './types.js';

/** Named tolerances: `matmul` is max |reference − naive dense| relative to max(1, max |naive dense|). */
export const TOL = { matmul: 1e-5 } as const;

/** Odd shapes every format round-trips at every density. */
export const SHAPES: readonly (readonly [number, number])[] = [
  [1, 1],
  [1, 5],
  [5, 1],
  [5, 17],
  [17, 5],
  [17, 17],
];

/** The large shape, tested at density 0.5 and dense with empty rows (keeps the suite fast). */
export const LARGE_SHAPE = [300, 700] as const;

/** Fractions of non-zero elements tested. */
export const DENSITIES = [0, 0.5, 1] as const;

/** Right-hand side widths N tested for matmul (plus a rank-1 vector). */
export const MATMUL_NS = [1, 3, 8] as const;

/** A named dense input. */
export interface Case {
  readonly name: string;
  readonly w: Tensor;
}

/** A seeded [rows, cols] normal matrix with exactly round(rows·cols·density) non-zeros. */
export function testMatrix(rows: number, cols: number, density: number, seed = 1): Tensor {
  return sparsify(randn([rows, cols], seed), 1 - density, seed + 1);
}

/** A copy of w with every `every`-th row (starting at row 0) set to zero. */
/** w rounded to `type` and back: the values a half-precision format (dense or CSR) holds exactly. */
export function representable(w: Tensor, type: HalfFormat): Tensor {
  return halfToDense(halfFromDense(w, type));
}

export function withEmptyRows(w: Tensor, every = 3): Tensor {
  const out = w.clone();
  for (let i = 0; i < w.rows; i += every) out.data.fill(0, i * w.cols, (i + 1) * w.cols);
  return out;
}

/** SHAPES × DENSITIES, LARGE_SHAPE, empty-row variants and any `extra` shapes (at density 0.5). */
export function roundTripCases(extra: readonly (readonly [number, number])[] = []): Case[] {
  baseCases ??= makeBaseCases();
  let seed = 1000;
  return [
    ...baseCases,
    ...extra.map(([r, c]) => ({ name: `${r}×${c} density 0.5`, w: testMatrix(r, c, 0.5, seed++) })),
  ];
}

let baseCases: Case[] | undefined; // built once per test file: the large ones take a while

function makeBaseCases(): Case[] {
  const cases: Case[] = [];
  let seed = 1;
  for (const [r, c] of SHAPES) {
    for (const d of DENSITIES) cases.push({ name: `${r}×${c} density ${d}`, w: testMatrix(r, c, d, seed++) });
  }
  const [lr, lc] = LARGE_SHAPE;
  cases.push({ name: `${lr}×${lc} density 0.5`, w: testMatrix(lr, lc, 0.5, seed++) });
  for (const [r, c] of [[17, 17], LARGE_SHAPE] as const) {
    cases.push({
      name: `${r}×${c} density 1, every 3rd row empty`,
      w: withEmptyRows(testMatrix(r, c, 1, seed++)),
    });
  }
  return cases;
}

/** Naive dense product a [M,K] · b [K,N] (or b [K]) with f64 accumulation: the outside reference. */
export function denseMatmul(a: Tensor, b: Tensor): Tensor {
  const [m, k] = [a.rows, a.cols];
  const n = b.rank === 1 ? 1 : b.cols;
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a.data[i * k + p]! * b.data[p * n + j]!;
      out[i * n + j] = sum;
    }
  }
  return new Tensor(out, b.rank === 1 ? [m] : [m, n]);
}

/** Assert same shape and max |actual − expected| ≤ tol · max(1, max |expected|). */
export function assertClose(actual: Tensor, expected: Tensor, tol: number, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  let err = 0;
  let scale = 1;
  for (let i = 0; i < expected.size; i++) {
    err = Math.max(err, Math.abs(actual.data[i]! - expected.data[i]!));
    scale = Math.max(scale, Math.abs(expected.data[i]!));
  }
  assert.ok(err <= tol * scale, `${what}: max error ${err} exceeds ${tol} × ${scale}`);
}

/** Sum of byteLength over every typed-array field of an object. */
export function typedArrayBytes(a: object): number {
  let total = 0;
  for (const v of Object.values(a)) if (ArrayBuffer.isView(v)) total += v.byteLength;
  return total;
}

/**
 * The round-trip property every format must hold for w: fromDense → validate passes, toDense gives w
 * back exactly, nbytes is the arrays' bytes, matmul matches denseMatmul for N = 1, 3, 8 and a vector.
 */
export function checkRoundTrip<X extends SparseBase, O extends unknown[]>(
  ops: FormatOps<X, O>,
  w: Tensor,
  ...options: O
): X {
  const a = ops.fromDense(w, ...options);
  ops.validate(a);
  const back = ops.toDense(a);
  assert.deepEqual(back.shape, w.shape, 'toDense shape');
  assert.deepEqual(back.data, w.data, 'toDense(fromDense(w)) must equal w exactly');
  assert.equal(ops.nbytes(a), typedArrayBytes(a), 'nbytes');
  for (const n of MATMUL_NS) {
    const b = randn([w.cols, n], 100 + n);
    assertClose(ops.matmul(a, b), denseMatmul(w, b), TOL.matmul, `${ops.name}.matmul N=${n}`);
  }
  const x = randn([w.cols], 99);
  assertClose(ops.matmul(a, x), denseMatmul(w, x), TOL.matmul, `${ops.name}.matmul vector`);
  return a;
}

/** Assert that matmul rejects a right operand of the wrong shape, naming b and both sizes. */
export function checkMatmulShapeErrors<X extends SparseBase>(ops: FormatOps<X, never[]>, a: X): void {
  const fn = `${ops.name}Matmul`;
  const k = a.cols;
  assert.throws(() => ops.matmul(a, Tensor.zeros([k + 1, 2])), {
    message: `${fn}: b has ${k + 1} rows but a has ${k} columns`,
  });
  assert.throws(() => ops.matmul(a, Tensor.zeros([k + 1])), {
    message: `${fn}: b has length ${k + 1} but a has ${k} columns`,
  });
  assert.throws(() => ops.matmul(a, Tensor.zeros([k, 1, 1])), new RegExp(`${fn}: b must be rank 1 or 2`));
}

/** Assert that `fn` throws a FormatError for `field` whose message matches `pattern`. */
export function assertFormatError(fn: () => unknown, field: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${e}`);
    assert.equal(e.field, field, `field of "${e.message}"`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** A copy of `a` with some fields replaced (to build malformed inputs). */
export function broken<X extends object>(a: X, patch: { [K in keyof X]?: unknown }): X {
  return { ...a, ...patch } as X;
}
