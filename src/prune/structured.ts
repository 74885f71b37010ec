/**
 * Structured pruning of whole attention heads and FFN channels (card 6a Wanda-SP, 6b Magnitude-SP, from the
 * FLAP repository): units are scored from the input side of the output projection (o_proj / down_proj input
 * channels), the floor(ratio · units) lowest of every block are removed, and the saved model is physically
 * smaller. With grouped-query attention a unit is one KV group (its query heads, its k and v head, and the
 * matching o_proj columns), so the config can still say how many heads there are; with multi-head attention
 * a unit is one head. Every block loses the same number of units, so the new sizes fit in config.json.
 */

import { toDense } from '../formats/index.js';
import type { ModelConfig } from '../io/config.js';
import type { JsonObject } from '../io/fields.js';
import type { StateEntry } from '../models/checkpoint.js';
import type { SaveState } from '../models/types.js';
import type { Linear } from '../nn/linear.js';
import { smallestUnits } from '../sparsity/select.js';
import { Tensor } from '../tensor/tensor.js';

/** What structured pruning removes: attention heads, FFN channels, or both. */
export type Structure = 'heads' | 'channels' | 'heads+channels';

export const STRUCTURES: readonly Structure[] = ['heads', 'channels', 'heads+channels'];

/** Rows of an input-side matrix (or entries of its bias) that belong to one unit. */
type RowsOf = (unit: number) => number[];

/** One block's unit layout: which linear rows/columns make up each head unit and each FFN channel. */
export interface BlockAnatomy {
  /** Input-side attention matrices (q, k, v or the fused c_attn) with the rows of each unit. */
  attnIn: Array<{ name: string; rows: RowsOf }>;
  /** o_proj / attn.c_proj: its input columns of each unit are rows(unit) of the first attnIn entry's layout. */
  attnOut: { name: string; cols: RowsOf };
  /** Head units in the block (KV groups, or heads for multi-head attention). */
  headUnits: number;
  /** gate/up or c_fc: row j is channel j. */
  ffnIn: string[];
  /** down_proj / mlp.c_proj: column j is channel j. */
  ffnOut: string;
  /** FFN channels in the block. */
  channels: number;
}

const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);

/** The unit layout of block b, given the model's linear names (from CausalLM.linears()). */
export function blockAnatomy(config: ModelConfig, names: readonly string[], b: number): BlockAnatomy {
  const find = (suffix: string) => {
    const re = new RegExp(`(^|\\.)(layers|h)\\.${b}\\.${suffix.replace(/\./g, '\\.')}$`);
    const n = names.find((x) => re.test(x));
    if (n === undefined) throw new RangeError(`structured pruning: block ${b} has no ${suffix}`);
    return n;
  };
  switch (config.modelType) {
    case 'gpt2': {
      const d = config.headDim;
      const C = config.nEmbd;
      const head = (u: number) => range(u * d, d);
      return {
        attnIn: [
          {
            name: find('attn.c_attn.weight'),
            rows: (u) => [...head(u), ...head(u).map((r) => r + C), ...head(u).map((r) => r + 2 * C)],
          },
        ],
        attnOut: { name: find('attn.c_proj.weight'), cols: head },
        headUnits: config.nHead,
        ffnIn: [find('mlp.c_fc.weight')],
        ffnOut: find('mlp.c_proj.weight'),
        channels: config.nInner,
      };
    }
    case 'llama':
    case 'qwen2':
    case 'mistral': {
      const d = config.headDim;
      const g = config.numAttentionHeads / config.numKeyValueHeads;
      const qRows = (u: number) => range(u * g * d, g * d);
      const kvRows = (u: number) => range(u * d, d);
      return {
        attnIn: [
          { name: find('self_attn.q_proj.weight'), rows: qRows },
          { name: find('self_attn.k_proj.weight'), rows: kvRows },
          { name: find('self_attn.v_proj.weight'), rows: kvRows },
        ],
        attnOut: { name: find('self_attn.o_proj.weight'), cols: qRows },
        headUnits: config.numKeyValueHeads,
        ffnIn: [find('mlp.gate_proj.weight'), find('mlp.up_proj.weight')],
        ffnOut: find('mlp.down_proj.weight'),
        channels: config.intermediateSize,
      };
    }
    default:
      throw new TypeError(`structured pruning supports GPT-2 and the Llama family, not ${config.modelType}`);
  }
}

/** Throw before any work when a structure cannot be written back as a config (GPT-2 heads). */
export function checkStructure(config: ModelConfig, structure: Structure): void {
  if (!STRUCTURES.includes(structure)) {
    throw new RangeError(
      `structure must be one of ${STRUCTURES.join(', ')}, got ${JSON.stringify(structure)}`,
    );
  }
  if (config.modelType === 'gpt2' && structure !== 'channels') {
    throw new RangeError(
      "structure: GPT-2's config derives head_dim from n_embd / n_head, so a model with fewer heads cannot be " +
        'described (transformers would not load it); use --structure channels for GPT-2',
    );
  }
}

/**
 * Column scores of an output projection w [R, C]: Wanda-SP (1/R) Σ_i |W[i,j]| · sqrt(S2[j]) when S2 is given,
 * else Magnitude-SP ‖W[:, j]‖₂.
 */
export function columnScores(w: Tensor, S2: ArrayLike<number> | null): Float64Array {
  const [R, C] = [w.rows, w.cols];
  const out = new Float64Array(C);
  for (let i = 0; i < R; i++) {
    for (let j = 0; j < C; j++) {
      const v = w.data[i * C + j]!;
      out[j]! += S2 ? Math.abs(v) : v * v;
    }
  }
  for (let j = 0; j < C; j++) out[j] = S2 ? (out[j]! / R) * Math.sqrt(S2[j]!) : Math.sqrt(out[j]!);
  return out;
}

/** Units removed from one block: head units (KV groups or heads) and FFN channels, ascending. */
export interface BlockRemoval {
  heads: number[];
  channels: number[];
}

/**
 * Choose the units of one block to remove: floor(ratio · units) of each kind the structure names, the lowest
 * scores (head score = Σ of its o_proj column scores).
 */
export function planBlockRemoval(
  anatomy: BlockAnatomy,
  weight: (name: string) => Tensor,
  S2: (name: string) => ArrayLike<number> | null,
  ratio: number,
  structure: Structure,
): BlockRemoval {
  const out: BlockRemoval = { heads: [], channels: [] };
  if (structure !== 'channels') {
    const cs = columnScores(weight(anatomy.attnOut.name), S2(anatomy.attnOut.name));
    const scores = Float64Array.from({ length: anatomy.headUnits }, (_, u) =>
      anatomy.attnOut.cols(u).reduce((a, j) => a + cs[j]!, 0),
    );
    out.heads = [...smallestUnits(scores, Math.floor(ratio * anatomy.headUnits))];
  }
  if (structure !== 'heads') {
    const cs = columnScores(weight(anatomy.ffnOut), S2(anatomy.ffnOut));
    out.channels = [...smallestUnits(cs, Math.floor(ratio * anatomy.channels))];
  }
  return out;
}

/**
 * Zero the removed units' rows and columns (the masked model computes what the shrunk one does). Each changed
 * layer gets a new weight tensor, never an in-place edit: kernels may hold a resident copy of the old one.
 */
export function zeroRemoved(
  anatomy: BlockAnatomy,
  removal: BlockRemoval,
  linear: (name: string) => Linear,
): void {
  const zeroRows = (l: Linear, rows: number[]) => {
    const w = (l.weight as Tensor).clone();
    for (const r of rows) w.data.fill(0, r * w.cols, (r + 1) * w.cols);
    l.weight = w;
  };
  const zeroCols = (l: Linear, cols: number[]) => {
    const w = (l.weight as Tensor).clone();
    for (let r = 0; r < w.rows; r++) for (const c of cols) w.data[r * w.cols + c] = 0;
    l.weight = w;
  };
  for (const u of removal.heads) {
    for (const a of anatomy.attnIn) zeroRows(linear(a.name), a.rows(u));
    zeroCols(linear(anatomy.attnOut.name), anatomy.attnOut.cols(u));
  }
  for (const name of anatomy.ffnIn) zeroRows(linear(name), removal.channels);
  zeroCols(linear(anatomy.ffnOut), removal.channels);
}

function keepRows(t: Tensor, drop: Set<number>): Tensor {
  const C = t.rank === 1 ? 1 : t.cols;
  const rows = range(0, t.shape[0]!).filter((r) => !drop.has(r));
  const out = new Float32Array(rows.length * C);
  rows.forEach((r, i) => {
    out.set(t.data.subarray(r * C, (r + 1) * C), i * C);
  });
  return new Tensor(out, t.rank === 1 ? [rows.length] : [rows.length, C]);
}

function keepCols(t: Tensor, drop: Set<number>): Tensor {
  return keepRows(t.transpose(), drop).transpose();
}

/**
 * The save state of a model with the removed units physically dropped: every affected weight and bias shrinks,
 * and config.json says the new sizes (Llama family: num_attention_heads, num_key_value_heads, an explicit
 * head_dim, intermediate_size; GPT-2: n_inner). Every block must lose the same number of units.
 */
export function shrunkState(
  state: SaveState,
  config: ModelConfig,
  anatomies: readonly BlockAnatomy[],
  removals: readonly BlockRemoval[],
): SaveState {
  const heads = new Set(removals.map((r) => r.heads.length));
  const chans = new Set(removals.map((r) => r.channels.length));
  if (heads.size > 1 || chans.size > 1) {
    throw new RangeError('structured pruning: every block must lose the same number of heads and channels');
  }
  const rowDrops = new Map<string, Set<number>>(); // HF weight name → rows to drop (the bias shares them)
  const colDrops = new Map<string, Set<number>>();
  const add = (m: Map<string, Set<number>>, name: string, idx: number[]) => {
    const s = m.get(name) ?? new Set<number>();
    for (const i of idx) s.add(i);
    m.set(name, s);
  };
  anatomies.forEach((a, b) => {
    const rm = removals[b]!;
    for (const u of rm.heads) {
      for (const x of a.attnIn) add(rowDrops, x.name, x.rows(u));
      add(colDrops, a.attnOut.name, a.attnOut.cols(u));
    }
    for (const n of a.ffnIn) add(rowDrops, n, rm.channels);
    add(colDrops, a.ffnOut, rm.channels);
  });
  const tensors = state.tensors.map(([name, e]): [string, StateEntry] => {
    const base = name.replace(/\.bias$/, '.weight');
    const rows = rowDrops.get(base);
    const cols = name.endsWith('.weight') ? colDrops.get(name) : undefined;
    if (!rows && !cols) return [name, e];
    let t = toDense(e.value as Tensor);
    if (rows && rows.size > 0) t = keepRows(t, rows);
    if (cols && cols.size > 0) t = keepCols(t, cols);
    const shape = t.rank === 1 ? t.shape : e.transposed ? [t.cols, t.rows] : t.shape;
    return [name, { shape, value: t, ...(e.transposed ? { transposed: true } : {}) }];
  });
  const nHeads = removals[0]?.heads.length ?? 0;
  const nChans = removals[0]?.channels.length ?? 0;
  const raw: Record<string, unknown> = { ...state.config };
  if (config.modelType === 'gpt2') {
    if (nHeads > 0) checkStructure(config, 'heads');
    raw.n_inner = config.nInner - nChans;
  } else if (config.modelType !== 'bert') {
    const g = config.numAttentionHeads / config.numKeyValueHeads;
    raw.num_attention_heads = config.numAttentionHeads - nHeads * g;
    raw.num_key_value_heads = config.numKeyValueHeads - nHeads;
    raw.head_dim = config.headDim;
    raw.intermediate_size = config.intermediateSize - nChans;
  }
  return { ...state, config: raw as JsonObject, tensors };
}
