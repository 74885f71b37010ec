/**
 * The compact sparse checkpoint of a model: every linear weight in the format that runs it fastest
 * (chooseFormat's rule), packed into one safetensors file with a `sparsekit.weights` header; loadModel
 * recognises it by its `__metadata__` and loads the packed weights straight into their formats.
 */

import { chooseFormat, type FormatChoice, weightPattern } from '../formats/choose.js';
import { exactInHalf } from '../formats/csr-half.js';
import type { HalfMatrix } from '../formats/half.js';
import { toDense, toFormat, type Weight } from '../formats/index.js';
import { IoError } from '../io/errors.js';
import type { HfFolder } from '../io/hf.js';
import type { RawTensor } from '../io/safetensors.js';
import type { TensorEntry } from '../io/safetensors-write.js';
import {
  isSparseCheckpoint,
  ownedTensors,
  type PackedMatrix,
  type PackedWeightInfo,
  packWeight,
  parseSparseMetadata,
  readPackedWeight,
  type SparseWeightInfo,
  sparseMetadata,
  type ValuesDType,
} from '../io/sparse-checkpoint.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  Checkpoint,
  type SaveDType,
  type StateEntry,
  stateToEntry,
  type WeightStorage,
} from './checkpoint.js';
import { type SaveOptions, type StateLayout, writeState } from './save.js';
import type { Model, Savable, SaveState } from './types.js';

/** The file name of the weights inside the folder (compact checkpoints are never sharded). */
const WEIGHTS_FILE = 'model.safetensors';

/**
 * A Checkpoint over a compact sparse checkpoint: weights the header packs come back in their format
 * (validated); weights it stores dense are read as in any HF folder.
 */
export class SparseCheckpoint extends Checkpoint {
  /** The header: how every linear weight is stored. */
  readonly weights: ReadonlyMap<string, SparseWeightInfo>;
  private readonly owned = new Set<string>();
  private readonly placed = new Map<string, PackedMatrix>();

  constructor(folder: HfFolder, storage: WeightStorage) {
    super(folder, storage);
    this.weights = parseSparseMetadata(this.file, folder.weights.metadata);
    for (const [name, info] of this.weights) for (const t of ownedTensors(name, info)) this.owned.add(t);
  }

  private get file(): string {
    return `${this.folder.dir}/${WEIGHTS_FILE}`;
  }

  private packedInfo(name: string): PackedWeightInfo | undefined {
    const info = this.weights.get(name);
    return info && info.format !== 'dense' ? info : undefined;
  }

  override has(name: string): boolean {
    return this.packedInfo(name) !== undefined || super.has(name);
  }

  /**
   * A packed weight as its format object ([rows, cols] = [out, in]; `transposed` does not apply, packed
   * weights are stored [out, in]); any other weight as Checkpoint.matrix reads it. A packed object only
   * ever becomes a Linear's weight (checkPlacement verifies that after the model is built), so it is
   * returned through the dense/half return type that Embedding tables also use.
   */
  override matrix(name: string, rows: number, cols: number, transposed = false): Tensor | HalfMatrix {
    const info = this.packedInfo(name);
    if (!info) return super.matrix(name, rows, cols, transposed);
    if (info.shape[0] !== rows || info.shape[1] !== cols) {
      throw new IoError(
        this.file,
        `sparse weight "${name}" has shape [${info.shape.join(', ')}] but config.json implies [${rows}, ${cols}] ([out, in])`,
        name,
      );
    }
    const a = readPackedWeight(this.folder.weights, this.file, name, info);
    this.dtypes.set(name, info.values_dtype);
    this.placed.set(name, a);
    return a as unknown as Tensor;
  }

  /** Tensors no layer read, packed fields excluded; a header entry the model never read is an error. */
  override extras(): Map<string, RawTensor> {
    for (const name of this.weights.keys()) {
      if (!this.placed.has(name) && !this.dtypes.has(name)) {
        throw new IoError(
          this.file,
          `the header describes weight "${name}", which this ${this.folder.config.modelType} model does not have`,
          name,
        );
      }
    }
    const out = new Map<string, RawTensor>();
    for (const name of this.folder.weights.names()) {
      if (this.owned.has(name) || this.dtypes.has(name)) continue;
      out.set(name, this.folder.weights.readTensor(name));
    }
    return out;
  }

  /** Throw unless every packed weight became the weight of the linear layer of the same name. */
  checkPlacement(model: Model): void {
    const linears = model.linears();
    for (const [name, a] of this.placed) {
      if (linears.get(name)?.weight !== a) {
        throw new IoError(
          this.file,
          `sparse weight "${name}" is packed (${a.format}) but the model reads it as a table, not a linear weight; only linear weights may be packed`,
          name,
        );
      }
    }
  }
}

/** The Checkpoint for an opened folder: a SparseCheckpoint when its weights carry the sparse header. */
export function openCheckpoint(folder: HfFolder, storage: WeightStorage): Checkpoint {
  return isSparseCheckpoint(folder.weights)
    ? new SparseCheckpoint(folder, storage)
    : new Checkpoint(folder, storage);
}

/** Options of saveSparseCheckpoint. */
export interface SparseSaveOptions extends SaveOptions {
  /**
   * Weights that may be packed (default: every linear of the model). Anything else is written as saveModel
   * writes it.
   */
  linears?: Iterable<string>;
  /** The format for a weight (default: chooseFormat's rule on its measured pattern). */
  choose?: (name: string, w: Tensor, dense: 'dense' | 'bf16' | 'f16') => FormatChoice;
  /** The state to write (default: the model's own; savePruned passes the structurally shrunk one). */
  state?: SaveState;
  /**
   * The dtype of packed weights' values. 'auto' (default): the dtype dense weights are saved in, except that
   * F32 becomes BF16 for a weight whose every value is exactly a bf16 value (e.g. a pruned bf16 checkpoint
   * loaded as f32): lossless, and such a CSR weight loads back as csr_bf16, 4 bytes per kept weight instead
   * of 6 (an N:M weight as nm_bf16, 2:4 in 5 bytes per 4 weights instead of 9). 'f32', 'bf16' or 'f16' force
   * that dtype (bf16 / f16 round to nearest even).
   */
  packedValues?: 'auto' | 'f32' | 'bf16' | 'f16';
}

/** What saveSparseCheckpoint chose for each linear weight. */
export interface SparseSaveReport {
  weights: Map<string, { info: SparseWeightInfo; reason: string }>;
}

const DENSE_OF: Record<SaveDType, 'dense' | 'bf16' | 'f16'> = { F32: 'dense', BF16: 'bf16', F16: 'f16' };
const PACKED_VALUES: Record<string, ValuesDType> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };

/** The values dtype of packed weight `a` for the packedValues option, in a checkpoint saved as `dtype`. */
function packedValuesDtype(
  option: NonNullable<SparseSaveOptions['packedValues']>,
  dtype: SaveDType,
  a: PackedMatrix,
): ValuesDType {
  if (option !== 'auto') return PACKED_VALUES[option]!;
  const exactBf16 = a.values instanceof Float32Array && exactInHalf(a.values, 'bf16');
  return dtype === 'F32' && exactBf16 ? 'BF16' : dtype;
}

/**
 * Write `model` as a compact sparse checkpoint folder, atomically: config, tokenizer and generation files as
 * saveModel writes them, and one `model.safetensors` in which every linear weight is packed in the format
 * chooseFormat picks from its measured pattern (CSR, BSR 4×4, N:M) or written dense (in the dtype saveModel
 * would use). Packed values are stored in that dtype too, so the checkpoint holds the same numbers as the
 * plain folder; f32 values that are all exactly bf16 (a pruned bf16 checkpoint) are stored as bf16, losslessly
 * (`packedValues`). CSR and N:M weights with bf16 / f16 values load back as csr_bf16 / csr_f16 and
 * nm_bf16 / nm_f16. docs/sparse-checkpoint.md has the layout.
 *
 * ```ts
 * await pruneModel(lm, { method: 'magnitude', sparsity: 0.7 });
 * saveSparseCheckpoint(lm, 'pruned/mag-70-sparse');
 * loadCausalLM('pruned/mag-70-sparse'); // CSR weights, same logits as the pruned model
 * ```
 */
export function saveSparseCheckpoint(
  model: Model,
  dir: string,
  opts: SparseSaveOptions = {},
): SparseSaveReport {
  if (!opts.state && typeof (model as Partial<Savable>)?.saveState !== 'function') {
    throw new TypeError('saveSparseCheckpoint: model must come from loadModel or loadCausalLM');
  }
  const pv = opts.packedValues;
  if (pv !== undefined && pv !== 'auto' && !Object.hasOwn(PACKED_VALUES, pv)) {
    throw new RangeError(
      `saveSparseCheckpoint: packedValues must be "auto", "f32", "bf16" or "f16", got ${JSON.stringify(pv)}`,
    );
  }
  const state = opts.state ?? (model as unknown as Savable).saveState();
  const { layout, report } = compactLayout(new Set(opts.linears ?? model.linears().keys()), opts);
  writeState(state, dir, opts, layout);
  return report;
}

/**
 * saveSparseCheckpoint's layout for writeState: `entries` packs each candidate linear weight (recording its
 * choice in `report`), `metadata` is the header of every weight packed so far. Streaming pruning calls
 * `entries` block by block and writes the header at the end.
 */
export function compactLayout(
  candidates: ReadonlySet<string>,
  opts: Pick<SparseSaveOptions, 'choose' | 'packedValues'>,
): { layout: Required<StateLayout>; report: SparseSaveReport } {
  const choose = opts.choose ?? ((_: string, w: Tensor, dense) => chooseFormat(weightPattern(w), dense));
  const report: SparseSaveReport = { weights: new Map() };
  const infos = new Map<string, SparseWeightInfo>();
  const entries = (name: string, e: StateEntry, dtype: SaveDType): Array<[string, TensorEntry]> => {
    if (!candidates.has(name) || e.shape.length !== 2) return [[name, stateToEntry(e, dtype)]];
    const w = toDense(e.value as Weight); // [out, in], whatever the file layout
    const choice = choose(name, w, DENSE_OF[dtype]);
    const f = choice.spec.format;
    if (f === 'dense' || f === 'bf16' || f === 'f16') {
      const info: SparseWeightInfo = { format: 'dense', shape: [w.rows, w.cols], dtype };
      infos.set(name, info);
      report.weights.set(name, { info, reason: choice.reason });
      return [[name, stateToEntry(e, dtype)]];
    }
    if (f === 'coo')
      throw new RangeError(`saveSparseCheckpoint: ${name}: COO is not a stored format; use CSR`);
    const a = toFormat(w, choice.spec) as PackedMatrix;
    const packed = packWeight(name, a, packedValuesDtype(opts.packedValues ?? 'auto', dtype, a));
    infos.set(name, packed.info);
    report.weights.set(name, { info: packed.info, reason: choice.reason });
    return packed.tensors;
  };
  return { layout: { entries, metadata: () => sparseMetadata(infos) }, report };
}
