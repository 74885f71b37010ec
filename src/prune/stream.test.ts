import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openHfFolder } from '../io/hf.js';
import type { WeightStorage } from '../models/checkpoint.js';
import { DeferredMatrix, deferredMatrices } from '../models/deferred.js';
import { loadCausalLM } from '../models/load.js';
import { saveModel } from '../models/save.js';
import { type TinyKind, writeTinyModel } from '../models/testing.js';
import type { Tensor } from '../tensor/tensor.js';
import { sampleWindows } from './calibration.js';
import { type PruneOptions, pruneModel } from './driver.js';
import { saveCompactPruned, savePruned } from './save.js';
import { pruneStreaming } from './stream.js';

const root = mkdtempSync(join(tmpdir(), 'sparsekit-stream-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${n++}`);

const calib = (vocab: number) =>
  sampleWindows(
    Array.from({ length: 400 }, (_, i) => (i * 7 + (i >> 3)) % vocab),
    { count: 4, length: 12, seed: 1 },
  );

function tinyModel(
  kind: TinyKind,
  layers = 3,
  dtype: 'F32' | 'BF16' = 'F32',
): { dir: string; vocab: number } {
  const dir = fresh();
  const key = kind === 'gpt2' ? 'n_layer' : 'num_hidden_layers';
  const config = writeTinyModel(dir, kind, { config: { [key]: layers }, dtype });
  return { dir, vocab: config.vocab_size as number };
}

/** Prune `dir` in memory (pruneModel + savePruned + saveCompactPruned) and streaming; returns both outputs. */
async function both(dir: string, opts: PruneOptions, weights: WeightStorage = 'f32') {
  const mem = { out: fresh(), sparseOut: fresh() };
  const lm = loadCausalLM(dir, { weights });
  const memReport = await pruneModel(lm, opts);
  savePruned(lm, memReport, mem.out);
  saveCompactPruned(lm, memReport, mem.sparseOut);
  const str = { out: fresh(), sparseOut: fresh() };
  const folder = openHfFolder(dir);
  try {
    const streamed = await pruneStreaming(loadCausalLM(folder, { defer: true, weights }), opts, str);
    return { mem, memReport, str, streamed };
  } finally {
    folder.close();
  }
}

const bytes = (dir: string, file: string) => readFileSync(join(dir, file));

const CASES: Array<[string, Omit<PruneOptions, 'calibration'>]> = [
  ['magnitude 50%', { method: 'magnitude', sparsity: 0.5 }],
  ['wanda 60%', { method: 'wanda', sparsity: 0.6 }],
  ['sparsegpt 50%', { method: 'sparsegpt', sparsity: 0.5 }],
  ['sparsegpt 2:4', { method: 'sparsegpt', sparsity: '2:4' }],
  ['wanda 70% OWL', { method: 'wanda', sparsity: 0.7, budget: { kind: 'owl', lambda: 0.08, hyperM: 3 } }],
  ['wanda channels 25% (structured)', { method: 'wanda', sparsity: 0.25, structure: 'channels' }],
];

describe('pruneStreaming', () => {
  for (const kind of ['llama', 'gpt2'] as const) {
    for (const [label, o] of CASES) {
      it(`${kind}, ${label}: the same report and byte-identical plain and compact folders as pruneModel + save`, async () => {
        const { dir, vocab } = tinyModel(kind);
        const opts: PruneOptions = { ...o, calibration: calib(vocab) };
        const { mem, memReport, str, streamed } = await both(dir, opts);
        const { anatomies: _a, ...got } = streamed.report; // anatomies hold functions
        const { anatomies: _b, ...want } = memReport;
        assert.deepEqual(got, want);
        for (const file of ['model.safetensors', 'config.json', 'generation_config.json']) {
          assert.ok(bytes(str.out, file).equals(bytes(mem.out, file)), `plain ${file} differs`);
          assert.ok(bytes(str.sparseOut, file).equals(bytes(mem.sparseOut, file)), `compact ${file} differs`);
        }
        assert.ok(streamed.report.sparsity > (o.structure ? 0.1 : 0.4));
        if (o.budget?.kind === 'owl') assert.equal(streamed.report.blockBudget?.length, 3);
      });
    }
  }

  for (const weights of ['f32', 'stored'] as const) {
    it(`a bf16 checkpoint loaded with weights: '${weights}': the same bf16 plain folder and compact checkpoint (bf16 CSR values) as in memory`, async () => {
      const { dir, vocab } = tinyModel('llama', 2, 'BF16');
      const opts: PruneOptions = { method: 'sparsegpt', sparsity: 0.7, calibration: calib(vocab) };
      const { mem, str, streamed } = await both(dir, opts, weights);
      for (const file of ['model.safetensors', 'config.json']) {
        assert.ok(bytes(str.out, file).equals(bytes(mem.out, file)), `plain ${file} differs`);
        assert.ok(bytes(str.sparseOut, file).equals(bytes(mem.sparseOut, file)), `compact ${file} differs`);
      }
      const down = streamed.compact!.weights.get('model.layers.1.mlp.down_proj.weight')!.info;
      assert.deepEqual([down.format, 'values_dtype' in down ? down.values_dtype : ''], ['csr', 'BF16']);
    });
  }

  it('the loaded streaming result computes what the in-memory pruned model computes', async () => {
    const { dir, vocab } = tinyModel('llama');
    const opts: PruneOptions = { method: 'wanda', sparsity: '2:4', calibration: calib(vocab) };
    const lm = loadCausalLM(dir);
    await pruneModel(lm, opts);
    const { str } = await both(dir, opts);
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const want = lm.forward(ids).data;
    assert.deepEqual(loadCausalLM(str.out).forward(ids).data, want);
    const compact = loadCausalLM(str.sparseOut);
    assert.equal(
      (compact.linears().get('model.layers.0.mlp.up_proj.weight')!.weight as { format: string }).format,
      'nm',
    );
    const got = compact.forward(ids).data;
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-4);
  });

  it('holds one block of weights at a time, through the OWL pass as well', async () => {
    const { dir, vocab } = tinyModel('llama', 4);
    const folder = openHfFolder(dir);
    try {
      const lm = loadCausalLM(folder, { defer: true });
      const blockBytes = [0, 0, 0, 0];
      for (const [name, l] of lm.linears()) {
        const b = /layers\.(\d+)\./.exec(name);
        if (b) blockBytes[Number(b[1])]! += 4 * l.inFeatures * l.outFeatures;
      }
      const r = await pruneStreaming(
        lm,
        {
          method: 'sparsegpt',
          sparsity: 0.5,
          budget: { kind: 'owl', lambda: 0.08, hyperM: 5 },
          calibration: calib(vocab),
        },
        { out: fresh() },
      );
      const all = blockBytes.reduce((a, x) => a + x, 0);
      assert.equal(r.peakBlockBytes, Math.max(...blockBytes)); // one block, never two
      assert.ok(r.peakBlockBytes * 4 <= all);
      const d = deferredMatrices(lm)!;
      assert.equal(d.residentBytes, 0);
      for (const name of d.names()) assert.ok(lm.linears().get(name)!.weight instanceof DeferredMatrix);
    } finally {
      folder.close();
    }
  });

  it('a deferred weight used or saved before it is loaded is an error naming it; loaded, it computes as usual', () => {
    const { dir } = tinyModel('gpt2', 2);
    const eager = loadCausalLM(dir);
    const folder = openHfFolder(dir);
    try {
      const lm = loadCausalLM(folder, { defer: true });
      const d = deferredMatrices(lm)!;
      assert.deepEqual(d.names().length, 8);
      assert.throws(
        () => lm.forward([1, 2, 3]),
        /transformer\.h\.0\.attn\.c_attn\.weight was deferred at load/,
      );
      assert.throws(() => saveModel(lm, fresh()), /was deferred at load .* load it before saving/);
      for (const name of d.names()) d.load(name);
      assert.deepEqual(lm.forward([1, 2, 3]).data, eager.forward([1, 2, 3]).data);
      const w = lm.linears().get('transformer.h.1.mlp.c_fc.weight')!.weight as Tensor;
      assert.deepEqual(
        w.data,
        (eager.linears().get('transformer.h.1.mlp.c_fc.weight')!.weight as Tensor).data,
      );
    } finally {
      folder.close();
    }
    assert.throws(() => loadCausalLM(dir, { defer: true }), /pass an opened folder \(openHfFolder/);
  });

  it('an abort mid-way leaves no output folder and no scratch spool', async () => {
    const { dir, vocab } = tinyModel('llama');
    const parent = fresh();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(parent);
    const out = join(parent, 'pruned');
    const ac = new AbortController();
    const folder = openHfFolder(dir);
    try {
      const lm = loadCausalLM(folder, { defer: true });
      await assert.rejects(
        pruneStreaming(
          lm,
          {
            method: 'wanda',
            sparsity: 0.5,
            calibration: calib(vocab),
            signal: ac.signal,
            onProgress: (p) => {
              if (p.phase === 'calibrate' && p.block === 2) ac.abort(); // blocks 0 and 1 are spooled
            },
          },
          { out, sparseOut: `${out}-sparse` },
        ),
        { name: 'AbortError' },
      );
    } finally {
      folder.close();
    }
    assert.deepEqual(readdirSync(parent), []);
    assert.equal(existsSync(out), false);
  });

  it('refuses what needs every block at once, and a model not loaded with defer, before any work', async () => {
    const { dir } = tinyModel('llama', 2);
    const folder = openHfFolder(dir);
    try {
      const lm = loadCausalLM(folder, { defer: true });
      const out = fresh();
      await assert.rejects(
        pruneStreaming(lm, { method: 'magnitude', sparsity: 0.5, budget: { kind: 'global' } }, { out }),
        /global budget ranks every weight at once, so it cannot stream/,
      );
      assert.equal(existsSync(out), false);
      await assert.rejects(
        pruneStreaming(loadCausalLM(dir), { method: 'magnitude', sparsity: 0.5 }, { out }),
        /must be loaded with \{ defer: true \}/,
      );
    } finally {
      folder.close();
    }
  });
});
