/**
 * train layer: optimizers (SGD, AdamW) that keep masked weights and their state at zero, learning-rate
 * schedules, gradient clipping, checkpoints and the training loop.
 */
export * from './checkpoint.js';
export * from './lm/index.js';
export * from './loop.js';
export * from './optim.js';
export * from './schedule.js';
