/**
 * Deferred block matrices (LoadOptions.defer): a transformer-block linear whose weight is not read at load. Its
 * Linear holds a DeferredMatrix (shape only) until `load` reads the tensor from the still-open folder, and
 * `evict` puts the handle back and frees the weight's kernel memory. Streaming pruning uses this to hold
 * one block's weights at a time; the bookkeeping counts the bytes held so that bound can be checked.
 */

import { release } from '../backend/resident.js';
import type { HalfMatrix } from '../formats/half.js';
import type { Linear } from '../nn/linear.js';
import type { Tensor } from '../tensor/tensor.js';

/** Stands in for a linear weight [rows, cols] that has not been read; any kernel given it refuses it. */
export class DeferredMatrix {
  readonly format = 'deferred';
  constructor(
    /** The HF weight name, e.g. 'model.layers.3.mlp.up_proj.weight'. */
    readonly name: string,
    readonly rows: number,
    readonly cols: number,
    /** Transformer block the weight belongs to. */
    readonly block: number,
  ) {}
}

/** Reads one deferred matrix [rows, cols] now (on the JS heap, in the load's storage). */
export type MatrixReader = (
  name: string,
  rows: number,
  cols: number,
  transposed: boolean,
) => Tensor | HalfMatrix;

interface Slot {
  readonly handle: DeferredMatrix;
  readonly transposed: boolean;
  linear: Linear | null;
  /** Objects whose kernel copies `evict` frees: what `load` returned, and what replaced it since. */
  held: object[];
  bytes: number;
}

const BLOCK_OF = /(?:^|\.)(?:layers|h)\.(\d+)\./;

/** The transformer block of an HF weight name ('model.layers.3.…', 'transformer.h.3.…'), or -1. */
export function blockOf(name: string): number {
  const m = BLOCK_OF.exec(name);
  return m ? Number(m[1]) : -1;
}

/** The deferred matrices of one loaded model (see deferredMatrices). */
export class DeferredMatrices {
  private readonly slots = new Map<string, Slot>();
  private held = 0;
  private peak = 0;

  constructor(private readonly read: MatrixReader) {}

  /** Record `name` as deferred; returns the handle the Linear is built with. */
  add(name: string, rows: number, cols: number, transposed: boolean): DeferredMatrix {
    const handle = new DeferredMatrix(name, rows, cols, blockOf(name));
    this.slots.set(name, { handle, transposed, linear: null, held: [], bytes: 0 });
    return handle;
  }

  /** Attach each deferred name to the Linear built with its handle (loadModel does this). */
  bind(linears: ReadonlyMap<string, Linear>): void {
    for (const [name, s] of this.slots) {
      const l = linears.get(name);
      if (!l || l.weight !== s.handle) throw new Error(`deferred matrix ${name} is not a linear weight`);
      s.linear = l;
    }
  }

  /** Deferred weight names, in load order. */
  names(): string[] {
    return [...this.slots.keys()];
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  private slot(name: string): Slot & { linear: Linear } {
    const s = this.slots.get(name);
    if (!s) throw new RangeError(`deferred matrices: ${name} is not deferred`);
    if (!s.linear) throw new Error(`deferred matrices: ${name} is not bound to a Linear`);
    return s as Slot & { linear: Linear };
  }

  /** Whether `name`'s weight is in memory (loaded and not evicted). */
  isLoaded(name: string): boolean {
    return !(this.slot(name).linear.weight instanceof DeferredMatrix);
  }

  /** Read `name` from the folder and make it its Linear's weight (a no-op when already loaded). */
  load(name: string): Tensor | HalfMatrix {
    const s = this.slot(name);
    if (!(s.linear.weight instanceof DeferredMatrix)) return s.linear.weight as Tensor | HalfMatrix;
    const w = this.read(name, s.handle.rows, s.handle.cols, s.transposed);
    s.linear.weight = w;
    s.held = [w];
    s.bytes = w.data.byteLength;
    this.held += s.bytes;
    this.peak = Math.max(this.peak, this.held);
    return w;
  }

  /** Remember that `w` replaced `name`'s weight (e.g. its pruned copy), so `evict` frees its kernel copy too. */
  track(name: string, w: object): void {
    this.slot(name).held.push(w);
  }

  /**
   * Drop `name`'s weight: its Linear gets the handle back, and the kernel-memory copies of what `load`
   * returned, of everything `track`ed and of the Linear's current weight are freed now.
   */
  evict(name: string): void {
    const s = this.slot(name);
    if (s.linear.weight instanceof DeferredMatrix) return;
    for (const w of [...s.held, s.linear.weight]) release(w);
    s.linear.weight = s.handle;
    s.held = [];
    this.held -= s.bytes;
    s.bytes = 0;
  }

  /** Bytes of deferred weights in memory now (each counted once, at the size it was read in). */
  get residentBytes(): number {
    return this.held;
  }

  /** The most `residentBytes` has been since the load (or the last resetPeak). */
  get peakBytes(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.held;
  }

  /**
   * Throw unless every deferred weight (of block `block`, or all) is loaded: a deferred weight never reaches a
   * kernel. `what` names the call.
   */
  checkLoaded(what: string, block?: number): void {
    for (const [name, s] of this.slots) {
      if (block !== undefined && s.handle.block !== block) continue;
      if (s.linear?.weight === s.handle) {
        throw new Error(
          `${what}: ${name} was deferred at load (LoadOptions.defer) and is not loaded; ` +
            'call deferredMatrices(model).load(name) first, or load the model without defer',
        );
      }
    }
  }
}

const registry = new WeakMap<object, DeferredMatrices>();

/** Attach `d` to `model` (loadModel does this). */
export function attachDeferred(model: object, d: DeferredMatrices): void {
  registry.set(model, d);
}

/**
 * The deferred matrices of a model loaded with LoadOptions.defer (undefined otherwise).
 *
 * ```ts
 * const folder = openHfFolder('models/big');
 * const lm = loadCausalLM(folder, { defer: true }); // block linears not read yet
 * const d = deferredMatrices(lm)!;
 * for (const n of d.names()) { d.load(n); …; d.evict(n); }
 * folder.close();
 * ```
 */
export function deferredMatrices(model: object): DeferredMatrices | undefined {
  return registry.get(model);
}
