/**
 * Weights kept resident in WebAssembly memory: packed once per (runtime, owner object, tag), freed when
 * the owner is garbage-collected or `release(owner)` is called. Call `release` after changing a
 * tensor's data in place (e.g. a training step) so the next kernel call uploads the new values.
 *
 * Kernel arrays: a typed array whose elements live in kernel memory itself (`kernelArray`,
 * `toKernelMemory`, `inKernelMemory`). Kernels read it in place, so a weight loaded this way exists once
 * (no JS copy beside a resident copy) and an edit through the array is what the next kernel call sees,
 * without `release`. Only where the memory is shared (views on a growable shared memory stay valid when it
 * grows); the single-thread build's memory.grow would detach them, so there the functions return JS arrays
 * and kernels keep uploading copies.
 */

import type { HalfMatrix } from '../formats/half.js';
import { Tensor } from '../tensor/tensor.js';
import { type HostArray, runtime, type WasmRuntime } from './wasm.js';

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

let releases = 0;

/** A number that changes at every `release`: what was built from a resident copy before it is stale. */
export function residentGeneration(): number {
  return releases;
}

// The last entry looked up per owner: a decode step asks for each weight's one entry 211 times a token.
const lastHit = new WeakMap<object, { rt: WasmRuntime; tag: string; value: unknown }>();

/** The resident copy of `owner` under `tag` in `rt`, built by `build` the first time. */
export function resident<T>(rt: WasmRuntime, owner: object, tag: string, build: () => Resident<T>): T {
  const last = lastHit.get(owner);
  if (last !== undefined && last.rt === rt && last.tag === tag) return last.value as T;
  const value = residentEntry(rt, owner, tag, build);
  lastHit.set(owner, { rt, tag, value });
  return value;
}

function residentEntry<T>(rt: WasmRuntime, owner: object, tag: string, build: () => Resident<T>): T {
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

/**
 * Free every resident copy of `owner` now (it is rebuilt on next use). Data that is a kernel array is read in
 * place and has no copy to free; it is freed when the array is garbage-collected.
 */
export function release(owner: object): void {
  releases++;
  lastHit.delete(owner);
  const map = byOwner.get(owner);
  if (!map) return;
  for (const { rt, entry } of map.values()) for (const p of entry.ptrs) rt.free(p);
  byOwner.delete(owner);
  heldByOwner.delete(owner);
  registry.unregister(owner);
}

/** Where a kernel array lives. */
interface KernelRegion {
  rt: WasmRuntime;
  ptr: number;
}

const kernelRegions = new WeakMap<HostArray, KernelRegion>();
// The region is freed when the array object itself is collected: a Tensor, a reshape of it and a HalfMatrix
// all hold that same object. A subarray() of it is a different object and does not keep the region alive.
const regionRegistry = new FinalizationRegistry<KernelRegion>(({ rt, ptr }) => rt.free(ptr));

/** Whether `rt` can hand out kernel arrays (its memory is shared, so views survive memory.grow). */
export function kernelArraysSupported(rt: WasmRuntime): boolean {
  return typeof SharedArrayBuffer === 'function' && rt.memory.buffer instanceof SharedArrayBuffer;
}

type ArrayCtor<A extends HostArray> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): A;
  new (length: number): A;
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * A zeroed array of `length` elements in `rt`'s kernel memory (a plain JS array where kernel arrays are not
 * supported). Freed when the array is garbage-collected; a subarray of it does not keep it alive.
 * @example const k = kernelArray(runtime(), Float32Array, Hkv * cap * d) // a KV buffer kernels read in place
 */
export function kernelArray<A extends HostArray>(rt: WasmRuntime, ctor: ArrayCtor<A>, length: number): A {
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(`kernelArray: length must be an integer ≥ 0, got ${length}`);
  }
  if (!kernelArraysSupported(rt)) return new ctor(length);
  const ptr = rt.alloc(length * ctor.BYTES_PER_ELEMENT);
  const a = new ctor(rt.memory.buffer, ptr, length);
  a.fill(0);
  kernelRegions.set(a, { rt, ptr });
  regionRegistry.register(a, { rt, ptr });
  return a;
}

/** Byte offset of `a` in `rt`'s memory when it is a kernel array of `rt` (not a subarray of one), else undefined. */
export function kernelOffset(rt: WasmRuntime, a: HostArray): number | undefined {
  const r = kernelRegions.get(a);
  return r?.rt === rt ? r.ptr : undefined;
}

/** `src` copied into a kernel array of `rt` (`src` itself if it already is one, or kernel arrays are unsupported). */
export function toKernelMemory<A extends HostArray>(rt: WasmRuntime, src: A): A {
  if (kernelOffset(rt, src) !== undefined || !kernelArraysSupported(rt)) return src;
  const a = kernelArray(rt, src.constructor as ArrayCtor<A>, src.length);
  a.set(src as never);
  return a;
}

/**
 * A weight whose data lives in the process runtime's kernel memory: a new Tensor or HalfMatrix over a kernel
 * array holding a copy of `w`'s data (`w` itself when it is already there or the runtime has no shared
 * memory). Kernels then read it in place: the weight costs its size once, and edits through `.data` are seen
 * by the next kernel call with no `release`. Drop the original so its JS copy is collected (model loading
 * does this for every matrix it reads).
 * @example const w = inKernelMemory(randn([1024, 1024], 1)); matmul(w, x) // no upload, no second copy
 */
export function inKernelMemory<W extends Tensor | HalfMatrix>(w: W): W {
  const rt = runtime();
  const data = toKernelMemory(rt, w.data);
  if (data === w.data) return w;
  if (w instanceof Tensor) return new Tensor(data as Float32Array, w.shape) as W;
  const h = w as HalfMatrix;
  return { format: h.format, rows: h.rows, cols: h.cols, data: data as Uint16Array } as HalfMatrix as W;
}
