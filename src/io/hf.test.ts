import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { toBf16 } from '../tensor/dtype.js';
import { randn } from '../tensor/random.js';
import type { Gpt2Config } from './config.js';
import { IoError } from './errors.js';
import { openHfFolder, writeHfFolder } from './hf.js';
import { toFloat32 } from './safetensors.js';
import type { TensorEntry } from './safetensors-write.js';
import { tempDir } from './testing.js';

const { dir: root, cleanup } = tempDir();
after(cleanup);
const at = (name: string) => join(root, name);

/** A 2-layer GPT-2 with HF's key names (Conv1D weights stored [in, out]); `wte` in bf16 to mix dtypes. */
function tinyGpt2(): { config: Record<string, unknown>; weights: Map<string, TensorEntry> } {
  const d = 8;
  const config = {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    n_embd: d,
    n_head: 2,
    n_layer: 2,
    n_positions: 16,
    vocab_size: 11,
    layer_norm_epsilon: 1e-5,
    torch_dtype: 'float32',
  };
  const weights = new Map<string, TensorEntry>();
  let seed = 0;
  const f32 = (name: string, shape: number[]) =>
    weights.set(name, { dtype: 'F32', shape, data: randn(shape, seed++).data });
  weights.set('transformer.wte.weight', {
    dtype: 'BF16',
    shape: [11, d],
    data: toBf16(randn([11, d], seed++).data),
  });
  f32('transformer.wpe.weight', [16, d]);
  for (let l = 0; l < 2; l++) {
    const p = `transformer.h.${l}`;
    f32(`${p}.ln_1.weight`, [d]);
    f32(`${p}.ln_1.bias`, [d]);
    f32(`${p}.attn.c_attn.weight`, [d, 3 * d]);
    f32(`${p}.attn.c_attn.bias`, [3 * d]);
    f32(`${p}.attn.c_proj.weight`, [d, d]);
    f32(`${p}.attn.c_proj.bias`, [d]);
    f32(`${p}.ln_2.weight`, [d]);
    f32(`${p}.ln_2.bias`, [d]);
    f32(`${p}.mlp.c_fc.weight`, [d, 4 * d]);
    f32(`${p}.mlp.c_fc.bias`, [4 * d]);
    f32(`${p}.mlp.c_proj.weight`, [4 * d, d]);
    f32(`${p}.mlp.c_proj.bias`, [d]);
  }
  f32('transformer.ln_f.weight', [d]);
  f32('transformer.ln_f.bias', [d]);
  return { config, weights };
}

/** A word-level tokenizer.json over 11 words (enough to exercise the folder plumbing). */
const WORDS = ['<|endoftext|>', 'the', 'cat', 'sat', 'on', 'mat', 'a', 'dog', 'ran', '.', '[UNK]'];
const tokenizerJson = `${JSON.stringify(
  {
    version: '1.0',
    added_tokens: [
      {
        id: 0,
        content: '<|endoftext|>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(WORDS.map((w, i) => [w, i])),
    },
  },
  null,
  2,
)}\n`;

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Every file of two folders, byte for byte. */
function assertSameFiles(a: string, b: string): void {
  assert.deepEqual(readdirSync(a).sort(), readdirSync(b).sort());
  for (const f of readdirSync(a)) assert.deepEqual(readFileSync(join(a, f)), readFileSync(join(b, f)), f);
}

describe('Hugging Face folders', () => {
  test('write → open gives the same config, bit-identical tensors, the tokenizer and generation config', () => {
    const { config, weights } = tinyGpt2();
    const dir = at('gpt2');
    writeHfFolder(dir, {
      config,
      weights,
      tokenizerJson,
      generationConfig: { eos_token_id: 0, max_new_tokens: 5 },
    });
    assert.deepEqual(readdirSync(dir).sort(), [
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
    ]);
    const m = openHfFolder(dir);
    assert.equal(m.config.modelType, 'gpt2');
    const c = m.config as Gpt2Config;
    assert.deepEqual(
      [c.nEmbd, c.nLayer, c.nHead, c.nInner, c.vocabSize, c.tieWordEmbeddings],
      [8, 2, 2, 32, 11, true],
    );
    assert.deepEqual(m.config.raw, config);
    assert.deepEqual([m.generationConfig?.eosTokenIds, m.generationConfig?.maxNewTokens], [[0], 5]);
    assert.deepEqual(m.weights.metadata, { format: 'pt' });
    assert.deepEqual(new Set(m.weights.names()), new Set(weights.keys()));
    for (const [name, e] of weights) {
      const t = m.weights.readTensor(name);
      assert.deepEqual([t.dtype, t.shape], [e.dtype, e.shape], name);
      assert.deepEqual(bytes(t.data), bytes(e.data as ArrayBufferView), name);
    }
    assert.equal(toFloat32(m.weights.readTensor('transformer.wte.weight')).length, 88);
    assert.deepEqual(m.tokenizer?.encode('the cat sat on a mat .'), [1, 2, 3, 4, 6, 5, 9]);
    assert.equal(m.tokenizer?.eosId, 0); // from generation_config.json: no tokenizer_config.json here
    const config2 = readFileSync(join(dir, 'config.json'), 'utf8');
    assert.ok(
      config2.startsWith('{\n  "architectures": [\n    "GPT2LMHeadModel"\n  ],\n  "layer_norm_epsilon"'),
      config2,
    );

    // Copy the opened folder (weights streamed tensor by tensor): every file comes out byte-identical.
    const copy = at('gpt2-copy');
    writeHfFolder(copy, {
      config: m.config,
      weights: m.weights,
      generationConfig: m.generationConfig,
      tokenizerJson: m.tokenizer?.json,
    });
    m.close();
    assertSameFiles(dir, copy);
  });

  test('sharded write → open → re-write is bit-identical', () => {
    const { config, weights } = tinyGpt2();
    const dir = at('sharded');
    writeHfFolder(dir, { config, weights, maxShardBytes: 1500 });
    const files = readdirSync(dir).sort();
    assert.ok(files.includes('model.safetensors.index.json'), files.join());
    assert.ok(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length > 2, files.join());
    const m = openHfFolder(dir);
    assert.equal(m.tokenizer, undefined);
    assert.equal(m.generationConfig, undefined);
    for (const [name, e] of weights)
      assert.deepEqual(bytes(m.weights.readTensor(name).data), bytes(e.data as ArrayBufferView), name);
    const copy = at('sharded-copy');
    writeHfFolder(copy, { config: m.config, weights: m.weights }); // a WeightSource keeps its shard layout
    m.close();
    assertSameFiles(dir, copy);
  });

  test('an existing folder is replaced only with overwrite; a failed write leaves it as it was', () => {
    const { config, weights } = tinyGpt2();
    const dir = at('replace');
    writeHfFolder(dir, { config, weights });
    const before = readFileSync(join(dir, 'model.safetensors'));
    assert.throws(
      () => writeHfFolder(dir, { config, weights }),
      /already exists; pass \{ overwrite: true \}/,
    );
    const failing = new Map(weights);
    failing.set('lm_head.weight', {
      dtype: 'F32',
      shape: [11, 8],
      data: () => {
        throw new Error('out of memory');
      },
    });
    assert.throws(() => writeHfFolder(dir, { config, weights: failing, overwrite: true }), /out of memory/);
    assert.deepEqual(readFileSync(join(dir, 'model.safetensors')), before);
    assert.deepEqual(
      readdirSync(root).filter((f) => f.startsWith('.replace')),
      [],
    );
    const smaller = new Map([...weights].slice(0, 3));
    writeHfFolder(dir, { config, weights: smaller, overwrite: true });
    const m = openHfFolder(dir);
    assert.equal(m.weights.names().length, 3);
    m.close();
  });

  test('an invalid config is refused before anything is written', () => {
    const dir = at('invalid');
    assert.throws(
      () => writeHfFolder(dir, { config: { model_type: 'gpt2', n_head: 0 }, weights: {} }),
      /invalid\/config.json: "n_head" must be an integer ≥ 1/,
    );
    assert.throws(
      () =>
        writeHfFolder(dir, { config: { model_type: 'gpt2' }, weights: {}, generationConfig: { top_k: -1 } }),
      /"top_k"/,
    );
    assert.equal(existsSync(dir), false);
  });

  test('opening errors name what is missing', () => {
    const dir = at('bare');
    mkdirSync(dir);
    writeFileSync(join(dir, 'pytorch_model.bin'), '');
    assert.throws(
      () => openHfFolder(dir),
      (e: unknown) =>
        e instanceof IoError && /has no config.json \(it has: pytorch_model.bin\)/.test(e.message),
    );
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
    assert.throws(
      () => openHfFolder(dir),
      /has neither model.safetensors nor model.safetensors.index.json; it has pytorch_model.bin/,
    );
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 't5' }));
    assert.throws(() => openHfFolder(dir), /bare\/config.json: model_type "t5" is not supported/);
    assert.throws(() => openHfFolder(at('nowhere')), /nowhere: is not a folder/);
  });
});
