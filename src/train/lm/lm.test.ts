// TrainableLM: HF init statistics, loading every causal checkpoint loadModel reads, save → loadModel with the
// same logits, a tied head as one parameter, the ignore index, masks and sparse weights through training steps.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { backward, noGrad } from '../../autograd/tape.js';
import { csrFromDense } from '../../formats/csr.js';
import { tempDir } from '../../io/testing.js';
import { type CausalLM, loadCausalLM } from '../../models/index.js';
import { type TinyKind, writeTinyModel } from '../../models/testing.js';
import { Tensor } from '../../tensor/tensor.js';
import { AdamW } from '../optim.js';
import { TrainableLM } from './model.js';

const tmp = tempDir();
after(() => tmp.cleanup());
let n = 0;
const fresh = (what: string) => join(tmp.dir, `${what}-${n++}`);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return e;
}

function stats(d: Float32Array): { mean: number; std: number } {
  let s = 0;
  for (const v of d) s += v;
  const mean = s / d.length;
  let q = 0;
  for (const v of d) q += (v - mean) ** 2;
  return { mean, std: Math.sqrt(q / d.length) };
}

const ids = (T: number, V: number, seed = 1) =>
  Array.from({ length: T }, (_, i) => (i * 7 + seed * 13 + i * i) % V);

const GPT2 = { model_type: 'gpt2', vocab_size: 64, n_embd: 32, n_layer: 3, n_head: 4, n_positions: 32 };
const LLAMA = {
  model_type: 'llama',
  vocab_size: 60,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  tie_word_embeddings: false,
  initializer_range: 0.05,
};

describe('TrainableLM.init', () => {
  test("GPT-2: transformers' init (std 0.02, c_proj std/√(2·n_layer), zero biases, unit LayerNorms), seeded", () => {
    const lm = TrainableLM.init(GPT2, 7);
    const p = (k: string) => lm.params.get(`transformer.${k}`)!.value.data;
    const fc = stats(p('h.0.mlp.c_fc.weight'));
    assert.ok(Math.abs(fc.std - 0.02) < 0.001 && Math.abs(fc.mean) < 0.001, JSON.stringify(fc));
    const proj = stats(p('h.1.mlp.c_proj.weight'));
    assert.ok(Math.abs(proj.std - 0.02 / Math.sqrt(6)) < 0.0006, JSON.stringify(proj));
    assert.ok(Math.abs(stats(p('h.2.attn.c_proj.weight')).std - 0.02 / Math.sqrt(6)) < 0.0008);
    assert.ok(Math.abs(stats(p('wte.weight')).std - 0.02) < 0.001);
    assert.ok(p('h.0.attn.c_attn.bias').every((v) => v === 0));
    assert.ok(p('ln_f.weight').every((v) => v === 1) && p('ln_f.bias').every((v) => v === 0));
    assert.ok(!lm.params.has('lm_head.weight'), 'GPT-2 ties its head: no second parameter');
    assert.deepEqual(lm.params.get('transformer.h.0.mlp.c_fc.weight')!.shape, [128, 32]); // [out, in]
    assert.deepEqual(TrainableLM.init(GPT2, 7).logits([1, 2, 3]).data, lm.logits([1, 2, 3]).data);
    assert.ok(
      maxAbsDiff(
        TrainableLM.init(GPT2, 8).params.get('transformer.wte.weight')!.value.data,
        p('wte.weight'),
      ) > 0,
    );
  });

  test('Llama: initializer_range from config.json, RMSNorm weights 1, padding row 0, a BERT config refused', () => {
    const lm = TrainableLM.init({ ...LLAMA, pad_token_id: 5 }, 1);
    assert.ok(
      Math.abs(stats(lm.params.get('model.layers.1.mlp.down_proj.weight')!.value.data).std - 0.05) < 0.003,
    );
    assert.ok(lm.params.get('model.norm.weight')!.value.data.every((v) => v === 1));
    assert.ok(
      lm.params
        .get('model.embed_tokens.weight')!
        .value.data.subarray(5 * 32, 6 * 32)
        .every((v) => v === 0),
    );
    assert.equal(lm.linearNames().at(-1), 'lm_head.weight');
    assert.equal(lm.linearNames().length, 2 * 7 + 1);
    assert.throws(
      () =>
        TrainableLM.init({ model_type: 'bert', vocab_size: 10, hidden_size: 8, num_attention_heads: 2 }, 1),
      /bert model; only causal LMs/,
    );
  });
});

describe('TrainableLM: HF folders in and out', () => {
  const kinds: TinyKind[] = ['gpt2', 'gpt2-bare', 'llama', 'llama-bias', 'qwen2', 'mistral'];
  for (const kind of kinds) {
    test(`${kind}: fromHfFolder computes loadModel's logits; save → loadModel computes the trainable logits`, () => {
      const src = fresh(kind);
      writeTinyModel(src, kind, kind === 'llama' ? { dtype: 'BF16' } : {});
      const lm = TrainableLM.fromHfFolder(src);
      const x = ids(9, lm.config.vocabSize);
      const ref = loadCausalLM(src).forward(x);
      assert.ok(maxAbsDiff(lm.logits(x).data, ref.data) <= 1e-4);
      // train one step so the saved weights differ from the source, then save and reload
      const opt = new AdamW(lm.parameters(), { lr: 1e-2 });
      backward(lm.lossOn([x, ids(9, lm.config.vocabSize, 2)]));
      opt.step();
      const out = fresh(`${kind}-saved`);
      lm.save(out);
      const back: CausalLM = loadCausalLM(out);
      const got = back.forward(x);
      assert.ok(maxAbsDiff(got.data, ref.data) > 1e-3, 'the step changed the model');
      assert.ok(maxAbsDiff(got.data, lm.logits(x).data) <= 1e-4);
      assert.ok(existsSync(join(out, 'generation_config.json')), 'the source generation config is kept');
    });
  }

  test('init → save → loadModel, Llama with GQA and a bf16 folder; an existing folder is refused', () => {
    const lm = TrainableLM.init(LLAMA, 3);
    const dir = fresh('init');
    lm.save(dir);
    const x = ids(12, 60);
    assert.ok(maxAbsDiff(loadCausalLM(dir).forward(x).data, lm.logits(x).data) <= 1e-4);
    assert.throws(() => lm.save(dir), /exists/);
    const half = fresh('bf16');
    lm.save(half, { dtype: 'bf16' });
    const back = loadCausalLM(half);
    assert.equal(back.config.dtype, 'bfloat16');
    assert.ok(maxAbsDiff(back.forward(x).data, lm.logits(x).data) <= 5e-3);
  });
});

describe('TrainableLM: loss and gradients', () => {
  test('lossOn is the mean next-token cross-entropy; ignored labels drop out of the mean', () => {
    const lm = TrainableLM.init({ ...LLAMA, initializer_range: 0.3 }, 2);
    const a = ids(8, 60, 1);
    const b = ids(8, 60, 2);
    const logits = lm.logits(a);
    let nll = 0;
    for (let t = 0; t < 7; t++) {
      const row = logits.data.subarray(t * 60, (t + 1) * 60);
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
      nll += lse - row[a[t + 1]!]!;
    }
    const single = lm.lossOn([a]).value.data[0]!;
    assert.ok(Math.abs(single - nll / 7) < 1e-4, `${single} vs ${nll / 7}`);
    // row b fully ignored: the batch loss is row a's loss
    const labels = [a, b.map(() => -100)];
    assert.ok(Math.abs(lm.lossOn([a, b], { labels }).value.data[0]! - single) < 1e-5);
    assert.throws(() => lm.lossOn([a, b.slice(1)]), /row 1 has 7 tokens/);
  });

  test('a tied head is one parameter whose gradient sums the embedding and the head use', () => {
    const lm = TrainableLM.init({ ...LLAMA, tie_word_embeddings: true, initializer_range: 0.3 }, 4);
    assert.ok(!lm.params.has('lm_head.weight'));
    const x = [3, 9, 4, 9, 12];
    backward(lm.lossOn([x]));
    const g = lm.params.get('model.embed_tokens.weight')!.grad!.data;
    const row = (r: number) => g.subarray(r * 32, (r + 1) * 32);
    assert.ok(
      row(40).some((v) => v !== 0),
      'a token never input still gets the head gradient',
    );
    // finite difference along the whole table agrees with both uses summed
    const w = lm.params.get('model.embed_tokens.weight')!;
    const dir = Float32Array.from(w.value.data, (_, i) => 0.1 * Math.sin(i));
    const f = (s: number) => {
      const saved = w.value.data.slice();
      for (let i = 0; i < saved.length; i++) w.value.data[i] = saved[i]! + s * dir[i]!;
      w.changed();
      const l = noGrad(() => lm.lossOn([x]).value.data[0]!);
      w.value.data.set(saved);
      w.changed();
      return l;
    };
    const eps = 1e-2;
    const numeric = (f(eps) - f(-eps)) / (2 * eps);
    let analytic = 0;
    for (let i = 0; i < g.length; i++) analytic += g[i]! * dir[i]!;
    assert.ok(
      Math.abs(numeric - analytic) < 2e-3 * Math.max(1, Math.abs(analytic)),
      `${numeric} vs ${analytic}`,
    );
  });

  test('the padding token sends no gradient to its embedding row (nn.Embedding padding_idx)', () => {
    const lm = TrainableLM.init({ ...LLAMA, pad_token_id: 0, initializer_range: 0.3 }, 5);
    backward(lm.lossOn([[7, 0, 0, 8, 9]]));
    assert.ok(
      lm.params
        .get('model.embed_tokens.weight')!
        .grad!.data.subarray(0, 32)
        .every((v) => v === 0),
    );
    assert.ok(
      lm.params
        .get('model.embed_tokens.weight')!
        .grad!.data.subarray(7 * 32, 8 * 32)
        .some((v) => v !== 0),
    );
  });

  test('masked linear weights stay zero through AdamW steps and the loss falls; a CSR weight trains the same', () => {
    const make = () => TrainableLM.init({ ...GPT2, initializer_range: 0.1 }, 9);
    const name = 'transformer.h.1.mlp.c_fc.weight';
    const keep = new Uint8Array(128 * 32).map((_, i) => (i % 3 === 0 ? 1 : 0));
    const masked = make();
    masked.setMask(name, keep);
    const sparse = make();
    const dense = new Tensor(
      sparse.params.get(name)!.value.data.map((v, i) => v * keep[i]!),
      [128, 32],
    );
    sparse.setSparse(name, csrFromDense(dense));
    const batch = [ids(16, 64, 1), ids(16, 64, 3)];
    const run = (lm: TrainableLM) => {
      const opt = new AdamW(lm.parameters(), { lr: 1e-2 });
      const losses: number[] = [];
      for (let s = 0; s < 6; s++) {
        const loss = lm.lossOn(batch);
        losses.push(loss.value.data[0]!);
        backward(loss);
        opt.step();
        opt.zeroGrad();
      }
      return losses;
    };
    const lm = run(masked);
    const ls = run(sparse);
    assert.ok(lm[5]! < lm[0]! - 0.1, `loss fell: ${lm}`);
    const w = masked.params.get(name)!.value.data;
    assert.ok(
      w.every((v, i) => keep[i] === 1 || v === 0),
      'weights off the mask stay exactly zero',
    );
    ls.forEach((l, i) => {
      assert.ok(Math.abs(l - lm[i]!) < 1e-4, `step ${i}: sparse ${l} vs masked ${lm[i]}`);
    });
    assert.throws(() => masked.setMask('transformer.wte.weight', keep), /not a linear weight/);
    // the sparse model saves dense and reloads to the same logits
    const dir = fresh('sparse-save');
    sparse.save(dir);
    const x = ids(10, 64);
    assert.ok(maxAbsDiff(loadCausalLM(dir).forward(x).data, sparse.logits(x).data) <= 1e-4);
  });
});
