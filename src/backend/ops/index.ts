/**
 * Registers every op family with the dispatcher (importing a family's module registers its kernels) and
 * exports the public op API. Internals (resident uploads, row splitting, each format's WebAssembly entry
 * point) stay private to the backend: reach a format's kernel through `matmul`.
 */
import './bitmask.js';
import './bsr.js';
import './coo.js';
import './csr.js';
import './csr-half.js';
import './half.js';
import './nm.js';

export {
  activate,
  type KernelActivation,
  rmsNorm,
  type SwigluGrads,
  swigluBackward,
} from './activation.js';
export { type AttentionOptions, attention, cachedAttention, type KVBuffers } from './attention.js';
export { type AttentionGradients, attentionBackward } from './attention-backward.js';
export { activeInputs, columnSparseGemv } from './colsparse.js';
export { setSpmmCopies } from './csr-panels.js';
export { denseMatmulRef } from './dense.js';
export { type MatmulWeight, matmul, matmulShared, weightFormat } from './matmul.js';
export {
  type BandwidthProbe,
  BandwidthProber,
  dramProbeBytes,
  type FmaProbe,
  lastLevelCache,
  multiplyAddRate,
  parseCacheSize,
  readBandwidth,
} from './probe.js';
export { type SparsePattern, sddmm } from './sddmm.js';
export {
  type RowSelection,
  type RowThreshold,
  type Selection,
  type SelectOptions,
  thresholdRows,
  thresholdSelect,
  topk,
  topkMask,
  topkMaskRows,
  topkRows,
} from './select.js';
export { softmax } from './softmax.js';
