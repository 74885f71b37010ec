/**
 * sparsekit: sparsity for neural networks in TypeScript.
 * The only public entry point; grouped re-exports of each layer.
 */
/** Reverse-mode autograd as a namespace (its op names — matmul, attention, softmax, gelu — mirror the kernels'). */
export * as autograd from './autograd/index.js';
export * from './backend/index.js';
export * from './data/index.js';
export * from './eval/index.js';
export * from './formats/index.js';
export * from './generate/index.js';
export * from './io/index.js';
export * from './models/index.js';
export * from './nn/index.js';
export * from './prune/index.js';
export * from './sparsity/index.js';
export * from './tensor/index.js';
export * from './train/index.js';
/** The reference model zoo: recipes, vision models (MLP, CNN), on-disk layout, loading by name. */
export * as zoo from './zoo/index.js';
