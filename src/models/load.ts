/** loadModel / loadCausalLM: an HF folder (or an opened HfFolder) → a runnable model. */

import { type HfFolder, openHfFolder } from '../io/hf.js';
import type { RawTensor } from '../io/safetensors.js';
import { isSparseCheckpoint } from '../io/sparse-checkpoint.js';
import { checkKVDType } from '../nn/kvcache.js';
import { BertModel } from './bert.js';
import { CausalModel } from './causal.js';
import { WEIGHT_STORAGES } from './checkpoint.js';
import { attachDeferred } from './deferred.js';
import { Gpt2Model } from './gpt2.js';
import { LlamaModel } from './llama.js';
import { openCheckpoint, SparseCheckpoint } from './sparse-checkpoint.js';
import type { CausalLM, LoadOptions, Model, ModelSource } from './types.js';

function build(folder: HfFolder, opts: LoadOptions): Model {
  const storage = opts.weights ?? (isSparseCheckpoint(folder.weights) ? 'stored' : 'f32');
  if (!WEIGHT_STORAGES.includes(storage)) {
    throw new RangeError(
      `loadModel: weights must be one of ${WEIGHT_STORAGES.join(', ')}, got ${JSON.stringify(opts.weights)}`,
    );
  }
  const kvDtype = opts.kvDtype === undefined ? undefined : checkKVDType(opts.kvDtype, 'loadModel: kvDtype');
  const ckpt = openCheckpoint(folder, storage); // a compact sparse checkpoint is recognised by its header
  if (opts.defer) {
    if (ckpt instanceof SparseCheckpoint || folder.config.modelType === 'bert') {
      throw new TypeError(
        `loadModel: defer streams the block linears of a plain causal-LM folder; ${folder.dir} is ${ckpt instanceof SparseCheckpoint ? 'a compact sparse checkpoint' : 'a BERT model'} (load it without defer)`,
      );
    }
    const which = opts.defer;
    ckpt.deferLinears(typeof which === 'function' ? which : () => true);
  }
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
  if (model instanceof CausalModel) model.kvDtype = kvDtype;
  for (const [k, v] of ckpt.extras()) extras.set(k, v);
  if (ckpt instanceof SparseCheckpoint) ckpt.checkPlacement(model);
  if (ckpt.deferred) {
    ckpt.deferred.bind(model.linears());
    attachDeferred(model, ckpt.deferred);
  }
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
  if (opts.defer) {
    throw new TypeError(
      `loadModel: defer reads weights later from the folder, so pass an opened folder (openHfFolder(${JSON.stringify(dir)})) and close it when done, not a path`,
    );
  }
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
