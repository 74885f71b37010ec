import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Tensor } from '../tensor/tensor.js';
import { bitmaskFromDense } from './bitmask.js';
import { bsrFromDense } from './bsr.js';
import { cooFromDense } from './coo.js';
import { csrFromDense } from './csr.js';
import { halfCsrFromDense } from './csr-half.js';
import { halfFromDense } from './half.js';
import { nmFromDense, nmLayout, nmPruneMagnitude } from './nm.js';
import { halfNmFromDense } from './nm-half.js';
import { testMatrix } from './testing.js';
import { FORMAT_TRAITS, type FormatName, TRAITS_TERMS, traitsMarkdown } from './traits.js';

const DTYPES: Record<string, string> = {
  Float32Array: 'f32',
  Uint32Array: 'u32',
  Uint16Array: 'u16',
  Uint8Array: 'u8',
};

/** Sample instances of every format, including u32-indexed ones. */
function samples(): [FormatName, object][] {
  const w = testMatrix(9, 21, 0.5);
  const wide = testMatrix(2, 70000, 0.001);
  return [
    ['dense', w],
    ['csr', csrFromDense(w)],
    ['csr', csrFromDense(wide)],
    ['csr_bf16', halfCsrFromDense(w, 'bf16')],
    ['csr_bf16', halfCsrFromDense(wide, 'bf16')],
    ['csr_f16', halfCsrFromDense(w, 'f16')],
    ['bsr', bsrFromDense(w, 4, 8)],
    ['bsr', bsrFromDense(wide, 1, 1)],
    ['nm', nmFromDense(nmPruneMagnitude(w, 2, 4), 2, 4)],
    ['nm', nmFromDense(nmPruneMagnitude(w, 3, 16), 3, 16)],
    ['nm_bf16', halfNmFromDense(nmPruneMagnitude(w, 2, 4), 2, 4, 'bf16')],
    ['nm_bf16', halfNmFromDense(nmPruneMagnitude(w, 4, 8), 4, 8, 'bf16')],
    ['nm_f16', halfNmFromDense(nmPruneMagnitude(w, 3, 16), 3, 16, 'f16')],
    ['bitmask', bitmaskFromDense(w)],
    ['coo', cooFromDense(w)],
    ['bf16', halfFromDense(w, 'bf16')],
    ['f16', halfFromDense(w, 'f16')],
  ];
}

/** Values of the formula terms for one instance, computed from their definitions in TRAITS_TERMS. */
function termsOf(a: Record<string, unknown>): Record<string, number> {
  const num = (k: string) => (typeof a[k] === 'number' ? (a[k] as number) : 0);
  const rows = a instanceof Tensor ? a.rows : num('rows');
  const cols = a instanceof Tensor ? a.cols : num('cols');
  const indexed = a.format === 'bsr' ? Math.ceil(cols / num('blockCols')) : cols;
  const values = a.values as Float32Array | undefined;
  const blockColIdx = a.blockColIdx as Uint16Array | undefined;
  const isNm = a.format === 'nm' || a.format === 'nm_bf16' || a.format === 'nm_f16';
  const nmSizes = isNm ? nmLayout(cols, num('n'), num('m')) : undefined;
  return {
    rows,
    cols,
    nnz: values?.length ?? 0,
    idxBytes: indexed <= 65536 ? 2 : 4,
    nBlocks: blockColIdx?.length ?? 0,
    groups: nmSizes?.groups ?? 0,
    metaBytesPerGroup: nmSizes?.metaBytesPerGroup ?? 0,
    blockRows: num('blockRows'),
    blockCols: num('blockCols'),
    n: num('n'),
    m: num('m'),
  };
}

function evaluate(formula: string, terms: Record<string, number>): number {
  const names = Object.keys(terms);
  const f = new Function('ceil', ...names, `return ${formula};`) as (...xs: unknown[]) => number;
  return f(Math.ceil, ...names.map((k) => terms[k]));
}

describe('FORMAT_TRAITS matches the real objects', () => {
  for (const [name, a] of samples()) {
    const traits = FORMAT_TRAITS[name];
    const rec = a as Record<string, unknown>;
    const terms = termsOf(rec);
    it(`${name} ${terms.rows}×${terms.cols}: fields, dtypes, lengths and nbytes`, () => {
      const arrays = Object.entries(rec).filter(([, v]) => ArrayBuffer.isView(v)) as [string, Float32Array][];
      assert.deepEqual(
        arrays.map(([k]) => k),
        traits.fields.map((f) => f.name),
      );
      let bytes = 0;
      for (const f of traits.fields) {
        const arr = rec[f.name] as Float32Array;
        assert.ok(f.dtype.split('/').includes(DTYPES[arr.constructor.name]!), `${f.name} dtype ${f.dtype}`);
        assert.equal(evaluate(f.length, terms), arr.length, `${f.name} length ${f.length}`);
        bytes += arr.byteLength;
      }
      assert.equal(evaluate(traits.nbytesFormula, terms), bytes, `nbytes ${traits.nbytesFormula}`);
    });
  }

  it('every formula uses only documented terms', () => {
    const known = new Set([...Object.keys(TRAITS_TERMS), 'ceil', 'blockRows', 'blockCols', 'n', 'm']);
    for (const t of Object.values(FORMAT_TRAITS)) {
      for (const formula of [t.nbytesFormula, ...t.fields.map((f) => f.length)]) {
        for (const word of formula.match(/[A-Za-z]+/g) ?? [])
          assert.ok(known.has(word), `${t.name}: ${word} in ${formula}`);
      }
    }
  });
});

describe('docs/formats.md', () => {
  it('contains traitsMarkdown() verbatim (regenerate with node scripts/gen-format-docs.mjs)', () => {
    const doc = readFileSync(new URL('../../../docs/formats.md', import.meta.url), 'utf8');
    assert.ok(
      doc.includes(traitsMarkdown()),
      'docs/formats.md is out of date: run node scripts/gen-format-docs.mjs',
    );
  });
});
