/** prune layer: one-shot pruners (magnitude, random, Wanda, SparseGPT, DSnoT, structured) and the calibration driver. */
export * from './calibration.js';
export * from './driver.js';
export * from './dsnot.js';
export * from './magnitude.js';
export * from './random.js';
export * from './save.js';
export * from './sparsegpt.js';
export * from './stats.js';
export * from './stream.js';
export * from './structured.js';
export * from './wanda.js';
