import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { HalfFormat } from '../formats/half.js';
import { nmFromDense, nmPruneMagnitude } from '../formats/nm.js';
import { halfNmFromDense, halfNmFromNm } from '../formats/nm-half.js';
import { representable, testMatrix } from '../formats/testing.js';
import { toBf16 } from '../tensor/dtype.js';
import { SafetensorsFile } from './safetensors.js';
import { type TensorEntry, writeSafetensors } from './safetensors-write.js';
import {
  type PackedMatrix,
  packWeight,
  parseSparseMetadata,
  readPackedWeight,
  type SparseWeightInfo,
  sparseMetadata,
  type ValuesDType,
} from './sparse-checkpoint.js';

const root = mkdtempSync(join(tmpdir(), 'sparsekit-packed-'));
after(() => rmSync(root, { recursive: true, force: true }));
let count = 0;

/**
 * Write `a` as packed weight "w" (values in `valuesDtype`), read it back; `edit` may damage the tensors first.
 * Returns what readPackedWeight gives, and the header entry written.
 */
function roundTrip(
  a: PackedMatrix,
  valuesDtype?: ValuesDType,
  edit: (t: Map<string, TensorEntry>) => void = () => {},
): { back: PackedMatrix; info: SparseWeightInfo } {
  const { info, tensors } = packWeight('w', a, valuesDtype);
  const t = new Map(tensors);
  edit(t);
  const file = join(root, `f${count++}.safetensors`);
  writeSafetensors(file, t, { metadata: sparseMetadata(new Map([['w', info]])) });
  const src = SafetensorsFile.open(file);
  try {
    const header = parseSparseMetadata(file, src.metadata);
    return { back: readPackedWeight(src, file, 'w', header.get('w')!), info };
  } finally {
    src.close();
  }
}

describe('packed N:M with half values', () => {
  for (const type of ['bf16', 'f16'] as HalfFormat[]) {
    const V = type === 'bf16' ? 'BF16' : 'F16';
    for (const [n, m, rows, cols] of [
      [2, 4, 7, 20],
      [4, 8, 5, 19], // partial last group narrower than n: padding slots
      [3, 16, 3, 37],
    ] as const) {
      it(`nm_${type} ${n}:${m} [${rows},${cols}] is written as "nm" with ${V} values and loads back bit for bit`, () => {
        const a = halfNmFromDense(nmPruneMagnitude(testMatrix(rows, cols, 0.8, n + m), n, m), n, m, type);
        const { back, info } = roundTrip(a, 'F32'); // the half format's own dtype wins over the caller's
        assert.deepEqual(info, { format: 'nm', shape: [rows, cols], values_dtype: V, n, m });
        assert.deepEqual(back, a);
      });
    }

    it(`an f32 N:M whose values are exactly ${type} written as ${V} loads back as nm_${type}, the same bits`, () => {
      const a = nmFromDense(representable(nmPruneMagnitude(testMatrix(6, 24, 0.9, 3), 2, 4), type), 2, 4);
      const { back } = roundTrip(a, V);
      assert.equal(back.format, `nm_${type}`);
      assert.deepEqual(back, halfNmFromNm(a, type));
    });
  }

  it('an f32 N:M written as F32 stays nm', () => {
    const a = nmFromDense(nmPruneMagnitude(testMatrix(4, 16, 1, 2), 2, 4), 2, 4);
    assert.deepEqual(roundTrip(a, 'F32').back, a);
  });

  it('f32 values that are not bf16 are rounded to nearest even when BF16 is asked for', () => {
    const a = nmFromDense(nmPruneMagnitude(testMatrix(4, 16, 1, 2), 2, 4), 2, 4);
    const { back } = roundTrip(a, 'BF16');
    assert.equal(back.format, 'nm_bf16');
    assert.deepEqual(back.values, toBf16(a.values));
  });

  it('a non-zero padding slot is an error naming the weight and nm_bf16', () => {
    const a = halfNmFromDense(nmPruneMagnitude(testMatrix(1, 10, 1, 4), 4, 8), 4, 8, 'bf16');
    assert.throws(
      () =>
        roundTrip(a, undefined, (t) => {
          const e = t.get('w.values')!;
          const v = Uint16Array.from((typeof e.data === 'function' ? e.data() : e.data) as Uint16Array);
          v[7] = 0x3f80; // padding slot 3 of group 1 (width 2)
          t.set('w.values', { ...e, data: v });
        }),
      /sparse weight "w" \(nm\): nm_bf16: values\[7\]=1 is padding slot 3 of row 0 group 1 and must be 0/,
    );
  });
});
