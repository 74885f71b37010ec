/**
 * TensorSpool: tensors appended to one scratch file in the order they are produced (e.g. block by block while
 * streaming a prune), then handed back as lazy writer entries that read one tensor at a time. The final
 * safetensors files can then be laid out exactly as the in-memory writer lays them out (sorted, sharded),
 * while memory holds one tensor at a time.
 */

import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { writeAll } from './atomic.js';
import { arrayMatchesDType, DTYPES, type SafeDType, type TensorArray } from './dtypes.js';
import type { TensorEntry } from './safetensors-write.js';

interface Spooled {
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly bytes: number;
}

/** A scratch file of tensors; `close()` deletes it. */
export class TensorSpool {
  private fd: number | null;
  private end = 0;
  private readonly index = new Map<string, Spooled>();

  /** Create the scratch file at `path` (it must not exist). */
  constructor(readonly path: string) {
    this.fd = openSync(path, 'wx+');
  }

  private open(): number {
    if (this.fd === null) throw new Error(`${this.path}: the tensor spool is closed`);
    return this.fd;
  }

  /** Append tensor `name` (its `data` is computed now, written, and not kept). */
  put(name: string, e: TensorEntry): void {
    const fd = this.open();
    if (this.index.has(name)) throw new Error(`${this.path}: tensor "${name}" is spooled twice`);
    const data = typeof e.data === 'function' ? e.data() : e.data;
    const n = e.shape.reduce((a, d) => a * d, 1);
    if (!arrayMatchesDType(e.dtype, data) || data.length !== n) {
      throw new Error(
        `${this.path}: tensor "${name}" is ${e.dtype} [${e.shape.join(', ')}] but its data is a ${data.constructor.name} of ${data.length}`,
      );
    }
    writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.index.set(name, { dtype: e.dtype, shape: [...e.shape], offset: this.end, bytes: data.byteLength });
    this.end += data.byteLength;
  }

  has(name: string): boolean {
    return this.index.has(name);
  }

  /** Bytes spooled so far. */
  get bytes(): number {
    return this.end;
  }

  /** A writer entry for spooled tensor `name`: its data is read back from the file when the writer asks. */
  entry(name: string): TensorEntry {
    const t = this.index.get(name);
    if (!t) throw new RangeError(`${this.path}: tensor "${name}" was not spooled`);
    const data = (): TensorArray => {
      const fd = this.open();
      const buf = new ArrayBuffer(t.bytes);
      const bytes = new Uint8Array(buf);
      let done = 0;
      while (done < t.bytes) {
        const got = readSync(fd, bytes, done, t.bytes - done, t.offset + done);
        if (got === 0) throw new Error(`${this.path}: tensor "${name}" is cut short (spool truncated?)`);
        done += got;
      }
      return new DTYPES[t.dtype].array(buf, 0, t.bytes / DTYPES[t.dtype].bytes);
    };
    return { dtype: t.dtype, shape: t.shape, data };
  }

  /** Close and delete the scratch file (safe to call twice). */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    rmSync(this.path, { force: true });
  }
}
