/** Test helpers for the io layer (not re-exported): temp folders and hand-crafted safetensors bytes. */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder and a function that removes it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sparsekit-io-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Write a safetensors file byte by byte: `header` (object → compact JSON, or raw text) is preceded by
 * its length (or `declaredLength`, to lie about it) and followed by `data`.
 */
export function craftSafetensors(
  path: string,
  header: object | string,
  data: Uint8Array,
  declaredLength?: bigint,
): void {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  const out = new Uint8Array(8 + json.length + data.length);
  out.set(prefix, 0);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  writeFileSync(path, out);
}

/** `n` deterministic pseudo-random bytes (xorshift32 from `seed`). */
export function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
