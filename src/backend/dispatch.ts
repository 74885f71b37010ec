/**
 * Op dispatch by (op, formats). Each key has a TypeScript reference and, usually, a WebAssembly fast
 * path. A key with no fast path runs its reference only under an explicit policy: `warn` (default,
 * once per key) or `throw`. Registering the same key twice throws.
 */

import { noticeOnce } from './wasm.js';

/** What to do when an op has no fast kernel for its formats. */
export type FallbackPolicy = 'warn' | 'throw';
/** Which implementations to use: fast kernels where registered (`auto`) or only references. */
export type BackendMode = 'auto' | 'reference';

// biome-ignore lint/suspicious/noExplicitAny: implementations have op-specific signatures
type AnyFn = (...args: any[]) => any;

interface Entry {
  fast?: AnyFn;
  reference?: AnyFn;
}

const table = new Map<string, Entry>();
let policy: FallbackPolicy = 'warn';
let mode: BackendMode = 'auto';
let generation = 0;

/** A number that changes whenever what `resolve` returns may change (a registration, the mode or the policy). */
export function dispatchGeneration(): number {
  return generation;
}

/** The registry key of an op on some formats, e.g. `matmul(csr,dense)`. */
export function opKey(op: string, formats: readonly string[]): string {
  return `${op}(${formats.join(',')})`;
}

/** Register an implementation; `kind` says whether it is the fast path or the reference. */
export function register(
  op: string,
  formats: readonly string[],
  kind: 'fast' | 'reference',
  fn: AnyFn,
): void {
  const key = opKey(op, formats);
  const entry = table.get(key) ?? {};
  if (entry[kind]) throw new Error(`dispatch: ${kind} implementation of ${key} is registered twice`);
  entry[kind] = fn;
  table.set(key, entry);
  generation++;
}

/** Set what happens when a fast path is missing (`warn` once per op, or `throw`). */
export function setFallbackPolicy(p: FallbackPolicy): void {
  if (p !== 'warn' && p !== 'throw')
    throw new Error(`setFallbackPolicy: expected "warn" or "throw", got "${p}"`);
  policy = p;
  generation++;
}

/** Current fallback policy. */
export function fallbackPolicy(): FallbackPolicy {
  return policy;
}

/** Use fast kernels where they exist (`auto`) or force every op onto its TypeScript reference. */
export function setBackendMode(m: BackendMode): void {
  if (m !== 'auto' && m !== 'reference')
    throw new Error(`setBackendMode: expected "auto" or "reference", got "${m}"`);
  mode = m;
  generation++;
}

/** Current backend mode. */
export function backendMode(): BackendMode {
  return mode;
}

/** The implementation to run for (op, formats), applying the fallback policy. */
export function resolve<F extends AnyFn>(op: string, formats: readonly string[]): F {
  const key = opKey(op, formats);
  const entry = table.get(key);
  if (!entry || (!entry.fast && !entry.reference)) {
    throw new Error(`dispatch: no implementation of ${key}; registered: ${[...table.keys()].join(', ')}`);
  }
  if (mode === 'reference') {
    if (entry.reference) return entry.reference as F;
    return entry.fast as F;
  }
  if (entry.fast) return entry.fast as F;
  if (policy === 'throw') {
    throw new Error(`dispatch: no fast kernel for ${key} and the fallback policy is "throw"`);
  }
  noticeOnce(
    `fallback:${key}`,
    `no fast kernel for ${key}; using the TypeScript reference (setFallbackPolicy('throw') makes this an error)`,
  );
  return entry.reference as F;
}

/** Every registered key with which implementations it has (for docs and `sparsekit kernels`). */
export function registeredOps(): Array<{ key: string; fast: boolean; reference: boolean }> {
  return [...table.entries()]
    .map(([key, e]) => ({ key, fast: Boolean(e.fast), reference: Boolean(e.reference) }))
    .sort((a, b) => a.key.localeCompare(b.key));
}
