/** Trainable causal LMs (GPT-2, Llama family) keyed by Hugging Face parameter names. */
export { type LmSaveOptions, type LossOptions, type TokenBatch, TrainableLM } from './model.js';
export {
  gpt2Specs,
  initializerRange,
  llamaSpecs,
  type ParamInit,
  type ParamSpec,
  type TrainableConfig,
} from './spec.js';
