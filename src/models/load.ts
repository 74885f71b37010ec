/** loadModel / loadCausalLM: an HF folder (or an opened HfFolder) → a runnable model. */

import { type HfFolder, openHfFolder } from '../io/hf.js';
import type { RawTensor } from '../io/safetensors.js';
import { BertModel } from './bert.js';
import { WEIGHT_STORAGES } from './checkpoint.js';
import { Gpt2Model } from './gpt2.js';
import { LlamaModel } from './llama.js';
import { openCheckpoint, SparseCheckpoint } from './sparse-checkpoint.js';
import type { CausalLM, LoadOptions, Model, ModelSource } from './types.js';

function build(folder: HfFolder, opts: LoadOptions): Model {
  const storage = opts.weights ?? 'f32';
  if (!WEIGHT_STORAGES.includes(storage)) {
    throw new RangeError(
      `loadModel: weights must be one of ${WEIGHT_STORAGES.join(', ')}, got ${JSON.stringify(opts.weights)}`,
    );
  }
  const ckpt = openCheckpoint(folder, storage); // a compact sparse checkpoint is recognised by its header
  const extras = new Map<string, RawTensor>();
  const source: ModelSource = {
    dtypes: ckpt.dtypes,
    extras,
    generationConfig: folder.generationConfig,
    tokenizer: folder.tokenizer,
  };
  const config = folder.config;
  let model: Model;
  switch (config.modelType) {
    case 'gpt2':
      model = new Gpt2Model(config, ckpt, ckpt.has('transformer.wte.weight') ? 'transformer.' : '', source);
      break;
    case 'llama':
    case 'qwen2':
    case 'mistral':
      model = new LlamaModel(config, ckpt, source);
      break;
    case 'bert':
      model = new BertModel(
        config,
        ckpt,
        ckpt.has('bert.embeddings.word_embeddings.weight') ? 'bert.' : '',
        source,
      );
      break;
  }
  for (const [k, v] of ckpt.extras()) extras.set(k, v);
  if (ckpt instanceof SparseCheckpoint) ckpt.checkPlacement(model);
  return model;
}

/**
 * Load a model from a Hugging Face folder (config.json + safetensors, single or sharded): GPT-2, Llama,
 * Qwen2, Mistral (→ CausalLM) or BERT (→ MaskedLM). Given an opened HfFolder, leaves it open.
 *
 * ```ts
 * const lm = loadModel('models/SmolLM-135M', { weights: 'stored' });
 * if (lm.kind === 'causal') lm.forward([1, 2, 3]); // logits [3, vocab]
 * ```
 */
export function loadModel(dir: string | HfFolder, opts: LoadOptions = {}): Model {
  if (typeof dir !== 'string') return build(dir, opts);
  const folder = openHfFolder(dir);
  try {
    return build(folder, opts);
  } finally {
    folder.close();
  }
}

/** loadModel for a decoder-only model; a BERT folder is an error. */
export function loadCausalLM(dir: string | HfFolder, opts: LoadOptions = {}): CausalLM {
  const m = loadModel(dir, opts);
  if (m.kind !== 'causal') {
    const where = typeof dir === 'string' ? dir : dir.dir;
    throw new TypeError(
      `loadCausalLM: ${where} holds a ${m.config.modelType} model, which is not a causal LM (use loadModel for BERT)`,
    );
  }
  return m;
}
