/**
 * Kernel benchmark cases as data: each case says what is multiplied (shape, batch, format, sparsity,
 * threads, implementation) and carries `flops()` and `bytes()`, so tests and the runner share one model
 * of the work and traffic a call does.
 */

/**
 * The weight storage a case runs on (`dense` is sparsekit's dense f32 Tensor or onnxruntime's initializer;
 * `bf16` / `f16` are sparsekit's dense half-precision HalfMatrix).
 */
export type WeightFormat = 'dense' | 'csr' | 'csr_bf16' | 'coo' | 'bitmask' | 'bsr' | 'nm' | 'bf16' | 'f16';

/** How the zeros are placed: none, anywhere, in whole blocks, N of every M, or whole inactive inputs. */
export type SparsityPattern = 'dense' | 'unstructured' | 'block' | 'nm' | 'inputs';

/** Who computes: sparsekit's public API or onnxruntime-node's dense MatMul (the peer). */
export type Impl = 'sparsekit' | 'onnxruntime';

/** onnxruntime operand order: `xw` = x[N,K]·Wᵀ[K,M] (pre-packed constant B), `wx` = W[M,K]·x[K,N]. */
export type PeerLayout = 'xw' | 'wx';

/** `matmul` = W[M,K]·B[K,N]; `gemm` = the dense 1024³ compute-bound probe; `colsparse_gemv` = y = W[:,S]·x[S]. */
export type KernelOp = 'matmul' | 'gemm' | 'colsparse_gemv';

/** Everything that identifies one timed configuration. */
export interface KernelCaseSpec {
  op: KernelOp;
  impl: Impl;
  format: WeightFormat;
  pattern: SparsityPattern;
  /** Weight rows (output features). */
  M: number;
  /** Weight columns (input features). */
  K: number;
  /** Batch: columns of the right-hand side (1 = GEMV / SpMV). */
  N: number;
  /** Fraction of weights that are zero (for `inputs`: fraction of inputs that are inactive). */
  sparsity: number;
  /** BSR block [r, c] (pattern `block`). */
  block?: [number, number];
  /** N:M group [n, m] (pattern `nm`), e.g. [2, 4]. */
  nm?: [number, number];
  /** onnxruntime operand order (impl `onnxruntime` only). */
  layout?: PeerLayout;
  threads: number;
  /** Which timing pass of a baseline this is: baselines run again after a shape's sparse cases (2). */
  pass?: number;
}

/** A case: its spec plus the work and traffic model. */
export interface KernelCase extends KernelCaseSpec {
  /** A short unique name, e.g. `matmul 4096x4096 N=8 csr 90% t1`. */
  readonly id: string;
  /** Non-zero weights the kernel multiplies (active columns × M for `colsparse_gemv`). */
  nnz(): number;
  /** Useful floating-point operations per call: 2 · nnz · N. */
  flops(): number;
  /** Operations a dense kernel does for the same shape: 2 · M · K · N. */
  denseFlops(): number;
  /**
   * Bytes of the weight a call streams: the kernel's resident layout (the format's exact layout, see
   * src/formats; COO streams the CSR it is converted to). Cold-cache copy counts are based on this.
   */
  weightBytes(): number;
  /** Bytes a call moves at least once: weight + input [K,N] + output [M,N] (f32). */
  bytes(): number;
}

const F32 = 4;
const U32 = 4;

/** Bytes of one index into [0, bound): u16 when it fits, else u32 (the formats' rule). */
export function indexBytes(bound: number): number {
  return bound <= 65536 ? 2 : 4;
}

/** Percent text for a fraction: 0.9 → "90%", 0.625 → "62.5%". */
export function pct(fraction: number): string {
  return `${Number((fraction * 100).toFixed(1))}%`;
}

/** The format-and-pattern part of a label: `csr 90%`, `bsr4x4 75%`, `nm2:4`, `dense`. */
export function formatLabel(
  s: Pick<KernelCaseSpec, 'format' | 'pattern' | 'sparsity' | 'block' | 'nm'>,
): string {
  if (s.pattern === 'dense') return s.format;
  if (s.format === 'nm') return `nm${s.nm![0]}:${s.nm![1]}`;
  if (s.format === 'bsr') return `bsr${s.block![0]}x${s.block![1]} ${pct(s.sparsity)}`;
  if (s.pattern === 'inputs') return `dense ${pct(1 - s.sparsity)} inputs active`;
  return `${s.format} ${pct(s.sparsity)}`;
}

function caseId(s: KernelCaseSpec): string {
  const who = s.impl === 'onnxruntime' ? `ort-${s.layout}` : formatLabel(s);
  return `${s.op} ${s.M}x${s.K} N=${s.N} ${who} t${s.threads}${s.pass && s.pass > 1 ? ` pass${s.pass}` : ''}`;
}

function blockCount(s: KernelCaseSpec): { total: number; kept: number } {
  const [r, c] = s.block!;
  const total = Math.ceil(s.M / r) * Math.ceil(s.K / c);
  return { total, kept: total - Math.round(total * s.sparsity) };
}

function nmGroups(s: KernelCaseSpec): number {
  return Math.ceil(s.K / s.nm![1]);
}

function activeInputs(s: KernelCaseSpec): number {
  return s.K - Math.round(s.K * s.sparsity);
}

function nnzOf(s: KernelCaseSpec): number {
  switch (s.pattern) {
    case 'dense':
      return s.M * s.K;
    case 'unstructured':
      return s.M * s.K - Math.round(s.M * s.K * s.sparsity);
    case 'block': {
      const [r, c] = s.block!;
      return blockCount(s).kept * r * c;
    }
    case 'nm':
      return s.M * nmGroups(s) * s.nm![0];
    case 'inputs':
      return s.M * activeInputs(s);
  }
}

function weightBytesOf(s: KernelCaseSpec, nnz: number): number {
  const { M, K } = s;
  switch (s.format) {
    case 'dense':
      // column-sparse GEMV reads only the active columns of its (column-contiguous) weight
      return s.pattern === 'inputs' ? nnz * F32 : M * K * F32;
    case 'bf16':
    case 'f16':
      return M * K * 2;
    case 'csr':
    case 'coo': // matmul(coo) runs on a resident CSR conversion, so a call streams CSR's bytes
      return (M + 1) * U32 + nnz * (indexBytes(K) + F32);
    case 'csr_bf16':
      return (M + 1) * U32 + nnz * (indexBytes(K) + 2);
    case 'bitmask':
      return M * Math.ceil(K / 8) + (M + 1) * U32 + nnz * F32;
    case 'bsr': {
      const [r, c] = s.block!;
      const { kept } = blockCount(s);
      return (Math.ceil(M / r) + 1) * U32 + kept * (indexBytes(Math.ceil(K / c)) + r * c * F32);
    }
    case 'nm': {
      const [n, m] = s.nm!;
      const bits = Math.ceil(Math.log2(m));
      return M * nmGroups(s) * (n * F32 + Math.ceil((n * bits) / 8));
    }
  }
}

/** Build a case from its spec (validates the combination). */
export function kernelCase(spec: KernelCaseSpec): KernelCase {
  const s = { ...spec };
  if (!(s.sparsity >= 0 && s.sparsity < 1))
    throw new RangeError(`kernelCase: sparsity must be in [0,1), got ${s.sparsity}`);
  if (s.format === 'bsr' && !s.block) throw new RangeError('kernelCase: a bsr case needs block [r, c]');
  if (s.format === 'nm' && !s.nm) throw new RangeError('kernelCase: an nm case needs nm [n, m]');
  if (s.impl === 'onnxruntime' && (s.format !== 'dense' || !s.layout)) {
    throw new RangeError('kernelCase: an onnxruntime case is dense and needs a layout');
  }
  const inputs = s.pattern === 'inputs' ? activeInputs(s) : s.K;
  return {
    ...s,
    id: caseId(s),
    nnz: () => nnzOf(s),
    flops: () => 2 * nnzOf(s) * s.N,
    denseFlops: () => 2 * s.M * s.K * s.N,
    weightBytes: () => weightBytesOf(s, nnzOf(s)),
    bytes: () =>
      weightBytesOf(s, nnzOf(s)) +
      inputs * s.N * F32 +
      (s.pattern === 'inputs' ? inputs * U32 : 0) +
      s.M * s.N * F32,
  };
}
