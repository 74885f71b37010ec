/**
 * Training checkpoints: parameters, masks, optimizer state, step and RNG state in one safetensors file
 * (written atomically), with a JSON metadata header and a SHA-256 of every tensor's bytes so a truncated
 * or corrupted file is refused on load.
 */

import { createHash } from 'node:crypto';
import type { Rng } from '../autograd/rng.js';
import type { Var } from '../autograd/tape.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { type TensorEntry, writeSafetensors } from '../io/safetensors-write.js';
import type { Optimizer, OptimizerState } from './optim.js';

/** The `format` metadata value of a training checkpoint. */
export const CHECKPOINT_FORMAT = 'sparsekit-train-checkpoint';

/** What a checkpoint holds besides tensors. */
export interface CheckpointInfo {
  /** Optimizer steps taken. */
  step: number;
  /** The training RNG's state after `step` steps. */
  rngState: number;
  /** Anything JSON the caller wants back (loss history, config). */
  extra?: unknown;
}

/** The state a checkpoint saves and restores. */
export interface TrainState {
  /** Parameters by name (the names are the checkpoint's tensor names). */
  params: Readonly<Record<string, Var>>;
  optimizer: Optimizer;
  rng: Rng;
}

function digest(entries: ReadonlyArray<readonly [string, Uint8Array | Float32Array]>): string {
  const h = createHash('sha256');
  for (const [name, data] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    h.update(name);
    h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return h.digest('hex');
}

function optimizerNames(state: TrainState): string[] {
  const byVar = new Map(Object.entries(state.params).map(([n, v]) => [v, n]));
  return state.optimizer.params.map((p, i) => {
    const n = byVar.get(p);
    if (n === undefined)
      throw new RangeError(`checkpoint: optimizer parameter ${i} (${p.name || 'unnamed'}) is not in params`);
    return n;
  });
}

/** Write `path` atomically (temp file + rename): params, masks, optimizer state, step and RNG state. */
export function saveCheckpoint(path: string, state: TrainState, info: CheckpointInfo): void {
  const names = optimizerNames(state);
  const arrays: Array<[string, Float32Array | Uint8Array]> = [];
  const entries: Array<[string, TensorEntry]> = [];
  for (const [name, v] of Object.entries(state.params)) {
    arrays.push([`param.${name}`, v.value.data]);
    entries.push([`param.${name}`, { dtype: 'F32', shape: [...v.shape], data: v.value.data }]);
    if (v.mask) {
      arrays.push([`mask.${name}`, v.mask]);
      entries.push([`mask.${name}`, { dtype: 'U8', shape: [v.size], data: v.mask }]);
    }
  }
  const { tensors, steps } = state.optimizer.stateDict();
  for (const [key, b] of tensors) {
    const dot = key.indexOf('.');
    const name = `optim.${names[Number(key.slice(0, dot))]}.${key.slice(dot + 1)}`;
    arrays.push([name, b]);
    entries.push([name, { dtype: 'F32', shape: [b.length], data: b }]);
  }
  const metadata = {
    format: CHECKPOINT_FORMAT,
    version: '1',
    step: String(info.step),
    rng: String(info.rngState),
    optimizer: JSON.stringify({ config: state.optimizer.config(), params: names, steps }),
    extra: JSON.stringify(info.extra ?? null),
    sha256: digest(arrays),
  };
  writeSafetensors(path, entries, { metadata });
}

/**
 * Load a checkpoint into `state` in place (params, masks, optimizer buffers and steps, RNG state) and return
 * its info. Throws naming the problem for a truncated or corrupted file, a missing parameter or a shape change.
 */
export function loadCheckpoint(path: string, state: TrainState): CheckpointInfo {
  const file = SafetensorsFile.open(path); // refuses a truncated file (data past the end)
  try {
    const meta = file.metadata;
    if (meta.format !== CHECKPOINT_FORMAT) {
      throw new Error(
        `loadCheckpoint: ${path} is not a sparsekit training checkpoint (format ${JSON.stringify(meta.format)})`,
      );
    }
    const arrays: Array<[string, Float32Array | Uint8Array]> = [];
    const read = <T extends Float32Array | Uint8Array>(name: string): T => {
      const data = file.readTensor(name).data as T;
      arrays.push([name, data]);
      return data;
    };
    const loaded = new Map<Var, { value: Float32Array; mask: Uint8Array | null }>();
    for (const [name, v] of Object.entries(state.params)) {
      if (!file.has(`param.${name}`)) throw new Error(`loadCheckpoint: ${path} has no parameter "${name}"`);
      const value = read<Float32Array>(`param.${name}`);
      if (value.length !== v.size) {
        throw new RangeError(
          `loadCheckpoint: parameter "${name}" has ${value.length} elements in ${path} but ${v.size} here`,
        );
      }
      loaded.set(v, { value, mask: file.has(`mask.${name}`) ? read<Uint8Array>(`mask.${name}`) : null });
    }
    const opt = JSON.parse(meta.optimizer ?? 'null') as { params: string[]; steps: number[] } | null;
    if (!opt) throw new Error(`loadCheckpoint: ${path} has no optimizer metadata`);
    const names = optimizerNames(state);
    if (opt.params.join('\n') !== names.join('\n')) {
      throw new Error(
        `loadCheckpoint: ${path} was saved with optimizer parameters [${opt.params}] but this run has [${names}]`,
      );
    }
    const tensors: OptimizerState = new Map();
    for (const n of file.names()) {
      if (!n.startsWith('optim.')) continue;
      const rest = n.slice('optim.'.length);
      const dot = rest.lastIndexOf('.'); // slot names (exp_avg, momentum_buffer) have no dots
      const i = names.indexOf(rest.slice(0, dot));
      if (i < 0) throw new Error(`loadCheckpoint: optimizer tensor "${n}" names no parameter`);
      tensors.set(`${i}.${rest.slice(dot + 1)}`, read<Float32Array>(n));
    }
    if (digest(arrays) !== meta.sha256) {
      throw new Error(
        `loadCheckpoint: ${path} fails its SHA-256 check (corrupted or partly written); use an older checkpoint`,
      );
    }
    for (const [v, { value, mask }] of loaded) {
      v.value.data.set(value);
      v.setMask(mask);
      v.changed();
    }
    state.optimizer.loadStateDict({ tensors, steps: opt.steps });
    state.rng.state = Number(meta.rng) >>> 0;
    return { step: Number(meta.step), rngState: state.rng.state, extra: JSON.parse(meta.extra ?? 'null') };
  } finally {
    file.close();
  }
}
