/**
 * savePruned / saveCompactPruned: write a pruned model as a plain HF folder (zeros in place; structured pruning
 * physically shrunk) and as a compact sparse checkpoint (each weight in its fastest format).
 */

import { type Model, type SaveOptions, saveModel } from '../models/index.js';
import { type SparseSaveReport, saveSparseCheckpoint } from '../models/sparse-checkpoint.js';
import type { Savable, SaveState } from '../models/types.js';
import type { PruneReport } from './driver.js';
import { shrunkState } from './structured.js';

/** The state to save: the model's own, or with structured pruning's removed units dropped. */
function prunedState(model: Model, report: PruneReport): SaveState | null {
  if (!report.removed || !report.anatomies) return null;
  return shrunkState(
    (model as unknown as Savable).saveState(),
    model.config,
    report.anatomies,
    report.removed,
  );
}

/**
 * Save a model pruned by pruneModel as a Hugging Face folder, atomically. Unstructured and N:M pruning write
 * the zeros in place; structured pruning drops the removed heads and channels and writes the new sizes into
 * config.json, so the folder loads as a smaller model here and in transformers.
 */
export function savePruned(model: Model, report: PruneReport, dir: string, opts: SaveOptions = {}): void {
  const state = prunedState(model, report);
  if (!state) {
    saveModel(model, dir, opts);
    return;
  }
  const shim: Savable = { saveState: () => state };
  saveModel(shim as unknown as Model, dir, opts);
}

/**
 * Save a model pruned by pruneModel as a compact sparse checkpoint, atomically (saveSparseCheckpoint: each
 * linear weight packed in the format chooseFormat picks, e.g. CSR at 70% or N:M at 2:4). Structured pruning
 * writes the smaller matrices, as savePruned does. Returns the format chosen for each weight.
 */
export function saveCompactPruned(
  model: Model,
  report: PruneReport,
  dir: string,
  opts: SaveOptions = {},
): SparseSaveReport {
  const state = prunedState(model, report);
  return saveSparseCheckpoint(model, dir, { ...opts, ...(state ? { state } : {}) });
}
