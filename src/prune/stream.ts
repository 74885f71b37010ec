/**
 * pruneStreaming: pruneModel for a model larger than memory. The model is loaded with its block linears
 * deferred (LoadOptions.defer); the driver reads block b's matrices, calibrates and prunes them exactly as
 * pruneModel does, spools the block's output tensors to a scratch file beside the output, frees the block and
 * goes on. At the end the plain HF folder (and the compact sparse checkpoint) are written atomically from the
 * spool with the in-memory writers, so the files are byte for byte what pruneModel + savePruned /
 * saveCompactPruned write. Held at once: one block's weights (read, dense and pruned copies), its statistics,
 * the N·T·C calibration activations, and the embeddings, norms and head.
 */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { toDense } from '../formats/index.js';
import type { TensorEntry } from '../io/safetensors-write.js';
import { TensorSpool } from '../io/spool.js';
import { type StateEntry, stateToEntry } from '../models/checkpoint.js';
import { type DeferredMatrices, deferredMatrices } from '../models/deferred.js';
import { type SaveOptions, saveDTypes, writeState } from '../models/save.js';
import { compactLayout, type SparseSaveOptions, type SparseSaveReport } from '../models/sparse-checkpoint.js';
import type { CausalLM, Savable, SaveState } from '../models/types.js';
import type { Linear } from '../nn/linear.js';
import type { Tensor } from '../tensor/tensor.js';
import { type BlockAccess, type PruneOptions, type PruneReport, pruneThrough } from './driver.js';
import { type BlockAnatomy, type BlockRemoval, shrunkState } from './structured.js';

/** Where pruneStreaming writes. */
export interface StreamOutputs {
  /** The plain Hugging Face folder (zeros in place). */
  out: string;
  /** The compact sparse checkpoint folder; omitted or null: not written. */
  sparseOut?: string | null;
}

/** Options of pruneStreaming: pruneModel's, how to save, and the compact checkpoint's format choices. */
export interface StreamPruneOptions extends PruneOptions, SaveOptions {
  compact?: Pick<SparseSaveOptions, 'choose' | 'packedValues'>;
}

/** What pruneStreaming did. */
export interface StreamPruneResult {
  report: PruneReport;
  /** The compact checkpoint's format per weight (null when not written). */
  compact: SparseSaveReport | null;
  /** Most bytes of block weights held at once (as read; see DeferredMatrices.peakBytes). */
  peakBlockBytes: number;
  /** Bytes that went through the scratch spool. */
  spooledBytes: number;
}

/** Check the outputs before any work: an existing folder is an error unless `overwrite`. */
function checkOutputs(outputs: StreamOutputs, overwrite: boolean): void {
  for (const [what, dir] of [
    ['out', outputs.out],
    ['sparseOut', outputs.sparseOut],
  ] as const) {
    if (dir && existsSync(dir) && !overwrite) {
      throw new Error(`pruneStreaming: ${what} ${dir} already exists; pass overwrite: true to replace it`);
    }
  }
  if (outputs.sparseOut && resolve(outputs.sparseOut) === resolve(outputs.out)) {
    throw new RangeError(`pruneStreaming: sparseOut must differ from out (both are ${outputs.out})`);
  }
}

/**
 * Prune a model loaded with `{ defer: true }` one block at a time and write it to `outputs.out` (plain HF
 * folder) and `outputs.sparseOut` (compact sparse checkpoint), each atomically. Same options, same pruned
 * numbers and the same files as pruneModel + savePruned / saveCompactPruned (structured pruning's smaller
 * matrices included); the global budget ranks every weight at once and is refused. Aborting `signal` (or any error) leaves no output folder
 * and removes the scratch spool. The spool sits beside `out` and holds every written tensor until the end
 * (disk: about twice the output).
 *
 * ```ts
 * const folder = openHfFolder('models/big');
 * const lm = loadCausalLM(folder, { defer: true }); // block linears stay on disk
 * const calibration = calibrationFromText(text, lm.tokenizer!, { count: 128, length: 512 });
 * const { report } = await pruneStreaming(lm, { method: 'wanda', sparsity: 0.5, calibration }, {
 *   out: 'pruned/w50',
 *   sparseOut: 'pruned/w50-sparse',
 * });
 * folder.close();
 * ```
 */
export async function pruneStreaming(
  model: CausalLM,
  opts: StreamPruneOptions,
  outputs: StreamOutputs,
): Promise<StreamPruneResult> {
  const deferred = deferredMatrices(model);
  if (!deferred) {
    throw new TypeError(
      'pruneStreaming: the model must be loaded with { defer: true } from an opened folder (loadCausalLM(openHfFolder(dir), { defer: true }))',
    );
  }
  if (opts.dtype !== undefined && !['f32', 'bf16', 'f16'].includes(opts.dtype)) {
    throw new RangeError(`pruneStreaming: dtype must be f32, bf16 or f16, got ${JSON.stringify(opts.dtype)}`);
  }
  checkOutputs(outputs, opts.overwrite ?? false);
  const savable = model as unknown as Savable;
  const dtypeOf = saveDTypes(savable.saveState(), opts.dtype);
  const compact = outputs.sparseOut
    ? compactLayout(new Set(model.linears().keys()), opts.compact ?? {})
    : null;
  const scratch = mkdtempSync(join(dirname(outputs.out), `.${basename(outputs.out)}.stream-`));
  const plainSpool = new TensorSpool(join(scratch, 'plain.bin'));
  const compactSpool = compact ? new TensorSpool(join(scratch, 'compact.bin')) : null;
  const compactNames = new Map<string, string[]>(); // weight → its compact tensors
  deferred.resetPeak();

  const spoolBlock = (
    linears: ReadonlyArray<[string, Linear]>,
    structured?: { anatomy: BlockAnatomy; plan: BlockRemoval },
  ) => {
    const whole = savable.saveState();
    let block: SaveState['tensors'] = whole.tensors.filter(
      ([n]) => deferred.has(n) && linears.some(([l]) => l === n),
    );
    if (structured) {
      // this block's weights without the removed units, as savePruned writes them
      block = shrunkState(
        { ...whole, tensors: block },
        model.config,
        [structured.anatomy],
        [structured.plan],
      ).tensors;
    }
    const state = new Map<string, StateEntry>(block);
    for (const [name] of linears) {
      if (!deferred.has(name)) continue;
      const e = state.get(name)!;
      const dtype = dtypeOf(name);
      plainSpool.put(name, stateToEntry(e, dtype));
      if (compact && compactSpool) {
        const tensors = compact.layout.entries(name, e, dtype);
        for (const [n, t] of tensors) compactSpool.put(n, t);
        compactNames.set(
          name,
          tensors.map(([n]) => n),
        );
      }
    }
  };
  const access: BlockAccess = {
    streaming: true,
    enter: (_b, linears) => {
      for (const [name, l] of linears) {
        if (!deferred.has(name)) {
          l.weight = toDense(l.weight as Tensor);
          continue;
        }
        loadDense(deferred, name, l);
      }
    },
    leave: (_b, linears, pruned, structured) => {
      if (pruned) spoolBlock(linears, structured);
      for (const [name] of linears) if (deferred.has(name)) deferred.evict(name);
    },
  };

  try {
    const report = await pruneThrough(model, opts, access);
    const state = finalState(savable.saveState(), model, report, (n) => plainSpool.has(n));
    const saveOpts: SaveOptions = {
      overwrite: opts.overwrite ?? false,
      ...(opts.dtype ? { dtype: opts.dtype } : {}),
    };
    writeState(state, outputs.out, saveOpts, {
      entries: (name, e, dtype): Array<[string, TensorEntry]> => [
        [name, plainSpool.has(name) ? plainSpool.entry(name) : stateToEntry(e, dtype)],
      ],
    });
    if (compact && compactSpool && outputs.sparseOut) {
      try {
        writeState(state, outputs.sparseOut, saveOpts, {
          entries: (name, e, dtype) =>
            compactNames.get(name)?.map((n): [string, TensorEntry] => [n, compactSpool.entry(n)]) ??
            compact.layout.entries(name, e, dtype),
          metadata: compact.layout.metadata,
        });
      } catch (e) {
        rmSync(outputs.out, { recursive: true, force: true }); // never one folder without the other
        throw e;
      }
    }
    return {
      report,
      compact: compact?.report ?? null,
      peakBlockBytes: deferred.peakBytes,
      spooledBytes: plainSpool.bytes + (compactSpool?.bytes ?? 0),
    };
  } finally {
    plainSpool.close();
    compactSpool?.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The state to write at the end: structured pruning's removed units dropped from the tensors still in memory
 * (biases) and from config.json, as savePruned does; spooled weights keep their place (their entries are
 * replaced by the spool's when written).
 */
function finalState(
  state: SaveState,
  model: CausalLM,
  report: PruneReport,
  spooled: (name: string) => boolean,
): SaveState {
  if (!report.removed || !report.anatomies) return state;
  const rest = shrunkState(
    { ...state, tensors: state.tensors.filter(([n]) => !spooled(n)) },
    model.config,
    report.anatomies,
    report.removed,
  );
  const byName = new Map(rest.tensors);
  return { ...rest, tensors: state.tensors.map(([n, e]) => [n, spooled(n) ? e : byName.get(n)!] as const) };
}

/** Read deferred weight `name` into its Linear as a dense f32 Tensor (a half copy is tracked for freeing). */
function loadDense(deferred: DeferredMatrices, name: string, l: Linear): void {
  const w = deferred.load(name);
  const t = toDense(w as Tensor);
  if (t !== w) {
    deferred.track(name, t);
    l.weight = t;
  }
}
