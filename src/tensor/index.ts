/** tensor layer: dense f32 tensors, storage dtypes, seeded random data. */
export * from './dtype.js';
export * from './random.js';
export * from './tensor.js';
