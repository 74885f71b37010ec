/**
 * The compact sparse checkpoint's safetensors layout: each sparse weight W is stored as its format's arrays,
 * one tensor per field (`W.rowPtr`, `W.colIdx`, `W.values`, …), described by a JSON header in the file's
 * `__metadata__`. Reading validates the header and every field exactly as the format's `validate` does, so a
 * corrupt or truncated file is an IoError naming the weight, never a wrong matrix. docs/sparse-checkpoint.md
 * describes the layout byte by byte.
 */

import { type Bitmask, bitmaskBytesPerRow, bitmaskValidate } from '../formats/bitmask.js';
import { type BSR, bsrGrid, bsrValidate } from '../formats/bsr.js';
import { type CSR, csrValidate } from '../formats/csr.js';
import { type HalfCSR, halfCsrValidate } from '../formats/csr-half.js';
import { FormatError } from '../formats/errors.js';
import { type NM, nmLayout, nmValidate } from '../formats/nm.js';
import { type HalfNM, halfNmValidate } from '../formats/nm-half.js';
import { fromBf16, fromF16, toBf16, toF16 } from '../tensor/dtype.js';
import type { SafeDType, TensorArray } from './dtypes.js';
import { IoError } from './errors.js';
import type { WeightSource } from './safetensors.js';
import type { TensorEntry } from './safetensors-write.js';

/** `__metadata__.format` of a compact checkpoint (transformers only accepts "pt", so it refuses the file). */
export const SPARSE_FORMAT_TAG = 'sparsekit';
/** Layout version this code writes and reads (`__metadata__["sparsekit.version"]`). */
export const SPARSE_CHECKPOINT_VERSION = 1;
/** `__metadata__` keys: the version, and the JSON object describing every linear weight. */
export const SPARSE_META_VERSION = 'sparsekit.version';
export const SPARSE_META_WEIGHTS = 'sparsekit.weights';

/** Formats whose arrays are stored field by field. */
export type PackedFormat = 'csr' | 'bsr' | 'nm' | 'bitmask';
/**
 * A matrix in a packed format (CSR and N:M with bf16 / f16 values are stored as format "csr" / "nm" with that
 * values_dtype).
 */
export type PackedMatrix = CSR | HalfCSR | BSR | NM | HalfNM | Bitmask;
/** dtypes the values field may be stored in (CSR and N:M keep BF16 / F16 as they are on read; others widen to f32, exactly). */
export type ValuesDType = 'F32' | 'BF16' | 'F16';

/** One entry of `sparsekit.weights`: how the linear weight of that name is stored. */
export type SparseWeightInfo =
  | {
      /** A plain tensor under the weight's own name, in HF layout (as in the plain folder). */
      format: 'dense';
      /** Logical [out, in]. */
      shape: [number, number];
      dtype: ValuesDType;
    }
  | {
      format: PackedFormat;
      /** Logical [out, in] (GPT-2 Conv1D weights too: packed weights are never transposed). */
      shape: [number, number];
      values_dtype: ValuesDType;
      /** colIdx / blockColIdx element type (csr, bsr): U16 when the indexed dimension ≤ 65536, else U32. */
      index_dtype?: 'U16' | 'U32';
      /** [blockRows, blockCols] (bsr). */
      block?: [number, number];
      /** N kept values per group of M columns (nm). */
      n?: number;
      m?: number;
      /** Stored non-zeros (informational; the arrays are the truth). */
      nnz?: number;
    };

/** A header entry of a packed weight. */
export type PackedWeightInfo = Extract<SparseWeightInfo, { format: PackedFormat }>;

/** The fields of each packed format, in the order the writer names them. */
export const PACKED_FIELDS: Readonly<Record<PackedFormat, readonly string[]>> = {
  csr: ['rowPtr', 'colIdx', 'values'],
  bsr: ['blockRowPtr', 'blockColIdx', 'values'],
  nm: ['values', 'meta'],
  bitmask: ['mask', 'rowPtr', 'values'],
};

/** The tensor holding field `field` of packed weight `name`. */
export function fieldTensor(name: string, field: string): string {
  return `${name}.${field}`;
}

const idxDType = (a: Uint16Array | Uint32Array): 'U16' | 'U32' => (a instanceof Uint16Array ? 'U16' : 'U32');

/** The values dtype a half-value format always stores (its own bits); other formats take the caller's. */
const HALF_VALUES_DTYPE: Partial<Record<PackedMatrix['format'], ValuesDType>> = {
  csr_bf16: 'BF16',
  csr_f16: 'F16',
  nm_bf16: 'BF16',
  nm_f16: 'F16',
};

function encodeValues(v: Float32Array, dtype: ValuesDType): TensorArray {
  return dtype === 'F32' ? v : dtype === 'BF16' ? toBf16(v) : toF16(v);
}

/**
 * The tensors and header entry of packed matrix `a` stored as weight `name`. Values are written in
 * `valuesDtype` (BF16/F16 round to nearest even; pass values already in that precision to keep them exact).
 * A CSR or N:M with half values (csr_bf16 / csr_f16, nm_bf16 / nm_f16) is written as format "csr" / "nm" with its
 * own values' dtype, bit for bit.
 */
export function packWeight(
  name: string,
  a: PackedMatrix,
  valuesDtype: ValuesDType = 'F32',
): { info: SparseWeightInfo; tensors: Array<[string, TensorEntry]> } {
  const shape: [number, number] = [a.rows, a.cols];
  const dtype: ValuesDType = HALF_VALUES_DTYPE[a.format] ?? valuesDtype;
  const values = (dims: number[]): TensorEntry => ({
    dtype,
    shape: dims,
    data: () => (a.values instanceof Uint16Array ? a.values : encodeValues(a.values, dtype)),
  });
  const u = (dtype: SafeDType, data: TensorArray, dims = [data.length]): TensorEntry => ({
    dtype,
    shape: dims,
    data,
  });
  const t = (field: string, e: TensorEntry): [string, TensorEntry] => [fieldTensor(name, field), e];
  const base = { shape, values_dtype: dtype };
  switch (a.format) {
    case 'csr':
    case 'csr_bf16':
    case 'csr_f16':
      return {
        info: { format: 'csr', ...base, index_dtype: idxDType(a.colIdx), nnz: a.values.length },
        tensors: [
          t('rowPtr', u('U32', a.rowPtr)),
          t('colIdx', u(idxDType(a.colIdx), a.colIdx)),
          t('values', values([a.values.length])),
        ],
      };
    case 'bsr': {
      const nBlocks = a.blockColIdx.length;
      return {
        info: {
          format: 'bsr',
          ...base,
          index_dtype: idxDType(a.blockColIdx),
          block: [a.blockRows, a.blockCols],
          nnz: a.values.length,
        },
        tensors: [
          t('blockRowPtr', u('U32', a.blockRowPtr)),
          t('blockColIdx', u(idxDType(a.blockColIdx), a.blockColIdx)),
          t('values', values([nBlocks, a.blockRows, a.blockCols])),
        ],
      };
    }
    case 'nm':
    case 'nm_bf16':
    case 'nm_f16': {
      const L = nmLayout(a.cols, a.n, a.m);
      return {
        info: { format: 'nm', ...base, n: a.n, m: a.m },
        tensors: [
          t('values', values([a.rows, L.groups, a.n])),
          t('meta', u('U8', a.meta, [a.rows, L.groups, L.metaBytesPerGroup])),
        ],
      };
    }
    case 'bitmask':
      return {
        info: { format: 'bitmask', ...base, nnz: a.values.length },
        tensors: [
          t('mask', u('U8', a.mask, [a.rows, bitmaskBytesPerRow(a.cols)])),
          t('rowPtr', u('U32', a.rowPtr)),
          t('values', values([a.values.length])),
        ],
      };
  }
}

/** The `__metadata__` of a compact checkpoint holding `weights`. */
export function sparseMetadata(weights: ReadonlyMap<string, SparseWeightInfo>): Record<string, string> {
  return {
    format: SPARSE_FORMAT_TAG,
    [SPARSE_META_VERSION]: String(SPARSE_CHECKPOINT_VERSION),
    [SPARSE_META_WEIGHTS]: JSON.stringify(Object.fromEntries(weights)),
  };
}

/** Whether a weight source is a compact sparse checkpoint (by its `__metadata__.format`). */
export function isSparseCheckpoint(source: Pick<WeightSource, 'metadata'>): boolean {
  return source.metadata.format === SPARSE_FORMAT_TAG;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const isDim = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Parse and check the header of a compact checkpoint (`file` names it in errors). Every entry must have a
 * known format, a shape of two non-negative integers and that format's parameters; errors name the weight.
 */
export function parseSparseMetadata(
  file: string,
  metadata: Readonly<Record<string, string>>,
): Map<string, SparseWeightInfo> {
  const version = metadata[SPARSE_META_VERSION];
  if (version !== String(SPARSE_CHECKPOINT_VERSION)) {
    throw new IoError(
      file,
      `__metadata__["${SPARSE_META_VERSION}"] is ${JSON.stringify(version)}; this sparsekit reads version ${SPARSE_CHECKPOINT_VERSION} (upgrade sparsekit, or re-export the checkpoint)`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(metadata[SPARSE_META_WEIGHTS] ?? '');
  } catch (e) {
    throw new IoError(file, `__metadata__["${SPARSE_META_WEIGHTS}"] is not JSON (${(e as Error).message})`);
  }
  if (!isObj(raw)) throw new IoError(file, `__metadata__["${SPARSE_META_WEIGHTS}"] must be a JSON object`);
  const out = new Map<string, SparseWeightInfo>();
  for (const [name, v] of Object.entries(raw)) out.set(name, checkInfo(file, name, v));
  return out;
}

function checkInfo(file: string, name: string, v: unknown): SparseWeightInfo {
  const bad = (detail: string) => new IoError(file, `sparse weight "${name}": header entry ${detail}`, name);
  if (!isObj(v)) throw bad(`must be an object, got ${JSON.stringify(v)}`);
  const { format, shape } = v;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every(isDim)) {
    throw bad(`has shape ${JSON.stringify(shape)}; expected [out, in] of non-negative integers`);
  }
  const dtypeOk = (d: unknown) => d === 'F32' || d === 'BF16' || d === 'F16';
  if (format === 'dense') {
    if (!dtypeOk(v.dtype)) throw bad(`has dtype ${JSON.stringify(v.dtype)}; expected F32, BF16 or F16`);
    return v as SparseWeightInfo;
  }
  if (format !== 'csr' && format !== 'bsr' && format !== 'nm' && format !== 'bitmask') {
    throw bad(`has format ${JSON.stringify(format)}; expected dense, csr, bsr, nm or bitmask`);
  }
  if (!dtypeOk(v.values_dtype)) {
    throw bad(`has values_dtype ${JSON.stringify(v.values_dtype)}; expected F32, BF16 or F16`);
  }
  if ((format === 'csr' || format === 'bsr') && v.index_dtype !== 'U16' && v.index_dtype !== 'U32') {
    throw bad(`has index_dtype ${JSON.stringify(v.index_dtype)}; expected U16 or U32`);
  }
  if (format === 'bsr') {
    const b = v.block;
    if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => isDim(x) && x >= 1)) {
      throw bad(`has block ${JSON.stringify(b)}; expected [blockRows, blockCols] ≥ 1`);
    }
  }
  if (format === 'nm') {
    const { n, m } = v;
    if (!isDim(m) || m < 2 || m > 16 || !isDim(n) || n < 1 || n >= m) {
      throw bad(`has n ${JSON.stringify(n)}, m ${JSON.stringify(m)}; expected 1 ≤ n < m ≤ 16`);
    }
  }
  return v as SparseWeightInfo;
}

/** Every tensor name a header entry owns (the packed fields, or the weight itself when dense). */
export function ownedTensors(name: string, info: SparseWeightInfo): string[] {
  return info.format === 'dense' ? [name] : PACKED_FIELDS[info.format].map((f) => fieldTensor(name, f));
}

/**
 * Read packed weight `name` from `source` and validate it: each field's dtype and shape against the header,
 * then the format's own `validate`. Throws IoError naming the weight (and the field) on any mismatch. A CSR or
 * N:M whose values are BF16 or F16 comes back as csr_bf16 / csr_f16 or nm_bf16 / nm_f16 (the stored bits,
 * 2 bytes per value); BSR's and bitmask's half values are widened to f32 exactly.
 */
export function readPackedWeight(
  source: WeightSource,
  file: string,
  name: string,
  info: SparseWeightInfo,
): PackedMatrix {
  if (info.format === 'dense') throw new TypeError(`readPackedWeight: "${name}" is stored dense`);
  const [rows, cols] = info.shape;
  const fail = (detail: string) =>
    new IoError(file, `sparse weight "${name}" (${info.format}): ${detail}`, name);
  const field = (f: string, dtype: SafeDType, shape: (number | null)[]): TensorArray => {
    const tname = fieldTensor(name, f);
    if (!source.has(tname)) throw fail(`tensor "${tname}" is missing`);
    const t = source.info(tname);
    const shapeOk = t.shape.length === shape.length && shape.every((d, i) => d === null || t.shape[i] === d);
    if (t.dtype !== dtype || !shapeOk) {
      const want = `${dtype} [${shape.map((d) => d ?? 'any').join(', ')}]`;
      throw fail(`tensor "${tname}" is ${t.dtype} [${t.shape.join(', ')}] but the header implies ${want}`);
    }
    return source.readTensor(tname).data;
  };
  const vdt = info.values_dtype;
  const values = (shape: (number | null)[]): Float32Array => {
    const d = field('values', vdt, shape);
    return vdt === 'F32'
      ? (d as Float32Array)
      : vdt === 'BF16'
        ? fromBf16(d as Uint16Array)
        : fromF16(d as Uint16Array);
  };
  const halfValues = (shape: (number | null)[]): Uint16Array => field('values', vdt, shape) as Uint16Array;
  const idx = info.index_dtype ?? 'U32';
  let a: PackedMatrix;
  switch (info.format) {
    case 'csr': {
      const rowPtr = field('rowPtr', 'U32', [rows + 1]) as Uint32Array;
      const colIdx = field('colIdx', idx, [null]) as Uint16Array | Uint32Array;
      a =
        vdt === 'F32'
          ? { format: 'csr', rows, cols, rowPtr, colIdx, values: values([null]) }
          : {
              format: vdt === 'BF16' ? 'csr_bf16' : 'csr_f16',
              rows,
              cols,
              rowPtr,
              colIdx,
              values: halfValues([null]),
            };
      break;
    }
    case 'bsr': {
      const [br, bc] = info.block!;
      const [nbr] = bsrGrid({ rows, cols, blockRows: br, blockCols: bc });
      a = {
        format: 'bsr',
        rows,
        cols,
        blockRows: br,
        blockCols: bc,
        blockRowPtr: field('blockRowPtr', 'U32', [nbr + 1]) as Uint32Array,
        blockColIdx: field('blockColIdx', idx, [null]) as Uint16Array | Uint32Array,
        values: values([null, br, bc]),
      };
      break;
    }
    case 'nm': {
      const { n, m } = info as { n: number; m: number };
      const L = nmLayout(cols, n, m);
      const dims = [rows, L.groups, n];
      const meta = () => field('meta', 'U8', [rows, L.groups, L.metaBytesPerGroup]) as Uint8Array;
      a =
        vdt === 'F32'
          ? { format: 'nm', rows, cols, n, m, values: values(dims), meta: meta() }
          : {
              format: vdt === 'BF16' ? 'nm_bf16' : 'nm_f16',
              rows,
              cols,
              n,
              m,
              values: halfValues(dims),
              meta: meta(),
            };
      break;
    }
    case 'bitmask':
      a = {
        format: 'bitmask',
        rows,
        cols,
        mask: field('mask', 'U8', [rows, bitmaskBytesPerRow(cols)]) as Uint8Array,
        rowPtr: field('rowPtr', 'U32', [rows + 1]) as Uint32Array,
        values: values([null]),
      };
      break;
  }
  try {
    VALIDATE[a.format](a as never);
  } catch (e) {
    if (e instanceof FormatError) throw fail(e.message);
    throw e;
  }
  return a;
}

const VALIDATE: Record<PackedMatrix['format'], (a: never) => void> = {
  csr: csrValidate,
  csr_bf16: halfCsrValidate,
  csr_f16: halfCsrValidate,
  bsr: bsrValidate,
  nm: nmValidate,
  nm_bf16: halfNmValidate,
  nm_f16: halfNmValidate,
  bitmask: bitmaskValidate,
};
