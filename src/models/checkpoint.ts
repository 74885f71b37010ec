/**
 * Reading a model's tensors from an opened HF folder by name (tracking which were used, their stored dtypes
 * and the tensors no layer uses), and turning in-memory weights back into safetensors entries for saving.
 */

import type { MatmulWeight } from '../backend/ops/matmul.js';
import { inKernelMemory } from '../backend/resident.js';
import { type HalfMatrix, halfFromBits, halfFromDense } from '../formats/half.js';
import { toDense, type Weight } from '../formats/index.js';
import type { SafeDType, TensorArray } from '../io/dtypes.js';
import type { HfFolder } from '../io/hf.js';
import { type RawTensor, toFloat32 } from '../io/safetensors.js';
import type { TensorEntry } from '../io/safetensors-write.js';
import { transposeData } from '../nn/ops.js';
import { fromBf16, fromF16, toBf16, toF16 } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { DeferredMatrices, DeferredMatrix } from './deferred.js';

/** In-memory storage of linear-layer (and token-embedding) matrices; see LoadOptions.weights. */
export type WeightStorage = 'f32' | 'bf16' | 'f16' | 'stored';

export const WEIGHT_STORAGES: readonly WeightStorage[] = ['f32', 'bf16', 'f16', 'stored'];

/** Buffers transformers registers but does not need from a checkpoint (regenerated at load); not kept. */
const DROPPED_BUFFERS = /(^|\.)(attn\.bias|attn\.masked_bias|rotary_emb\.inv_freq)$/;

/** A tensor to save: its HF name, HF shape and the in-memory value it comes from. */
export interface StateEntry {
  /** Shape in the checkpoint (e.g. GPT-2 Conv1D [in, out]). */
  readonly shape: readonly number[];
  /** The value in memory: a norm/bias Tensor, or a matrix in any format ([out, in] for a linear). */
  readonly value: MatmulWeight;
  /** The value is stored transposed in memory (GPT-2 Conv1D weights). */
  readonly transposed?: boolean;
}

/** A checkpoint being read into a model. */
export class Checkpoint {
  /** Stored dtype of every tensor read, by name (saveModel writes them back in it by default). */
  readonly dtypes = new Map<string, SafeDType>();
  private readonly used = new Set<string>();
  /** Block linears not read at load (LoadOptions.defer), or null. */
  deferred: DeferredMatrices | null = null;
  private deferName: ((name: string) => boolean) | null = null;

  constructor(
    readonly folder: HfFolder,
    readonly storage: WeightStorage,
  ) {}

  has(name: string): boolean {
    return this.folder.weights.has(name);
  }

  /** The first of `names` the checkpoint has (e.g. LayerNorm `weight` or the older `gamma`). */
  pick(...names: string[]): string {
    for (const n of names) if (this.has(n)) return n;
    throw this.missing(names[0]!);
  }

  private missing(name: string): Error {
    return new RangeError(
      `${this.folder.dir}: the checkpoint has no tensor "${name}" (a ${this.folder.config.modelType} checkpoint needs it; is the folder complete?)`,
    );
  }

  /** Check `name` exists with `shape` and a float dtype, and record it as used. */
  private check(name: string, shape: readonly number[]): void {
    if (!this.has(name)) throw this.missing(name);
    const info = this.folder.weights.info(name);
    if (info.shape.join() !== shape.join()) {
      throw new RangeError(
        `${this.folder.dir}: tensor "${name}" has shape [${info.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`,
      );
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) {
      throw new TypeError(
        `${this.folder.dir}: tensor "${name}" has dtype ${info.dtype}; weights must be floating point`,
      );
    }
    this.used.add(name);
    this.dtypes.set(name, info.dtype);
  }

  private read(name: string, shape: readonly number[]): RawTensor {
    this.check(name, shape);
    return this.folder.weights.readTensor(name);
  }

  /**
   * Defer every transformer-block linear weight `which` accepts (see LoadOptions.defer): linearMatrix then
   * returns a shape-only DeferredMatrix handle, and `deferred` reads the matrix on demand (the folder must stay open).
   */
  deferLinears(which: (name: string) => boolean): DeferredMatrices {
    this.deferName = which;
    this.deferred = new DeferredMatrices((name, rows, cols, transposed) =>
      this.matrixOnHeap(name, rows, cols, transposed),
    );
    return this.deferred;
  }

  /**
   * A transformer-block linear's weight: matrix() as usual, or, when deferLinears accepts `name`, a
   * shape-only DeferredMatrix handle (the tensor's shape and dtype are checked now, its data read later).
   */
  linearMatrix(
    name: string,
    rows: number,
    cols: number,
    transposed = false,
  ): Tensor | HalfMatrix | DeferredMatrix {
    if (!this.deferred || !this.deferName?.(name)) return this.matrix(name, rows, cols, transposed);
    this.check(name, transposed ? [cols, rows] : [rows, cols]);
    return this.deferred.add(name, rows, cols, transposed);
  }

  /**
   * An f32 tensor of the given shape (norms, biases, position tables), its data in kernel memory like matrix()'s:
   * a decode step's norms read their weights in place.
   */
  tensor(name: string, shape: readonly number[]): Tensor {
    return inKernelMemory(new Tensor(toFloat32(this.read(name, shape)), shape));
  }

  /**
   * A weight matrix [rows, cols] stored as the storage option says, its data in kernel memory (read there in
   * place by the kernels; see backend `inKernelMemory`). `transposed`: the checkpoint holds it as [cols, rows]
   * (GPT-2 Conv1D) and it is transposed on load.
   */
  matrix(name: string, rows: number, cols: number, transposed = false): Tensor | HalfMatrix {
    return inKernelMemory(this.matrixOnHeap(name, rows, cols, transposed));
  }

  // The matrix as JS arrays; matrix() moves it into kernel memory, so the weight is held once, where the
  // kernels read it (the arrays made here are garbage right after).
  private matrixOnHeap(name: string, rows: number, cols: number, transposed: boolean): Tensor | HalfMatrix {
    const raw = this.read(name, transposed ? [cols, rows] : [rows, cols]);
    const stored = raw.dtype === 'BF16' ? 'bf16' : raw.dtype === 'F16' ? 'f16' : null;
    const target = this.storage === 'stored' ? (stored ?? 'f32') : this.storage;
    if (!transposed && target !== 'f32' && target === stored) {
      return halfFromBits(raw.data as Uint16Array, rows, cols, target);
    }
    let data = toFloat32(raw);
    if (transposed) data = transposeData(data, cols, rows);
    const t = new Tensor(data, [rows, cols]);
    return target === 'f32' ? t : halfFromDense(t, target);
  }

  /**
   * Tensors of the checkpoint no layer read (e.g. BERT's pooler, position_ids): read into memory so saveModel
   * writes them back. transformers' regenerated buffers (GPT-2 attn.bias/masked_bias, rotary inv_freq) are dropped.
   */
  extras(): Map<string, RawTensor> {
    const out = new Map<string, RawTensor>();
    for (const name of this.folder.weights.names()) {
      if (this.used.has(name) || DROPPED_BUFFERS.test(name)) continue;
      out.set(name, this.folder.weights.readTensor(name));
    }
    return out;
  }
}

/** Dense f32 values of any matrix or tensor (sparse formats and half precision decoded). */
export function denseData(value: MatmulWeight): Float32Array {
  if (value instanceof Tensor) return value.data;
  return toDense(value as Weight).data;
}

/** Float dtypes a model can be saved in. */
export type SaveDType = 'F32' | 'BF16' | 'F16';

const HALF_OF: Record<SaveDType, string | null> = { F32: null, BF16: 'bf16', F16: 'f16' };

/** The safetensors entry for a state entry in `dtype` (read lazily when the writer reaches it). */
export function stateToEntry(e: StateEntry, dtype: SaveDType): TensorEntry {
  const data = (): TensorArray => {
    const v = e.value;
    if (v instanceof DeferredMatrix) {
      throw new Error(
        `save: ${v.name} was deferred at load (LoadOptions.defer) and is not loaded; load it before saving`,
      );
    }
    const half =
      !(v instanceof Tensor) && (v.format === 'bf16' || v.format === 'f16') ? (v as HalfMatrix) : null;
    if (half && !e.transposed && HALF_OF[dtype] === half.format) return half.data;
    let f = denseData(v);
    if (e.transposed) f = transposeData(f, e.shape[1]!, e.shape[0]!);
    if (dtype === 'F32') return f;
    return dtype === 'BF16' ? toBf16(f) : toF16(f);
  };
  return { dtype, shape: e.shape, data };
}

/** A raw (pass-through) tensor as an entry: kept as stored unless `dtype` asks for another float type. */
export function rawToEntry(t: RawTensor, dtype: SaveDType | undefined): TensorEntry {
  const isFloat = t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16';
  if (!isFloat || dtype === undefined || dtype === t.dtype)
    return { dtype: t.dtype, shape: t.shape, data: t.data };
  const f =
    t.dtype === 'F32'
      ? (t.data as Float32Array)
      : t.dtype === 'F16'
        ? fromF16(t.data as Uint16Array)
        : fromBf16(t.data as Uint16Array);
  return { dtype, shape: t.shape, data: dtype === 'F32' ? f : dtype === 'BF16' ? toBf16(f) : toF16(f) };
}
