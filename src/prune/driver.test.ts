import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CausalModel } from '../models/causal.js';
import { loadCausalLM } from '../models/load.js';
import { type TinyKind, writeTinyModel } from '../models/testing.js';
import type { Tensor } from '../tensor/tensor.js';
import { sampleWindows } from './calibration.js';
import { type PruneOptions, prunableLinears, pruneModel } from './driver.js';
import { savePruned } from './save.js';
import { InputStats } from './stats.js';
import { wandaMask } from './wanda.js';

const root = mkdtempSync(join(tmpdir(), 'sparsekit-prune-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh tiny model of `kind` (its own folder) with wider layers so N:M groups and heads have room. */
function tiny(kind: TinyKind, config: Record<string, unknown> = {}) {
  const dir = join(root, `m${n++}`);
  writeTinyModel(dir, kind, { config });
  return { dir, lm: loadCausalLM(dir) };
}

const calib = (vocab: number, count = 4, length = 12) =>
  sampleWindows(
    Array.from({ length: 400 }, (_, i) => (i * 7 + (i >> 3)) % vocab),
    { count, length, seed: 1 },
  );

function weights(lm: ReturnType<typeof loadCausalLM>): Map<string, Float32Array> {
  return new Map([...lm.linears()].map(([k, l]) => [k, (l.weight as Tensor).data.slice()]));
}

describe('pruneModel', () => {
  it('Wanda: floor(s·C) zeros per row of every block linear; reported = counted; deterministic; head untouched', async () => {
    const a = tiny('llama');
    const b = tiny('llama');
    const headBefore = (a.lm.linears().get('lm_head.weight')!.weight as Tensor).data.slice();
    const opts: PruneOptions = { method: 'wanda', sparsity: 0.5, calibration: calib(48) };
    const ra = await pruneModel(a.lm, opts);
    await pruneModel(b.lm, opts);
    assert.deepEqual(weights(a.lm), weights(b.lm));
    assert.equal(ra.layers.length, 14);
    for (const l of ra.layers) {
      const w = a.lm.linears().get(l.name)!.weight as Tensor;
      let zeros = 0;
      for (let r = 0; r < w.rows; r++) {
        let z = 0;
        for (let c = 0; c < w.cols; c++) z += w.data[r * w.cols + c] === 0 ? 1 : 0;
        assert.equal(z, Math.floor(0.5 * w.cols));
        zeros += z;
      }
      assert.equal(l.zeros, zeros);
    }
    assert.equal(ra.sparsity, 0.5);
    assert.deepEqual((a.lm.linears().get('lm_head.weight')!.weight as Tensor).data, headBefore);
  });

  it('is sequential: block 1 is pruned from the outputs of the already-pruned block 0', async () => {
    const { lm } = tiny('gpt2');
    const ref = tiny('gpt2').lm;
    const seqs = calib(50);
    await pruneModel(lm, { method: 'wanda', sparsity: 0.6, calibration: seqs });
    // by hand: prune block 0 from its dense stats, run the pruned block 0, gather block 1's c_fc inputs
    const run = (ref as CausalModel).blockwise();
    const blocks = prunableLinears(ref);
    const observe = (b: number, xs: Tensor[]) => {
      const stats = new Map<string, InputStats>();
      for (const [name, l] of blocks[b]!) {
        stats.set(name, new InputStats(l.inFeatures, { norms: true }));
        l.onInput = (x, layout) => stats.get(name)!.observe(x, layout);
      }
      for (const x of xs) run.run(b, x);
      for (const [, l] of blocks[b]!) l.onInput = null;
      return stats;
    };
    let xs = seqs.map((s) => run.embed(s));
    const s0 = observe(0, xs);
    for (const [name, l] of blocks[0]!)
      l.weight = wandaMask(l.weight as Tensor, s0.get(name)!.squaredNorms(), 0.6).apply(l.weight as Tensor);
    xs = xs.map((x) => run.run(0, x));
    const s1 = observe(1, xs);
    const name = 'transformer.h.1.mlp.c_fc.weight';
    const [, fc] = blocks[1]!.find(([k]) => k === name)!;
    const want = wandaMask(fc.weight as Tensor, s1.get(name)!.squaredNorms(), 0.6).apply(fc.weight as Tensor);
    assert.deepEqual((lm.linears().get(name)!.weight as Tensor).data, want.data);
  });

  it('SparseGPT, magnitude, random and DSnoT hold 2:4 exactly in every row group', async () => {
    for (const method of ['sparsegpt', 'magnitude', 'random', 'dsnot'] as const) {
      const { lm } = tiny('llama');
      const r = await pruneModel(lm, { method, sparsity: '2:4', calibration: calib(48) });
      for (const l of r.layers) {
        const w = lm.linears().get(l.name)!.weight as Tensor;
        for (let g = 0; g < w.size; g += 4) {
          let z = 0;
          for (let i = 0; i < 4; i++) z += w.data[g + i] === 0 ? 1 : 0;
          assert.equal(z, 2, `${method} ${l.name} group ${g / 4}`);
        }
      }
      assert.equal(r.sparsity, 0.5);
    }
  });

  it('OWL budgets average to the target and each block holds its own per-row count', async () => {
    const { lm } = tiny('llama', { num_hidden_layers: 3 });
    const r = await pruneModel(lm, {
      method: 'wanda',
      sparsity: 0.6,
      calibration: calib(48),
      budget: { kind: 'owl', lambda: 0.1, hyperM: 2 },
    });
    const s = r.blockBudget!;
    assert.equal(s.length, 3);
    assert.ok(Math.abs(s.reduce((a, b) => a + b) / 3 - 0.6) < 1e-12);
    for (const l of r.layers) {
      const b = Number(/layers\.(\d+)\./.exec(l.name)![1]);
      assert.equal(l.zeros, l.rows * Math.floor(s[b]! * l.cols));
    }
  });

  it('global magnitude prunes exactly floor(s·total) over all block linears', async () => {
    const { lm } = tiny('gpt2');
    const r = await pruneModel(lm, { method: 'magnitude', sparsity: 0.7, budget: { kind: 'global' } });
    const total = r.layers.reduce((a, l) => a + l.rows * l.cols, 0);
    assert.equal(
      r.layers.reduce((a, l) => a + l.zeros, 0),
      Math.floor(0.7 * total),
    );
  });

  it('structured Wanda removes heads (KV groups) and channels; the saved model is smaller and computes the same', async () => {
    const { lm } = tiny('llama', {
      hidden_size: 32,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      intermediate_size: 40,
    });
    const r = await pruneModel(lm, {
      method: 'wanda',
      sparsity: 0.5,
      structure: 'heads+channels',
      calibration: calib(48),
    });
    assert.deepEqual(
      r.removed!.map((x) => [x.heads.length, x.channels.length]),
      [
        [2, 20],
        [2, 20],
      ],
    );
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const masked = lm.forward(ids);
    const out = join(root, `s${n++}`);
    savePruned(lm, r, out);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.deepEqual(
      [cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim, cfg.intermediate_size],
      [4, 2, 4, 20],
    );
    const small = loadCausalLM(out);
    assert.equal(small.linears().get('model.layers.0.self_attn.q_proj.weight')!.outFeatures, 16);
    assert.equal(small.linears().get('model.layers.1.mlp.down_proj.weight')!.inFeatures, 20);
    const y = small.forward(ids);
    for (let i = 0; i < y.size; i++) assert.ok(Math.abs(y.data[i]! - masked.data[i]!) < 1e-4);
  });

  it('structured magnitude on GPT-2 channels shrinks n_inner; GPT-2 heads are refused up front', async () => {
    const { lm } = tiny('gpt2');
    const r = await pruneModel(lm, { method: 'magnitude', sparsity: 0.25, structure: 'channels' });
    const out = join(root, `s${n++}`);
    savePruned(lm, r, out);
    assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).n_inner, 48);
    const ids = [1, 2, 3, 4];
    const y = loadCausalLM(out).forward(ids);
    const want = lm.forward(ids);
    for (let i = 0; i < y.size; i++) assert.ok(Math.abs(y.data[i]! - want.data[i]!) < 1e-4);
    await assert.rejects(
      () => pruneModel(tiny('gpt2').lm, { method: 'magnitude', sparsity: 0.25, structure: 'heads' }),
      /GPT-2's config/,
    );
  });

  it('rejects bad input before any work, and stops on abort', async () => {
    const { lm } = tiny('llama');
    const before = weights(lm);
    await assert.rejects(
      () => pruneModel(lm, { method: 'wanda', sparsity: 0.5 }),
      /needs calibration sequences/,
    );
    await assert.rejects(
      () =>
        pruneModel(lm, { method: 'sparsegpt', sparsity: 0.5, structure: 'heads', calibration: calib(48) }),
      /magnitude and wanda/,
    );
    await assert.rejects(
      () => pruneModel(lm, { method: 'wanda', sparsity: '1.5', calibration: calib(48) }),
      /sparsity must be/,
    );
    await assert.rejects(
      () =>
        pruneModel(lm, {
          method: 'wanda',
          sparsity: 0.5,
          budget: { kind: 'global' },
          calibration: calib(48),
        }),
      /global budget/,
    );
    await assert.rejects(
      () => pruneModel(lm, { method: 'wanda', sparsity: 0.5, calibration: calib(48, 2, 200) }),
      /exceed the model's 96/,
    );
    await assert.rejects(
      () => pruneModel(lm, { method: 'magnitude', sparsity: '3:5' }),
      /16 input columns, not a multiple of M = 5/,
    );
    assert.throws(() => sampleWindows([1, 2, 3], { length: 8 }), /3 tokens, fewer than one sequence of 8/);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      () => pruneModel(lm, { method: 'wanda', sparsity: 0.5, calibration: calib(48), signal: ac.signal }),
      /interrupted/,
    );
    assert.deepEqual(weights(lm).get('lm_head.weight'), before.get('lm_head.weight'));
  });

  it('yields between layers: an abort raised while it runs stops it at the next layer', async () => {
    const { lm } = tiny('llama', { num_hidden_layers: 3 });
    const ac = new AbortController();
    let layers = 0;
    setImmediate(() => ac.abort()); // runs only if pruneModel gives the event loop a turn
    await assert.rejects(
      () =>
        pruneModel(lm, {
          method: 'magnitude',
          sparsity: 0.5,
          signal: ac.signal,
          onProgress: (p) => {
            if (p.phase === 'prune') layers++;
          },
        }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.ok(layers < 21, `stopped after ${layers} of 21 layers`);
  });
});
