/** Generation over a causal LM: sampler (greedy, temperature, top-k, top-p), stop rules, timing. */
export * from './generate.js';
export type { Decoder } from './model.js';
export * from './warpers.js';
