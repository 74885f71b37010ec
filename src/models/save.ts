/** saveModel: write a model back as a Hugging Face folder with the original key names and layout. */

import type { SafeDType } from '../io/dtypes.js';
import { writeHfFolder } from '../io/hf.js';
import type { TensorEntry } from '../io/safetensors-write.js';
import { rawToEntry, type SaveDType, type StateEntry, stateToEntry } from './checkpoint.js';
import type { Model, Savable, SaveState } from './types.js';

/** Options of saveModel. */
export interface SaveOptions {
  /** Dtype of every float tensor; default: each tensor in the dtype it was read in (f32 for new ones). */
  dtype?: 'f32' | 'bf16' | 'f16';
  /** Replace an existing folder at `dir` (default false: an existing folder is an error). */
  overwrite?: boolean;
}

const SAVE_DTYPES: Record<string, SaveDType> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };
const TORCH_DTYPES: Record<SaveDType, string> = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' };

function isSaveDType(d: SafeDType | undefined): d is SaveDType {
  return d === 'F32' || d === 'BF16' || d === 'F16';
}

/**
 * The dtype each state tensor is saved in: `dtype` when given, else the dtype it was read in; tensors with no
 * source dtype (e.g. an untied head) take the checkpoint's most common float dtype.
 */
export function saveDTypes(state: SaveState, dtype?: SaveOptions['dtype']): (name: string) => SaveDType {
  if (dtype !== undefined) return () => SAVE_DTYPES[dtype]!;
  const counts = new Map<SaveDType, number>();
  for (const d of state.dtypes.values()) if (isSaveDType(d)) counts.set(d, (counts.get(d) ?? 0) + 1);
  const common = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
  return (name) => {
    const src = state.dtypes.get(name);
    return isSaveDType(src) ? src : common;
  };
}

/**
 * Write the model as an HF folder (config.json, model.safetensors, generation_config.json and the tokenizer
 * files when the source had them), atomically. Tensors keep their HF names and layout (GPT-2 Conv1D weights
 * [in, out]); sparse and half weights are written dense. Unchanged weights load back bit-identically.
 * A tied LM head whose weight was replaced is written as its own tensor with `tie_word_embeddings: false`.
 *
 * ```ts
 * saveModel(lm, 'out/pruned-smollm', { dtype: 'bf16' });
 * ```
 */
export function saveModel(model: Model, dir: string, opts: SaveOptions = {}): void {
  if (typeof (model as Partial<Savable>)?.saveState !== 'function') {
    throw new TypeError('saveModel: model must come from loadModel or loadCausalLM');
  }
  writeState((model as unknown as Savable).saveState(), dir, opts);
}

/** How writeState lays tensors out (the compact sparse checkpoint packs some weights). */
export interface StateLayout {
  /** The tensors written for state tensor `name` (default: the one dense entry saveModel writes). */
  entries?: (name: string, e: StateEntry, dtype: SaveDType) => Array<[string, TensorEntry]>;
  /**
   * safetensors `__metadata__`, computed after every `entries` call (default `{ format: 'pt' }`); a custom one
   * also keeps the weights in one unsharded file.
   */
  metadata?: () => Record<string, string>;
}

/** Write a model's save state as an HF folder, atomically (saveModel's body; see StateLayout). */
export function writeState(state: SaveState, dir: string, opts: SaveOptions, layout: StateLayout = {}): void {
  if (opts.dtype !== undefined && !Object.hasOwn(SAVE_DTYPES, opts.dtype)) {
    throw new RangeError(`saveModel: dtype must be f32, bf16 or f16, got ${JSON.stringify(opts.dtype)}`);
  }
  const forced = opts.dtype === undefined ? undefined : SAVE_DTYPES[opts.dtype]!;
  const dtypeOf = saveDTypes(state, opts.dtype);
  const entries = new Map<string, TensorEntry>();
  for (const [name, e] of state.tensors) {
    const dtype = dtypeOf(name);
    for (const [n, t] of layout.entries?.(name, e, dtype) ?? [[name, stateToEntry(e, dtype)]])
      entries.set(n, t);
  }
  for (const [name, raw] of state.extras) {
    if (!entries.has(name)) entries.set(name, rawToEntry(raw, forced));
  }
  let config = state.config;
  if (forced !== undefined) {
    const key = 'dtype' in config && !('torch_dtype' in config) ? 'dtype' : 'torch_dtype';
    config = { ...config, [key]: TORCH_DTYPES[forced] };
  }
  writeHfFolder(dir, {
    config,
    weights: entries,
    ...(state.generationConfig ? { generationConfig: state.generationConfig } : {}),
    ...(state.tokenizer ? { tokenizerJson: state.tokenizer.json } : {}),
    ...(state.tokenizer?.configJson !== undefined ? { tokenizerConfig: state.tokenizer.configJson } : {}),
    ...(layout.metadata ? { metadata: layout.metadata(), maxShardBytes: Number.POSITIVE_INFINITY } : {}),
    overwrite: opts.overwrite ?? false,
  });
}
