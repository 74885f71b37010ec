/** backend layer: dispatch, WebAssembly runtime, thread pool, resident weights, ops. */
export * from './dispatch.js';
export * from './ops/index.js';
export { type KernelCategory, KernelProfile, type KernelTiming, kernelCategory } from './profile.js';
export { inKernelMemory, kernelArray, release, toKernelMemory } from './resident.js';
export { relError, TOL } from './tolerances.js';
export { relaxedSimdSupported, runtime, useRuntime, WasmRuntime, type WasmVariant } from './wasm.js';
