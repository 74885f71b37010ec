/** Atomic writes: build a file or folder under a temporary name beside the target, then rename it. */

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Write all of `bytes` at the file's current position (writeSync may write less than asked). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
  }
}

/**
 * Create `path` by calling `write(fd)` on a temporary file in the same folder, fsync it and rename it
 * over `path`. A crash or a throw leaves `path` as it was (and no temporary file behind on a throw).
 */
export function writeFileAtomic(path: string, write: (fd: number) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fd = openSync(tmp, 'wx');
  try {
    write(fd);
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, path);
}

/** Options for `writeDirAtomic`. */
export interface AtomicDirOptions {
  /** Replace an existing folder at the target (default false: an existing target is an error). */
  overwrite?: boolean;
}

/**
 * Create folder `dir` by calling `fill(tmpDir)` on a fresh temporary folder beside it, then renaming it
 * to `dir`. With `overwrite`, an existing `dir` is moved aside first and removed only after the rename,
 * so at every moment either the old or the complete new folder is at `dir`.
 */
export function writeDirAtomic(
  dir: string,
  fill: (tmpDir: string) => void,
  options: AtomicDirOptions = {},
): void {
  if (existsSync(dir) && !options.overwrite) {
    throw new Error(`${dir} already exists; pass { overwrite: true } to replace it`);
  }
  const tmp = mkdtempSync(join(dirname(dir), `.${basename(dir)}.tmp-`));
  try {
    fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (existsSync(dir)) {
    const old = mkdtempSync(join(dirname(dir), `.${basename(dir)}.old-`));
    renameSync(dir, join(old, 'previous'));
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, dir);
  }
}
