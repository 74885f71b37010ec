import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  csrFromDense,
  formatOf,
  type HalfCSR,
  type HalfNM,
  halfCsrNbytes,
  halfNmNbytes,
  halfNmToNm,
  nmPruneMagnitude,
  toDense,
  toFormat,
  type Weight,
} from '../formats/index.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { entriesFromSource, type TensorEntry, writeSafetensors } from '../io/safetensors-write.js';
import { SPARSE_META_VERSION, SPARSE_META_WEIGHTS } from '../io/sparse-checkpoint.js';
import { sparsify } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { loadCausalLM, loadModel } from './load.js';
import { saveModel } from './save.js';
import { saveSparseCheckpoint } from './sparse-checkpoint.js';
import { type TinyKind, writeTinyModel } from './testing.js';
import type { CausalLM } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'sparsekit-sparse-ckpt-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${n++}`);
const ids = [3, 1, 4, 1, 5, 9, 2, 6];

/** A tiny model whose block linears are pruned by `prune` (dense f32 with zeros), its head untouched. */
function pruned(kind: TinyKind, prune: (w: Tensor) => Tensor, dtype: 'F32' | 'BF16' = 'F32'): CausalLM {
  const dir = fresh();
  writeTinyModel(dir, kind, {
    dtype,
    config: kind === 'gpt2' ? {} : { hidden_size: 16, intermediate_size: 32 },
  });
  const lm = loadCausalLM(dir);
  for (const [name, l] of lm.linears())
    if (name !== 'lm_head.weight') l.weight = prune(toDense(l.weight as Weight));
  return lm;
}

function maxDiff(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

describe('compact sparse checkpoint', () => {
  for (const kind of ['llama', 'gpt2'] as const) {
    for (const [label, prune, format] of [
      ['70% unstructured', (w: Tensor) => sparsify(w, 0.7, 5), 'csr'],
      ['2:4', (w: Tensor) => nmPruneMagnitude(w, 2, 4), 'nm'],
    ] as const) {
      it(`${kind} ${label}: loads bit-identically in ${format}, logits as the plain folder's`, () => {
        const lm = pruned(kind, prune);
        const plain = fresh();
        const compact = fresh();
        saveModel(lm, plain);
        const report = saveSparseCheckpoint(lm, compact);
        const a = loadCausalLM(plain);
        const b = loadCausalLM(compact);
        for (const [name, l] of lm.linears()) {
          const w = b.linears().get(name)!.weight as Weight;
          const want = name === 'lm_head.weight' ? 'dense' : format;
          assert.equal(formatOf(w), want, name);
          assert.equal(report.weights.get(name)?.info.format ?? 'dense', want, name);
          assert.deepEqual(toDense(w).data, toDense(l.weight as Weight).data, `${name} bit-identical`);
        }
        // the same kernels on the same weights: the same logits, bit for bit
        for (const [name, l] of lm.linears()) {
          const w = b.linears().get(name)!.weight as Weight;
          if (formatOf(w) !== 'dense') l.weight = w;
        }
        assert.deepEqual(b.forward(ids).data, lm.forward(ids).data);
        // the plain folder runs dense kernels: equal up to the summation order
        assert.ok(maxDiff(b.forward(ids), a.forward(ids)) < 1e-5);
        // and a compact model saves back to the plain folder's tensors
        const back = fresh();
        saveModel(b, back);
        assert.deepEqual(
          readFileSync(join(back, 'model.safetensors')),
          readFileSync(join(plain, 'model.safetensors')),
        );
      });
    }
  }

  it('block-sparse weights become BSR 4×4, weights below every break-even stay dense', () => {
    let i = 0;
    const lm = pruned('llama', (w) => {
      if (i++ % 2) return sparsify(w, 0.2, 1);
      const d = w.data.slice();
      for (let r = 0; r < w.rows; r++) d.fill(0, r * w.cols, r * w.cols + (3 * w.cols) / 4); // 25% of blocks kept
      return new Tensor(d, w.shape);
    });
    const dir = fresh();
    saveSparseCheckpoint(lm, dir);
    const b = loadCausalLM(dir);
    const formats = [...b.linears().values()].map((l) => formatOf(l.weight as Weight));
    assert.deepEqual(new Set(formats), new Set(['bsr', 'dense']));
    assert.ok(maxDiff(b.forward(ids), lm.forward(ids)) < 1e-5);
  });

  it('a bf16 checkpoint keeps bf16: packed values and dense weights in BF16, the same numbers as the plain folder', () => {
    const lm = pruned('llama', (w) => sparsify(w, 0.7, 2), 'BF16');
    const plain = fresh();
    const compact = fresh();
    saveModel(lm, plain);
    saveSparseCheckpoint(lm, compact);
    const f = SafetensorsFile.open(join(compact, 'model.safetensors'));
    assert.equal(f.info('model.layers.0.mlp.up_proj.weight.values').dtype, 'BF16');
    assert.equal(f.info('model.layers.0.mlp.up_proj.weight.colIdx').dtype, 'U16');
    assert.equal(f.info('lm_head.weight').dtype, 'BF16');
    f.close();
    const a = loadCausalLM(plain);
    const b = loadCausalLM(compact); // a compact checkpoint loads as stored by default: the dense head stays bf16
    assert.equal(formatOf(b.linears().get('lm_head.weight')!.weight as Weight), 'bf16');
    const wide = loadCausalLM(compact, { weights: 'f32' });
    assert.equal(formatOf(wide.linears().get('lm_head.weight')!.weight as Weight), 'dense', 'f32 when asked');
    assert.equal(
      formatOf(a.linears().get('lm_head.weight')!.weight as Weight),
      'dense',
      'a plain folder: f32',
    );
    for (const [name, l] of a.linears()) {
      assert.deepEqual(
        toDense(b.linears().get(name)!.weight as Weight).data,
        toDense(l.weight as Weight).data,
      );
    }
  });

  it('a pruned bf16 checkpoint: CSR values stay bf16 and load as csr_bf16 (4 B per kept weight), the same logits', () => {
    const lm = pruned('llama', (w) => sparsify(w, 0.7, 2), 'BF16');
    const compact = fresh();
    saveSparseCheckpoint(lm, compact, { dtype: 'f32' }); // dense weights F32; the CSR values are exact in bf16
    const f = SafetensorsFile.open(join(compact, 'model.safetensors'));
    assert.equal(f.info('model.layers.0.mlp.up_proj.weight.values').dtype, 'BF16');
    assert.equal(f.info('lm_head.weight').dtype, 'F32');
    f.close();
    const b = loadCausalLM(compact, { kvDtype: 'f32' }); // the weights alone (bf16 weights would get a bf16 cache)
    for (const [name, l] of lm.linears()) {
      if (name === 'lm_head.weight') continue;
      const w = b.linears().get(name)!.weight as HalfCSR;
      assert.equal(formatOf(w), 'csr_bf16', name);
      assert.equal(halfCsrNbytes(w), 4 * (w.rows + 1) + 4 * w.values.length, `${name}: 4 B per kept weight`);
      assert.deepEqual(toDense(w).data, toDense(l.weight as Weight).data, `${name} bit-identical`);
      l.weight = csrFromDense(toDense(l.weight as Weight)); // the f32-valued CSR model, for the logits below
    }
    // 8 tokens: SpMM, which widens the values and runs the f32 CSR SpMM: bit for bit
    assert.deepEqual(b.forward(ids).data, lm.forward(ids).data);
    // one token: the bf16 SpMV, a different summation order
    assert.ok(maxDiff(b.forward([7]), lm.forward([7])) < 1e-5);
    // saved again, the csr_bf16 weights keep their bits
    const again = fresh();
    saveSparseCheckpoint(b, again, { dtype: 'f32' });
    const c = loadCausalLM(again, { kvDtype: 'f32' });
    assert.deepEqual(c.forward(ids).data, b.forward(ids).data);
  });

  it('a 2:4-pruned bf16 checkpoint: N:M values stay bf16 and load as nm_bf16 (5 B per 4 weights), the same logits', () => {
    const lm = pruned('llama', (w) => nmPruneMagnitude(w, 2, 4), 'BF16');
    const compact = fresh();
    saveSparseCheckpoint(lm, compact, { dtype: 'f32' }); // dense weights F32; the N:M values are exact in bf16
    const f = SafetensorsFile.open(join(compact, 'model.safetensors'));
    assert.equal(f.info('model.layers.0.mlp.up_proj.weight.values').dtype, 'BF16');
    assert.equal(f.info('lm_head.weight').dtype, 'F32');
    f.close();
    const b = loadCausalLM(compact);
    for (const [name, l] of lm.linears()) {
      if (name === 'lm_head.weight') continue;
      const w = b.linears().get(name)!.weight as HalfNM;
      assert.equal(formatOf(w), 'nm_bf16', name);
      assert.equal(halfNmNbytes(w), w.rows * Math.ceil(w.cols / 4) * 5, `${name}: 5 B per group of 4`);
      assert.deepEqual(toDense(w).data, toDense(l.weight as Weight).data, `${name} bit-identical`);
    }
    assert.equal(b.newCache().dtype, 'bf16', 'nm_bf16 block weights get a bf16 KV cache');
    // the logits, against the same weights as N:M with f32 values (the f32 KV cache: the weights alone)
    const half = loadCausalLM(compact, { kvDtype: 'f32' });
    const full = loadCausalLM(compact, { kvDtype: 'f32' });
    for (const l of full.linears().values()) {
      if (formatOf(l.weight as Weight) === 'nm_bf16') l.weight = halfNmToNm(l.weight as HalfNM);
    }
    // 8 tokens: the SpMM widens each value exactly and runs the same products in the same order: bit for bit
    assert.deepEqual(half.forward(ids).data, full.forward(ids).data);
    // one token: the 2:4 SpMV, likewise
    assert.ok(maxDiff(half.forward([7]), full.forward([7])) < 1e-6);
    // saved again, the nm_bf16 weights keep their bits: the same file
    const again = fresh();
    saveSparseCheckpoint(b, again, { dtype: 'f32' });
    assert.deepEqual(
      readFileSync(join(again, 'model.safetensors')),
      readFileSync(join(compact, 'model.safetensors')),
    );
    // and the plain folder of the loaded model is the plain folder of the pruned one
    const [p, q] = [fresh(), fresh()];
    saveModel(lm, p, { dtype: 'f32' });
    saveModel(b, q, { dtype: 'f32' });
    assert.deepEqual(readFileSync(join(q, 'model.safetensors')), readFileSync(join(p, 'model.safetensors')));
  });

  it('packedValues: f32 values that are not bf16 stay F32 unless bf16 is asked for (then rounded)', () => {
    const lm = pruned('llama', (w) => sparsify(w, 0.7, 4));
    const keep = fresh();
    saveSparseCheckpoint(lm, keep);
    const formats = (m: CausalLM) =>
      new Set([...m.linears().values()].map((l) => formatOf(l.weight as Weight)));
    assert.deepEqual(formats(loadCausalLM(keep)), new Set(['csr', 'dense']));
    const narrow = fresh();
    saveSparseCheckpoint(lm, narrow, { packedValues: 'bf16' });
    const b = loadCausalLM(narrow);
    assert.deepEqual(formats(b), new Set(['csr_bf16', 'dense']));
    const up = lm.linears().get('model.layers.0.mlp.up_proj.weight')!.weight as Weight;
    const got = toDense(b.linears().get('model.layers.0.mlp.up_proj.weight')!.weight as Weight);
    assert.deepEqual(
      got.data,
      toDense(toFormat(toDense(up), { format: 'bf16' })).data,
      'rounded to nearest even',
    );
    const wide = fresh();
    saveSparseCheckpoint(
      pruned('llama', (w) => sparsify(w, 0.7, 2), 'BF16'),
      wide,
      { packedValues: 'f32' },
    );
    assert.deepEqual(formats(loadCausalLM(wide)), new Set(['csr', 'bf16']), 'the head stays bf16 as stored');
    assert.throws(
      () => saveSparseCheckpoint(lm, fresh(), { packedValues: 'BF16' as never }),
      /packedValues must be "auto", "f32", "bf16" or "f16", got "BF16"/,
    );
  });

  it('BERT linears pack too (the pooler passes through as an extra)', () => {
    const dir = fresh();
    writeTinyModel(dir, 'bert');
    const bert = loadModel(dir);
    for (const [name, l] of bert.linears()) {
      if (!name.startsWith('cls.'))
        l.weight = toFormat(sparsify(toDense(l.weight as Weight), 0.8, 3), { format: 'csr' });
    }
    const out = fresh();
    saveSparseCheckpoint(bert, out);
    const back = loadModel(out);
    assert.equal(back.kind, 'masked');
    const x = [2, 7, 1, 8];
    assert.ok(maxDiff(back.forward(x), bert.forward(x)) < 1e-5);
  });
});

describe('compact sparse checkpoint: a damaged file is an error naming the weight', () => {
  const good = fresh();
  saveSparseCheckpoint(
    pruned('llama', (w) => sparsify(w, 0.7, 4)),
    good,
  );
  const W = 'model.layers.1.mlp.down_proj.weight';

  /** A copy of the good folder with its weights rewritten by `edit` (tensors and metadata). */
  function damaged(edit: (t: Map<string, TensorEntry>, meta: Record<string, string>) => void): string {
    const dir = fresh();
    cpSync(good, dir, { recursive: true });
    const src = SafetensorsFile.open(join(good, 'model.safetensors'));
    const tensors = new Map(
      [...entriesFromSource(src)].map(([k, e]) => [k, { ...e, data: (e.data as () => never)() }] as const),
    );
    const meta = { ...src.metadata };
    src.close();
    edit(tensors, meta);
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { metadata: meta });
    return dir;
  }
  const header = (meta: Record<string, string>) => JSON.parse(meta[SPARSE_META_WEIGHTS]!);

  it('a truncated file', () => {
    const dir = fresh();
    cpSync(good, dir, { recursive: true });
    const file = join(dir, 'model.safetensors');
    truncateSync(file, readFileSync(file).length - 10);
    assert.throws(() => loadCausalLM(dir), /tensor ".*" claims bytes .* \(file truncated\?\)/);
  });

  it('column indices out of order', () => {
    const dir = damaged((t) => {
      const idx = t.get(`${W}.colIdx`)!.data as Uint16Array;
      [idx[0], idx[1]] = [idx[1]!, idx[0]!];
    });
    assert.throws(
      () => loadCausalLM(dir),
      new RegExp(
        `sparse weight "${W.replace(/\./g, '\\.')}" \\(csr\\): csr: colIdx\\[1\\]=\\d+ is not greater`,
      ),
    );
  });

  it('row pointers that do not add up', () => {
    const dir = damaged((t) => {
      const ptr = t.get(`${W}.rowPtr`)!.data as Uint32Array;
      ptr[ptr.length - 1]! += 1;
    });
    assert.throws(
      () => loadCausalLM(dir),
      /down_proj\.weight" \(csr\): csr: rowPtr\[\d+\]=\d+ but must equal nnz/,
    );
  });

  it('a missing field, a wrong dtype, a wrong shape, a bad header, a newer version', () => {
    assert.throws(
      () => loadCausalLM(damaged((t) => t.delete(`${W}.values`))),
      /down_proj\.weight" \(csr\): tensor ".*down_proj\.weight\.values" is missing/,
    );
    assert.throws(
      () =>
        loadCausalLM(
          damaged((t) => {
            const e = t.get(`${W}.rowPtr`)!;
            t.set(`${W}.rowPtr`, { ...e, dtype: 'I32', data: new Int32Array(e.data as Uint32Array) });
          }),
        ),
      /rowPtr" is I32 \[\d+\] but the header implies U32/,
    );
    assert.throws(
      () =>
        loadCausalLM(
          damaged((_, meta) => {
            const h = header(meta);
            h[W].shape = [16, 16];
            meta[SPARSE_META_WEIGHTS] = JSON.stringify(h);
          }),
        ),
      /sparse weight ".*down_proj\.weight" has shape \[16, 16\] but config\.json implies \[16, 32\]/,
    );
    assert.throws(
      () =>
        loadCausalLM(
          damaged((_, meta) => {
            const h = header(meta);
            h[W].format = 'ell';
            meta[SPARSE_META_WEIGHTS] = JSON.stringify(h);
          }),
        ),
      /sparse weight ".*down_proj\.weight": header entry has format "ell"/,
    );
    assert.throws(
      () =>
        loadCausalLM(
          damaged((_, meta) => {
            meta[SPARSE_META_VERSION] = '2';
          }),
        ),
      /sparsekit\.version"\] is "2"; this sparsekit reads version 1/,
    );
    assert.throws(
      () =>
        loadCausalLM(
          damaged((_, meta) => {
            const h = header(meta);
            h['model.layers.7.mlp.up_proj.weight'] = h[W];
            meta[SPARSE_META_WEIGHTS] = JSON.stringify(h);
          }),
        ),
      /describes weight "model\.layers\.7\.mlp\.up_proj\.weight", which this llama model does not have/,
    );
  });
});
