/** Registers every op family with the dispatcher (import for side effects) and re-exports their APIs. */
export * from './attention.js';
export * from './bitmask.js';
export * from './bsr.js';
export * from './colsparse.js';
export * from './coo.js';
export * from './csr.js';
export * from './dense.js';
export * from './matmul.js';
export * from './nm.js';
export * from './select.js';
export * from './softmax.js';
