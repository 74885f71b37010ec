/**
 * Weights kept resident in WebAssembly memory: packed once per (runtime, owner object, tag), freed when
 * the owner is garbage-collected or `release(owner)` is called. Call `release` after changing a
 * tensor's data in place (e.g. a training step) so the next kernel call uploads the new values.
 */

import type { WasmRuntime } from './wasm.js';

/** A packed copy of some host data in kernel memory. */
export interface Resident<T> {
  /** Heap blocks owned by this entry. */
  ptrs: number[];
  /** Whatever the kernel needs (offsets, sizes). */
  value: T;
}

interface Held {
  rt: WasmRuntime;
  ptrs: number[];
}

const byOwner = new WeakMap<object, Map<string, { rt: WasmRuntime; entry: Resident<unknown> }>>();
const registry = new FinalizationRegistry<Held[]>((held) => {
  for (const h of held) for (const p of h.ptrs) h.rt.free(p);
});
const heldByOwner = new WeakMap<object, Held[]>();
let nextRuntimeId = 0;
const runtimeIds = new WeakMap<WasmRuntime, number>();

function rtId(rt: WasmRuntime): number {
  let id = runtimeIds.get(rt);
  if (id === undefined) {
    id = nextRuntimeId++;
    runtimeIds.set(rt, id);
  }
  return id;
}

/** The resident copy of `owner` under `tag` in `rt`, built by `build` the first time. */
export function resident<T>(rt: WasmRuntime, owner: object, tag: string, build: () => Resident<T>): T {
  let map = byOwner.get(owner);
  if (!map) {
    map = new Map();
    byOwner.set(owner, map);
  }
  const key = `${rtId(rt)}:${tag}`;
  const hit = map.get(key);
  if (hit) return hit.entry.value as T;
  const entry = build();
  map.set(key, { rt, entry });
  let held = heldByOwner.get(owner);
  if (!held) {
    held = [];
    heldByOwner.set(owner, held);
    registry.register(owner, held, owner);
  }
  held.push({ rt, ptrs: entry.ptrs });
  return entry.value;
}

/** Free every resident copy of `owner` now (it is rebuilt on next use). */
export function release(owner: object): void {
  const map = byOwner.get(owner);
  if (!map) return;
  for (const { rt, entry } of map.values()) for (const p of entry.ptrs) rt.free(p);
  byOwner.delete(owner);
  heldByOwner.delete(owner);
  registry.unregister(owner);
}
