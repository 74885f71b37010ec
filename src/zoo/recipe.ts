/** What every zoo recipe shares: build options, the result, and the resume/segment bookkeeping. */

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeAll, writeFileAtomic } from '../io/atomic.js';

/** Options of a build. */
export interface BuildOptions {
  /** The zoo folder (the model goes to `<root>/<name>`). */
  root: string;
  /** Continue an interrupted build from its checkpoint (else an existing checkpoint is an error). */
  resume?: boolean;
  /** Discard an existing checkpoint and start over. */
  fresh?: boolean;
  /** Kernel threads the build ran on (recorded). */
  threads: number;
  /** Progress lines (default stderr). */
  log?: (line: string) => void;
  /** 'bar' or 'lines' (default: bar on a TTY). */
  progress?: 'bar' | 'lines' | 'none';
  /** The command line recorded in TRAINING.md. */
  command?: string;
}

/** What a build returns. */
export interface BuildResult {
  /** False when Ctrl-C stopped it (the checkpoint is saved; resume with --resume). */
  complete: boolean;
  /** The model folder (when complete). */
  dir: string;
  metrics: Record<string, number>;
}

/** A named, fully specified way to make one zoo model. */
export interface ZooRecipe {
  readonly name: string;
  readonly kind: 'vision' | 'lm';
  readonly description: string;
  /** Every hyperparameter, as recorded. */
  readonly hyperparameters: Record<string, unknown>;
  build(options: BuildOptions): Promise<BuildResult>;
}

/** A recipe of `kind` whose build is `build(name, description, hyper, options)`. */
export function makeRecipe<H extends object>(
  kind: ZooRecipe['kind'],
  build: (name: string, description: string, hyper: H, options: BuildOptions) => Promise<BuildResult>,
): (name: string, description: string, hyper: H) => ZooRecipe {
  return (name, description, hyper) => ({
    name,
    kind,
    description,
    hyperparameters: hyper as unknown as Record<string, unknown>,
    build: (o) => build(name, description, hyper, o),
  });
}

/** Thrown when a build cannot start as asked (e.g. a checkpoint exists and neither resume nor fresh was given). */
export class BuildError extends Error {}

/**
 * Prepare a build's scratch folder: with `fresh`, drop its checkpoint; without `resume`, refuse an existing
 * checkpoint; with `resume`, refuse a checkpoint made with other hyperparameters. Returns the checkpoint path.
 */
export function prepareWork(
  work: string,
  name: string,
  hyper: Record<string, unknown>,
  o: BuildOptions,
): { checkpoint: string; priorSeconds: number; addSeconds: (s: number) => void } {
  const checkpoint = join(work, 'checkpoint.safetensors');
  const hyperFile = join(work, 'hyperparameters.json');
  const secondsFile = join(work, 'seconds.json');
  const hyperText = `${JSON.stringify(hyper, null, 2)}\n`;
  if (o.fresh) for (const f of [checkpoint, hyperFile, secondsFile]) rmSync(f, { force: true });
  if (existsSync(checkpoint)) {
    if (!o.resume)
      throw new BuildError(
        `${name}: an interrupted build left ${checkpoint}; pass --resume to continue it or --fresh to start over`,
      );
    if (existsSync(hyperFile) && readFileSync(hyperFile, 'utf8') !== hyperText)
      throw new BuildError(
        `${name}: ${checkpoint} was made with other hyperparameters (${hyperFile}); pass --fresh to start over`,
      );
  }
  const text = (path: string, s: string) =>
    writeFileAtomic(path, (fd) => writeAll(fd, new TextEncoder().encode(s)));
  text(hyperFile, hyperText);
  let priorSeconds = 0;
  if (existsSync(checkpoint) && existsSync(secondsFile))
    priorSeconds = Number(JSON.parse(readFileSync(secondsFile, 'utf8')).seconds) || 0;
  return {
    checkpoint,
    priorSeconds,
    addSeconds: (s) => text(secondsFile, `${JSON.stringify({ seconds: priorSeconds + s })}\n`),
  };
}
