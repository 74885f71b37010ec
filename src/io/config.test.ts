import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type LlamaFamilyConfig, type ModelConfig, parseConfig } from './config.js';
import { IoError } from './errors.js';
import { generationConfigFromModel, parseGenerationConfig } from './generation.js';
import { ropeInverseFrequencies } from './rope.js';

/** Everything but `raw`, for comparing parsed fields. */
function fields(c: ModelConfig): Record<string, unknown> {
  const { raw: _raw, ...rest } = c;
  return rest;
}

function rejects(raw: unknown, fragments: string[]): void {
  assert.throws(
    () => parseConfig(raw, 'models/x/config.json'),
    (e: unknown) => {
      assert.ok(e instanceof IoError, String(e));
      assert.ok(e.message.startsWith('models/x/config.json: '), e.message);
      for (const s of fragments) assert.ok(e.message.includes(s), `"${e.message}" lacks "${s}"`);
      return true;
    },
  );
}

describe('config.json defaults are transformers’ defaults', () => {
  test('gpt2: an empty config is GPT-2 small', () => {
    assert.deepEqual(fields(parseConfig({ model_type: 'gpt2' })), {
      modelType: 'gpt2',
      vocabSize: 50257,
      tieWordEmbeddings: true,
      bosTokenId: 50256,
      eosTokenIds: [50256],
      padTokenId: null,
      dtype: null,
      nEmbd: 768,
      nLayer: 12,
      nHead: 12,
      nPositions: 1024,
      nInner: 3072,
      headDim: 64,
      layerNormEpsilon: 1e-5,
      activation: 'gelu_tanh',
      scaleAttnWeights: true,
      scaleAttnByInverseLayerIdx: false,
    });
  });

  test('gpt2: n_inner null means 4·n_embd; hidden_size and friends alias the n_* names', () => {
    const c = parseConfig({
      model_type: 'gpt2',
      hidden_size: 64,
      num_attention_heads: 4,
      num_hidden_layers: 2,
      max_position_embeddings: 32,
      n_inner: null,
    });
    assert.equal(c.modelType, 'gpt2');
    if (c.modelType !== 'gpt2') return;
    assert.deepEqual(
      [c.nEmbd, c.nHead, c.nLayer, c.nPositions, c.nInner, c.headDim],
      [64, 4, 2, 32, 256, 16],
    );
  });

  test('llama: LlamaConfig() defaults (Llama-2-7B shapes, no GQA, rope_theta 10000)', () => {
    assert.deepEqual(fields(parseConfig({ model_type: 'llama' })), {
      modelType: 'llama',
      vocabSize: 32000,
      tieWordEmbeddings: false,
      bosTokenId: 1,
      eosTokenIds: [2],
      padTokenId: null,
      dtype: null,
      hiddenSize: 4096,
      intermediateSize: 11008,
      numHiddenLayers: 32,
      numAttentionHeads: 32,
      numKeyValueHeads: 32,
      headDim: 128,
      rmsNormEps: 1e-6,
      rope: { type: 'default', theta: 10000 },
      maxPositionEmbeddings: 2048,
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      activation: 'silu',
    });
  });

  test('llama: SmolLM-135M’s config.json', () => {
    const c = parseConfig({
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      bos_token_id: 0,
      eos_token_id: 0,
      hidden_act: 'silu',
      hidden_size: 576,
      intermediate_size: 1536,
      max_position_embeddings: 2048,
      model_type: 'llama',
      num_attention_heads: 9,
      num_hidden_layers: 30,
      num_key_value_heads: 3,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 10000.0,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      vocab_size: 49152,
    }) as LlamaFamilyConfig;
    assert.deepEqual(
      [
        c.headDim,
        c.numKeyValueHeads,
        c.tieWordEmbeddings,
        c.bosTokenId,
        c.eosTokenIds,
        c.dtype,
        c.rmsNormEps,
      ],
      [64, 3, true, 0, [0], 'bfloat16', 1e-5],
    );
  });

  test('llama: explicit head_dim, attention_bias, mlp_bias, eos list, transformers 5 "dtype"', () => {
    const c = parseConfig({
      model_type: 'llama',
      hidden_size: 64,
      num_attention_heads: 4,
      head_dim: 32,
      attention_bias: true,
      mlp_bias: true,
      eos_token_id: [128001, 128008, 128009],
      dtype: 'float32',
    }) as LlamaFamilyConfig;
    assert.deepEqual(
      [c.headDim, c.qkvBias, c.oBias, c.mlpBias, c.eosTokenIds, c.dtype],
      [32, true, true, true, [128001, 128008, 128009], 'float32'],
    );
    assert.equal(
      (
        parseConfig({
          model_type: 'llama',
          head_dim: null,
          hidden_size: 64,
          num_attention_heads: 4,
        }) as LlamaFamilyConfig
      ).headDim,
      16,
    );
  });

  test('qwen2: QKV bias, 32 kv heads, no bos/eos; a disabled sliding window is fine', () => {
    const c = parseConfig({
      model_type: 'qwen2',
      use_sliding_window: false,
      sliding_window: 4096,
    }) as LlamaFamilyConfig;
    assert.deepEqual(
      [
        c.qkvBias,
        c.oBias,
        c.numKeyValueHeads,
        c.vocabSize,
        c.maxPositionEmbeddings,
        c.bosTokenId,
        c.eosTokenIds,
      ],
      [true, false, 32, 151936, 32768, null, []],
    );
    assert.equal(
      (parseConfig({ model_type: 'qwen2', attention_bias: false }) as LlamaFamilyConfig).qkvBias,
      true,
    );
  });

  test('mistral: 8 kv heads, full attention when sliding_window is null or covers the context', () => {
    const c = parseConfig({ model_type: 'mistral', sliding_window: null }) as LlamaFamilyConfig;
    assert.deepEqual([c.numKeyValueHeads, c.intermediateSize, c.maxPositionEmbeddings], [8, 14336, 131072]);
    parseConfig({ model_type: 'mistral', sliding_window: 32768, max_position_embeddings: 32768 });
  });

  test('bert: BertConfig() defaults (bert-base)', () => {
    assert.deepEqual(fields(parseConfig({ model_type: 'bert' })), {
      modelType: 'bert',
      vocabSize: 30522,
      tieWordEmbeddings: true,
      bosTokenId: null,
      eosTokenIds: [],
      padTokenId: 0,
      dtype: null,
      hiddenSize: 768,
      numHiddenLayers: 12,
      numAttentionHeads: 12,
      headDim: 64,
      intermediateSize: 3072,
      typeVocabSize: 2,
      layerNormEps: 1e-12,
      maxPositionEmbeddings: 512,
      activation: 'gelu',
    });
  });
});

describe('rope parameters', () => {
  test('rope_theta + rope_scaling (transformers 4) and rope_parameters (transformers 5)', () => {
    const rope = (raw: object) => (parseConfig({ model_type: 'llama', ...raw }) as LlamaFamilyConfig).rope;
    assert.deepEqual(rope({ rope_theta: 500000 }), { type: 'default', theta: 500000 });
    assert.deepEqual(rope({ rope_scaling: { type: 'linear', factor: 2.0 } }), {
      type: 'linear',
      theta: 10000,
      factor: 2,
    });
    assert.deepEqual(rope({ rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }), {
      type: 'default',
      theta: 1e6,
    });
    assert.deepEqual(
      rope({
        rope_theta: 500000,
        rope_scaling: {
          factor: 8.0,
          low_freq_factor: 1.0,
          high_freq_factor: 4.0,
          original_max_position_embeddings: 8192,
          rope_type: 'llama3',
        },
      }),
      {
        type: 'llama3',
        theta: 500000,
        factor: 8,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositionEmbeddings: 8192,
      },
    );
  });

  test('unsupported or incomplete scaling is an error, not a silent default', () => {
    rejects({ model_type: 'llama', rope_scaling: { rope_type: 'yarn', factor: 4 } }, [
      '"rope_scaling" has rope type "yarn"',
      'default, linear and llama3',
    ]);
    rejects({ model_type: 'qwen2', rope_scaling: { type: 'dynamic', factor: 2 } }, ['"dynamic"']);
    rejects({ model_type: 'llama', rope_scaling: { rope_type: 'llama3', factor: 8 } }, [
      'of type "llama3" is missing "low_freq_factor"',
    ]);
    rejects({ model_type: 'llama', rope_scaling: { rope_type: 'linear' } }, ['is missing "factor"']);
    rejects({ model_type: 'llama', rope_scaling: 'linear' }, ['"rope_scaling" must be null or an object']);
  });

  test('inverse frequencies: default and linear', () => {
    assert.deepEqual(
      [...ropeInverseFrequencies({ type: 'default', theta: 10000 }, 4)],
      [1, Math.fround(0.01)],
    );
    assert.deepEqual(
      [...ropeInverseFrequencies({ type: 'linear', theta: 10000, factor: 4 }, 4)],
      [0.25, Math.fround(0.0025)],
    );
    assert.throws(() => ropeInverseFrequencies({ type: 'default', theta: 10000 }, 5), /even integer/);
  });

  test('inverse frequencies: llama3 keeps high frequencies, divides low ones by factor, blends between', () => {
    const rope = {
      type: 'llama3',
      theta: 500000,
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    } as const;
    const got = ropeInverseFrequencies(rope, 128); // f32 steps vs an f64 reference: a few ulps apart
    const regimes = new Set<string>();
    for (let i = 0; i < 64; i++) {
      const inv = 1 / 500000 ** ((2 * i) / 128);
      const wavelen = (2 * Math.PI) / inv;
      let want: number;
      if (wavelen < 8192 / 4) {
        want = inv;
        regimes.add('high');
      } else if (wavelen > 8192 / 1) {
        want = inv / 8;
        regimes.add('low');
      } else {
        const s = (8192 / wavelen - 1) / (4 - 1);
        want = ((1 - s) * inv) / 8 + s * inv;
        regimes.add('mid');
      }
      assert.ok(Math.abs(got[i]! - want) <= 1e-6 * want, `i=${i}: ${got[i]} vs ${want}`);
    }
    assert.deepEqual(regimes, new Set(['high', 'mid', 'low']));
  });
});

describe('config.json errors name the field', () => {
  test('unknown or missing model_type', () => {
    rejects({ model_type: 'phi3' }, [
      'model_type "phi3" is not supported',
      'gpt2, llama, qwen2, mistral, bert',
    ]);
    rejects({ hidden_size: 8 }, ['missing the required field "model_type"']);
    rejects([1], ['must be a JSON object']);
  });

  test('wrong types and inconsistent sizes', () => {
    rejects({ model_type: 'gpt2', n_head: '12' }, ['"n_head" must be an integer ≥ 1, got "12"']);
    rejects({ model_type: 'gpt2', n_embd: 100, n_head: 12 }, [
      '"n_embd" 100 is not a multiple of "n_head" 12',
    ]);
    rejects({ model_type: 'llama', num_attention_heads: 9, num_key_value_heads: 2, hidden_size: 576 }, [
      '"num_attention_heads" 9 is not a multiple of "num_key_value_heads" 2',
    ]);
    rejects({ model_type: 'llama', rms_norm_eps: 0 }, ['"rms_norm_eps" must be a finite number > 0']);
    rejects({ model_type: 'llama', tie_word_embeddings: 1 }, ['"tie_word_embeddings" must be true or false']);
    rejects({ model_type: 'llama', eos_token_id: [2, 'x'] }, ['"eos_token_id" must be a token id or a list']);
    rejects({ model_type: 'llama', hidden_act: 'quick_gelu' }, [
      '"hidden_act" must be one of gelu, gelu_new',
    ]);
    rejects({ model_type: 'bert', position_embedding_type: 'relative_key' }, [
      '"position_embedding_type" is "relative_key"',
    ]);
  });

  test('an active sliding window is an error that says how to run with full attention', () => {
    rejects({ model_type: 'mistral' }, [
      '"sliding_window" 4096 is shorter than "max_position_embeddings" 131072',
      'set "sliding_window": null',
    ]);
    rejects(
      {
        model_type: 'qwen2',
        use_sliding_window: true,
        sliding_window: 4096,
        max_window_layers: 20,
        num_hidden_layers: 24,
      },
      ['"use_sliding_window" is true', 'from layer 20'],
    );
    rejects({ model_type: 'llama', layer_types: ['full_attention', 'sliding_attention'] }, [
      '"layer_types" has non-full-attention layers',
    ]);
  });
});

describe('generation_config.json', () => {
  test('defaults, eos lists, and what transformers derives from config.json when the file is absent', () => {
    const g = parseGenerationConfig({
      bos_token_id: 128000,
      eos_token_id: [128001, 128009],
      do_sample: true,
      temperature: 0.6,
      top_p: 0.9,
    });
    assert.deepEqual(
      [
        g.bosTokenId,
        g.eosTokenIds,
        g.doSample,
        g.temperature,
        g.topP,
        g.topK,
        g.maxLength,
        g.maxNewTokens,
        g.padTokenId,
      ],
      [128000, [128001, 128009], true, 0.6, 0.9, 50, 20, null, null],
    );
    const d = generationConfigFromModel(parseConfig({ model_type: 'gpt2' }));
    assert.deepEqual(
      [d.bosTokenId, d.eosTokenIds, d.doSample, d.temperature, d.topK, d.topP],
      [50256, [50256], false, 1, 50, 1],
    );
  });

  test('errors name the field', () => {
    assert.throws(
      () => parseGenerationConfig({ top_p: 0 }),
      /generation_config.json: "top_p" must be a number in/,
    );
    assert.throws(
      () => parseGenerationConfig({ do_sample: true, temperature: 0 }),
      /"temperature" must be a number > 0 when "do_sample" is true/,
    );
    assert.throws(() => parseGenerationConfig({ top_k: -1 }), /"top_k" must be an integer ≥ 0/);
  });
});
