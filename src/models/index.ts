/** models layer: GPT-2, the Llama family (Llama, Qwen2, Mistral) and BERT from Hugging Face folders. */
export { BertModel } from './bert.js';
export { type BlockwiseRunner, CausalModel } from './causal.js';
export type { StateEntry, WeightStorage } from './checkpoint.js';
export { DeferredMatrices, DeferredMatrix, deferredMatrices } from './deferred.js';
export { Gpt2Model } from './gpt2.js';
export { LlamaModel } from './llama.js';
export { loadCausalLM, loadModel } from './load.js';
export {
  linearWeightBytes,
  type PhaseProfile,
  PhaseTimer,
  type ProfileOptions,
  profileDecode,
  profilePrefill,
  STEP_PARTS,
  type StepPart,
} from './profile.js';
export { type SaveOptions, saveModel } from './save.js';
export {
  openCheckpoint,
  SparseCheckpoint,
  type SparseSaveOptions,
  type SparseSaveReport,
  saveSparseCheckpoint,
} from './sparse-checkpoint.js';
export type { BertInputs, CausalLM, KVCache, LoadOptions, MaskedLM, Model } from './types.js';
