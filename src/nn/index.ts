/** nn layer: Linear (any weight format), Embedding, norms, activations, RoPE, attention, KV cache, MLPs. */
export * from './activation.js';
export * from './attention.js';
export * from './embedding.js';
export * from './kvcache.js';
export * from './linear.js';
export * from './mlp.js';
export * from './norm.js';
export { addInPlace, addRowVector, transposeData } from './ops.js';
export * from './rope.js';
