/** io layer: safetensors files and shards, Hugging Face model folders, configs, tokenizers. */
export * from './config.js';
export {
  arrayMatchesDType,
  DTYPES,
  type DTypeTraits,
  isSafeDType,
  type SafeDType,
  type TensorArray,
} from './dtypes.js';
export { IoError } from './errors.js';
export * from './generation.js';
export * from './hf.js';
export * from './rope.js';
export * from './safetensors.js';
export * from './safetensors-write.js';
export * from './sharded.js';
export * from './sparse-checkpoint.js';
export * from './tokenizer.js';
