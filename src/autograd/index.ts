/**
 * autograd layer: tape-based reverse mode over the ops the models use. Every rule is a small function that
 * computes its forward (through the kernels for products and attention) and records its backward; each is
 * checked by `gradcheck` in the tests.
 */
export * from './attention.js';
export * from './conv.js';
export * from './elementwise.js';
export * from './embedding.js';
export * from './gradcheck.js';
export * from './linear.js';
export * from './loss.js';
export * from './norm.js';
export * from './pattern.js';
export * from './rng.js';
export * from './shape.js';
export * from './tape.js';
