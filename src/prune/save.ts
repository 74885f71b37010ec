/** savePruned: write a pruned model as a plain HF folder (zeros in place; structured pruning physically shrunk). */

import { type Model, type SaveOptions, saveModel } from '../models/index.js';
import type { Savable } from '../models/types.js';
import type { PruneReport } from './driver.js';
import { shrunkState } from './structured.js';

/**
 * Save a model pruned by pruneModel as a Hugging Face folder, atomically. Unstructured and N:M pruning write
 * the zeros in place; structured pruning drops the removed heads and channels and writes the new sizes into
 * config.json, so the folder loads as a smaller model here and in transformers.
 */
export function savePruned(model: Model, report: PruneReport, dir: string, opts: SaveOptions = {}): void {
  if (!report.removed || !report.anatomies) {
    saveModel(model, dir, opts);
    return;
  }
  const state = shrunkState(
    (model as unknown as Savable).saveState(),
    model.config,
    report.anatomies,
    report.removed,
  );
  const shim: Savable = { saveState: () => state };
  saveModel(shim as unknown as Model, dir, opts);
}
