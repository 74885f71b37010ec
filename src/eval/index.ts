/** Evaluation: perplexity with a strided window. */
export * from './perplexity.js';
