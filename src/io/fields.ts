/** Typed field readers for JSON config files: a default when absent, an IoError naming the field when wrong. */

import { IoError } from './errors.js';

/** A parsed JSON object. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** Whether `v` is a JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Reads fields of one JSON object; `null` counts as absent (transformers writes `"head_dim": null`).
 * Every error starts with the file and names the field: `config.json: "n_head" must be an integer ≥ 1, got 0`.
 */
export class Fields {
  constructor(
    readonly file: string,
    readonly raw: JsonObject,
  ) {}

  /** Whether the field is present and not null. */
  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  fail(key: string, want: string): never {
    throw new IoError(this.file, `"${key}" must be ${want}, got ${JSON.stringify(this.raw[key])}`, key);
  }

  int(key: string, fallback: number, min = 1): number {
    if (!this.has(key)) return fallback;
    const v = this.raw[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(key, `an integer ≥ ${min}`);
    return v;
  }

  /** An integer field with no default: null when absent. */
  optInt(key: string, min = 0): number | null {
    return this.has(key) ? this.int(key, 0, min) : null;
  }

  /** A finite number > 0 (epsilons, theta, factors). */
  positive(key: string, fallback: number): number {
    if (!this.has(key)) return fallback;
    const v = this.raw[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(key, 'a finite number > 0');
    return v;
  }

  /** A finite number in [min, max]. */
  range(key: string, fallback: number, min: number, max: number): number {
    if (!this.has(key)) return fallback;
    const v = this.raw[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      this.fail(key, `a number in [${min}, ${max}]`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const v = this.raw[key];
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  str(key: string, fallback: string): string {
    if (!this.has(key)) return fallback;
    const v = this.raw[key];
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }

  /** A field that must be present (no default exists for it). */
  required(key: string): unknown {
    if (!this.has(key)) throw new IoError(this.file, `is missing the required field "${key}"`, key);
    return this.raw[key];
  }

  /** A token id (integer ≥ 0) or null; `fallback` when absent. */
  tokenId(key: string, fallback: number | null): number | null {
    if (!(key in this.raw)) return fallback;
    return this.has(key) ? this.int(key, 0, 0) : null;
  }

  /** Token ids that may be written as one number or a list (`eos_token_id: 2` or `[128001, 128009]`). */
  tokenIds(key: string, fallback: readonly number[]): number[] {
    if (!(key in this.raw)) return [...fallback];
    const v = this.raw[key];
    if (v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
      this.fail(key, 'a token id or a list of token ids');
    }
    return list as number[];
  }
}
