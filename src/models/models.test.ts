import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { kernelOffset } from '../backend/resident.js';
import { runtime } from '../backend/wasm.js';
import { bsrFromDense } from '../formats/bsr.js';
import { csrFromDense } from '../formats/csr.js';
import type { HalfMatrix } from '../formats/half.js';
import { nmFromDense, nmPruneMagnitude } from '../formats/nm.js';
import { openHfFolder, writeHfFolder } from '../io/hf.js';
import { entriesFromSource } from '../io/safetensors-write.js';
import { tempDir } from '../io/testing.js';
import type { Linear } from '../nn/linear.js';
import { Tensor } from '../tensor/tensor.js';
import { type CausalLM, loadCausalLM, loadModel, type MaskedLM, saveModel } from './index.js';
import { type TinyKind, writeTinyModel } from './testing.js';

const tmp = tempDir();
after(() => tmp.cleanup());
let n = 0;
function tiny(kind: TinyKind, opts: Parameters<typeof writeTinyModel>[2] = {}): string {
  const dir = join(tmp.dir, `${kind}-${n++}`);
  writeTinyModel(dir, kind, opts);
  return dir;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return e;
}

function ids(T: number, vocab: number, seed = 3): number[] {
  return Array.from({ length: T }, (_, i) => (i * 7 + seed * 13) % vocab);
}

const CAUSAL: TinyKind[] = ['gpt2', 'gpt2-bare', 'llama', 'llama-bias', 'qwen2', 'mistral'];

describe('causal LMs: load and forward', () => {
  for (const kind of CAUSAL) {
    test(`${kind}: logits [T, vocab], lastOnly is the last row, finite`, () => {
      const lm = loadCausalLM(tiny(kind));
      const V = lm.config.vocabSize;
      const x = ids(7, V);
      const logits = lm.forward(x);
      assert.deepEqual(logits.shape, [7, V]);
      assert.ok(logits.data.every(Number.isFinite));
      const last = lm.forward(x, undefined, { lastOnly: true });
      assert.deepEqual(last.shape, [1, V]);
      assert.ok(maxAbsDiff(last.data, logits.data.subarray(6 * V)) <= 1e-5);
      // the output depends on the input (not a constant)
      assert.ok(maxAbsDiff(lm.forward([1]).data, lm.forward([2]).data) > 1e-3);
    });
  }
});

describe('KV cache', () => {
  for (const kind of CAUSAL) {
    test(`${kind}: full forward == prefill of a prefix + one-token decode steps (cache grows past 64)`, () => {
      const lm = loadCausalLM(tiny(kind));
      const V = lm.config.vocabSize;
      const x = ids(72, V);
      const full = lm.forward(x);
      const cache = lm.newCache();
      const pre = lm.forward(x.slice(0, 60), cache);
      assert.equal(cache.length, 60);
      let err = maxAbsDiff(pre.data, full.data.subarray(0, 60 * V));
      for (let t = 60; t < 72; t++) {
        const step = lm.forward([x[t]!], cache);
        err = Math.max(err, maxAbsDiff(step.data, full.data.subarray(t * V, (t + 1) * V)));
      }
      assert.equal(cache.length, 72);
      assert.ok(err <= 1e-4, `max abs error ${err}`);
      cache.reset();
      assert.equal(cache.length, 0);
      assert.ok(maxAbsDiff(lm.forward(x.slice(0, 5), cache).data, full.data.subarray(0, 5 * V)) <= 1e-4);
    });
  }
});

describe('bad input', () => {
  const lm = loadCausalLM(tiny('llama'));
  test('an unknown token id names ids and the vocabulary size', () => {
    assert.throws(() => lm.forward([1, 48]), /ids\[1\] is 48.*\[0, 48\)/);
    assert.throws(() => lm.forward([1.5]), /ids\[0\]/);
    assert.throws(() => lm.forward([]), /ids is empty/);
  });
  test('too many positions, at once or through the cache', () => {
    assert.throws(() => lm.forward(ids(97, 48)), /97 positions, more than the model's 96/);
    const cache = lm.newCache();
    lm.forward(ids(96, 48), cache);
    assert.throws(() => lm.forward([1], cache), /96 cached \+ 1 new tokens/);
    assert.equal(cache.length, 96);
  });
  test("another model's cache is refused", () => {
    const other = loadCausalLM(tiny('llama'));
    assert.throws(() => lm.forward([1], other.newCache()), /not made by this model's newCache/);
  });
  test('BERT given to loadCausalLM', () => {
    assert.throws(() => loadCausalLM(tiny('bert')), /not a causal LM \(use loadModel for BERT\)/);
  });
  test('a missing tensor is named', () => {
    const src = tiny('llama');
    const f = openHfFolder(src);
    const dir = join(tmp.dir, `missing-${n++}`);
    try {
      const names = f.weights.names().filter((x) => x !== 'model.layers.1.mlp.up_proj.weight');
      writeHfFolder(dir, { config: f.config, weights: entriesFromSource(f.weights, names) });
    } finally {
      f.close();
    }
    assert.throws(() => loadModel(dir), /no tensor "model.layers.1.mlp.up_proj.weight"/);
  });
  test('unknown weights option, wrong shape, missing weights file', () => {
    const dir = tiny('gpt2');
    assert.throws(
      () => loadModel(dir, { weights: 'f8' as never }),
      /weights must be one of f32, bf16, f16, stored/,
    );
    const bad = tiny('llama');
    const cfgPath = join(bad, 'config.json');
    writeFileSync(
      cfgPath,
      readFileSync(cfgPath, 'utf8').replace('"intermediate_size": 24', '"intermediate_size": 20'),
    );
    assert.throws(
      () => loadModel(bad),
      /gate_proj.weight" has shape \[24, 16\] but config.json implies \[20, 16\]/,
    );
    rmSync(join(bad, 'model.safetensors'));
    assert.throws(() => loadModel(bad), /model\.safetensors|safetensors/);
  });
});

/** Every tensor of two folders: same names, same dtypes, same bytes. */
function assertSameTensors(a: string, b: string, skip: RegExp | null = null): void {
  const fa = openHfFolder(a);
  const fb = openHfFolder(b);
  try {
    const names = fa.weights.names().filter((x) => !skip?.test(x));
    assert.deepEqual(fb.weights.names().sort(), names.sort());
    for (const name of names) {
      const ta = fa.weights.readTensor(name);
      const tb = fb.weights.readTensor(name);
      assert.equal(tb.dtype, ta.dtype, name);
      assert.deepEqual(tb.shape, ta.shape, name);
      assert.deepEqual(
        new Uint8Array(tb.data.buffer, tb.data.byteOffset, tb.data.byteLength),
        new Uint8Array(ta.data.buffer, ta.data.byteOffset, ta.data.byteLength),
        name,
      );
    }
  } finally {
    fa.close();
    fb.close();
  }
}

describe('save → load', () => {
  for (const [kind, dtype] of [
    ['gpt2', 'F32'],
    ['gpt2-bare', 'F32'],
    ['llama', 'BF16'],
    ['qwen2', 'F16'],
    ['llama-bias', 'F32'],
    ['bert', 'F32'],
  ] as const) {
    test(`${kind} (${dtype}): bit-identical tensors and identical logits`, () => {
      const src = tiny(kind, { dtype });
      const m = loadModel(src);
      const out = join(tmp.dir, `saved-${n++}`);
      saveModel(m, out);
      // the causal-mask buffers of old GPT-2 files are regenerated by transformers and not written back
      assertSameTensors(src, out, kind === 'gpt2-bare' ? /\.attn\.bias$/ : null);
      const m2 = loadModel(out);
      const x = ids(9, m.config.vocabSize);
      const run = (model: typeof m) =>
        model.kind === 'causal' ? model.forward(x) : (model as MaskedLM).forward(x);
      assert.deepEqual(run(m2).data, run(m).data);
      assert.throws(() => saveModel(m, out), /exists|overwrite/i);
      saveModel(m, out, { overwrite: true });
    });
  }

  test('GPT-2 buffers attn.bias are dropped; generation config kept; dtype option converts', () => {
    const src = tiny('gpt2');
    const m = loadCausalLM(src);
    const out = join(tmp.dir, `saved-${n++}`);
    saveModel(m, out, { dtype: 'bf16' });
    const f = openHfFolder(out);
    try {
      assert.equal(f.weights.info('transformer.h.0.attn.c_attn.weight').dtype, 'BF16');
      assert.deepEqual(f.weights.info('transformer.h.0.attn.c_attn.weight').shape, [16, 48]);
      assert.equal(f.config.dtype, 'bfloat16');
      assert.equal(f.generationConfig?.raw.max_new_tokens, 4);
    } finally {
      f.close();
    }
    const m2 = loadCausalLM(out);
    assert.ok(maxAbsDiff(m2.forward([1, 2, 3]).data, m.forward([1, 2, 3]).data) < 0.05);
  });

  test('a replaced tied head is saved as lm_head.weight and the saved config unties it', () => {
    const m = loadCausalLM(tiny('qwen2'));
    const head = m.linears().get('lm_head.weight')!;
    head.weight = csrFromDense(prunedCopy(head.weight as Tensor));
    const out = join(tmp.dir, `saved-${n++}`);
    saveModel(m, out);
    const m2 = loadCausalLM(out);
    assert.equal(m2.config.tieWordEmbeddings, false);
    assert.ok(maxAbsDiff(m2.forward([3, 4]).data, m.forward([3, 4]).data) <= 1e-5);
  });
});

function prunedCopy(w: Tensor): Tensor {
  return nmPruneMagnitude(w, 2, 4);
}

describe('sparse weights', () => {
  function runSparse(
    model: CausalLM | MaskedLM,
    x: number[],
    convert: (w: Tensor) => Linear['weight'] | null,
  ): Float32Array {
    const dense = new Map<Linear, Tensor>();
    for (const l of model.linears().values()) dense.set(l, l.weight as Tensor);
    try {
      for (const [l, w] of dense) l.weight = convert(w) ?? w;
      return model.forward(x).data;
    } finally {
      for (const [l, w] of dense) l.weight = w;
    }
  }

  for (const kind of ['gpt2', 'llama', 'qwen2', 'bert'] as const) {
    test(`${kind}: CSR, BSR 4×4 and N:M 2:4 weights give the dense model's logits`, () => {
      const m = loadModel(tiny(kind));
      const x = ids(6, m.config.vocabSize);
      // prune every linear to 2:4 in place (dense Tensors holding zeros), the reference
      for (const l of m.linears().values()) l.weight = prunedCopy(l.weight as Tensor);
      const ref = m.forward(x).data;
      const csr = runSparse(m, x, (w) => csrFromDense(w));
      const bsr = runSparse(m, x, (w) =>
        w.shape[0]! % 4 === 0 && w.shape[1]! % 4 === 0 ? bsrFromDense(w, 4, 4) : null,
      );
      const nm = runSparse(m, x, (w) => nmFromDense(w, 2, 4));
      for (const [name, got] of [
        ['csr', csr],
        ['bsr', bsr],
        ['nm', nm],
      ] as const) {
        const err = maxAbsDiff(got, ref);
        assert.ok(err <= 1e-4, `${name}: max abs error ${err}`);
      }
      // and the sparse formats were really used: densities of 2:4 are 0.5
      const l0 = [...m.linears().values()][0]!;
      assert.equal((l0.weight as Tensor).data.filter((v) => v !== 0).length * 2, (l0.weight as Tensor).size);
    });
  }

  test('a linear layer refuses a weight of another shape', () => {
    const m = loadCausalLM(tiny('llama'));
    const q = m.linears().get('model.layers.0.self_attn.q_proj.weight')!;
    assert.throws(() => {
      q.weight = Tensor.zeros([16, 8]);
    }, /new weight is \[16, 8\] but this layer is \[16, 16\]/);
  });

  test('a tied head shares the embedding table (no copy)', () => {
    const m = loadCausalLM(tiny('qwen2'));
    const head = m.linears().get('lm_head.weight')!;
    const f = openHfFolder(join(tmp.dir, `qwen2-${n - 1}`));
    try {
      assert.equal(f.weights.has('lm_head.weight'), false);
      assert.deepEqual((head.weight as Tensor).data, f.weights.readTensor('model.embed_tokens.weight').data);
    } finally {
      f.close();
    }
    assert.equal(head.weight, (m as unknown as { embedTokens: { table: unknown } }).embedTokens.table);
  });
});

describe('BERT', () => {
  const m = loadModel(tiny('bert')) as MaskedLM;
  test('MLM logits [T, vocab], encode [T, hidden]; token types change the output', () => {
    assert.equal(m.kind, 'masked');
    const x = [2, 5, 7, 9];
    assert.deepEqual(m.forward(x).shape, [4, 40]);
    assert.deepEqual(m.encode(x).shape, [4, 16]);
    const t1 = m.encode(x, { tokenTypeIds: [0, 0, 1, 1] });
    assert.ok(maxAbsDiff(t1.data, m.encode(x).data) > 1e-3);
  });
  test('padding anywhere: real positions equal the unpadded run', () => {
    const x = [2, 5, 7, 9, 11];
    const ref = m.forward(x).data;
    const V = 40;
    // padding at the end, and in the middle (a pad token between real ones)
    const padded = m.forward([...x, 0, 0, 0, 0, 0, 0], { attentionMask: [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0] });
    assert.deepEqual(padded.shape, [11, V]);
    assert.ok(maxAbsDiff(padded.data.subarray(0, 5 * V), ref) <= 1e-5);
    const middle = m.encode([2, 5, 3, 7, 9, 11], { attentionMask: [1, 1, 0, 1, 1, 1] }).data;
    const plain = m.encode(x).data;
    const C = 16;
    // position embeddings differ after the pad, so compare a model-free invariant: changing the padded id changes nothing
    const middle2 = m.encode([2, 5, 30, 7, 9, 11], { attentionMask: [1, 1, 0, 1, 1, 1] }).data;
    for (const t of [0, 1, 3, 4, 5]) {
      assert.ok(
        maxAbsDiff(middle.subarray(t * C, (t + 1) * C), middle2.subarray(t * C, (t + 1) * C)) <= 1e-6,
      );
    }
    assert.ok(maxAbsDiff(middle.subarray(0, C), plain.subarray(0, C)) > 0); // positions 3+ shifted: a different input
  });
  test('bad input: too many tokens, mask values, lengths', () => {
    assert.throws(() => m.forward(ids(33, 40)), /33 tokens, more than max_position_embeddings 32/);
    assert.throws(() => m.forward([1, 2], { attentionMask: [1, 2] }), /attentionMask\[1\] is 2/);
    assert.throws(() => m.forward([1, 2], { tokenTypeIds: [0] }), /tokenTypeIds has 1 entries but ids has 2/);
    assert.throws(() => m.forward([1, 2], { tokenTypeIds: [0, 2] }), /tokenTypeIds\[1\] is 2/);
    assert.throws(() => m.forward([1, 2], { attentionMask: [0, 0] }), /at least one token must be real/);
    assert.throws(() => m.forward([40]), /ids\[0\] is 40/);
  });
  test('linears() names every encoder and head linear', () => {
    const names = [...m.linears().keys()];
    assert.equal(names.length, 2 * 6 + 2);
    assert.ok(names.includes('bert.encoder.layer.1.attention.self.key.weight'));
    assert.equal(names.at(-1), 'cls.predictions.decoder.weight');
  });
});

describe('half-precision weights', () => {
  test("a bf16 checkpoint loaded with weights 'stored' or 'bf16' keeps its bits and matches f32 storage", () => {
    const dir = tiny('llama', { dtype: 'BF16' });
    const f32 = loadCausalLM(dir);
    const x = ids(8, 48);
    const ref = f32.forward(x).data;
    for (const weights of ['stored', 'bf16'] as const) {
      const m = loadCausalLM(dir, { weights, kvDtype: 'f32' }); // the weights alone (a bf16 model's cache is bf16)
      const q = m.linears().get('model.layers.0.self_attn.q_proj.weight')!;
      assert.equal((q.weight as { format: string }).format, 'bf16');
      // tied or not, the head is half too (llama here is untied)
      assert.equal((m.linears().get('lm_head.weight')!.weight as { format: string }).format, 'bf16');
      const err = maxAbsDiff(m.forward(x).data, ref);
      assert.ok(err <= 1e-4, `${weights}: max abs error ${err}`);
    }
    const stored = loadCausalLM(tiny('llama'), { weights: 'stored' });
    assert.ok(stored.linears().get('model.layers.0.mlp.up_proj.weight')!.weight instanceof Tensor);
  });

  test("an f32 checkpoint loaded as 'f16' computes what its f16-rounded weights compute, through the KV cache too", () => {
    const dir = tiny('gpt2');
    const m = loadCausalLM(dir, { weights: 'f16', kvDtype: 'f32' }); // the weights alone (not the f16 cache)
    assert.equal((m.linears().get('lm_head.weight')!.weight as { format: string }).format, 'f16'); // tied head = the half embedding
    const out = join(tmp.dir, `saved-${n++}`);
    saveModel(m, out); // f32 file holding the rounded values
    const rounded = loadCausalLM(out);
    const x = ids(10, 50);
    const want = rounded.forward(x).data;
    assert.ok(maxAbsDiff(m.forward(x).data, want) <= 1e-4);
    const cache = m.newCache();
    m.forward(x.slice(0, 6), cache);
    const step = m.forward([x[6]!], cache).data;
    assert.ok(maxAbsDiff(step, want.subarray(6 * 50, 7 * 50)) <= 1e-4);
  });
});

describe('weights in kernel memory', () => {
  for (const weights of ['f32', 'bf16'] as const) {
    test(`${weights}: a loaded model's matrices live in kernel memory once; the first forward copies none`, () => {
      const rt = runtime();
      const lm = loadCausalLM(tiny('llama', { dtype: 'BF16' }), { weights });
      let bytes = 0;
      for (const [, l] of lm.linears()) {
        const w = l.weight as Tensor | HalfMatrix;
        assert.notEqual(kernelOffset(rt, w.data), undefined, 'the weight data is a kernel array');
        bytes += w.data.byteLength;
      }
      assert.ok(bytes > 0);
      const used = rt.heap.used;
      lm.forward(ids(5, 40));
      // a resident copy would add `bytes`; what may remain is a 5-position KV cache
      assert.ok(rt.heap.used - used < bytes / 2, `heap grew by ${rt.heap.used - used} bytes`);
    });
  }
});
