/** Benchmark result records, machine info, and safe reading/writing of the JSON files in bench/results. */

import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { KernelCaseSpec } from './cases.js';
import type { ModelsRun } from './models.js';
import type { PruneRun } from './prune.js';
import type { QualityRun } from './quality.js';
import type { TrainRun } from './train.js';

/** What a case's timing came to. `no fast path`: the format only has a reference, so it was not timed. */
export type CaseStatus = 'ok' | 'no fast path' | 'unavailable' | 'error';

/** One measured (or skipped) case. Times in ms; rates per second; ratios are speed-ups (> 1 = faster). */
export interface CaseResult extends KernelCaseSpec {
  id: string;
  status: CaseStatus;
  /** Why a case was not timed, or what to know about it. */
  note?: string;
  /** Non-zeros multiplied; bytes of the weight a call streams (cases.ts); nbytes of the stored format object. */
  nnz: number;
  weightBytes: number;
  measuredWeightBytes?: number;
  copies?: number;
  samples?: number;
  /** Every timed call (ms), in order: baselines pool these over their passes. */
  ms?: number[];
  medianMs?: number;
  minMs?: number;
  /** 2·nnz·N / median. */
  usefulGflops?: number;
  /** 2·M·K·N / median (what a dense kernel would need to match). */
  denseEqGflops?: number;
  /** (weight + input + output bytes) / median. */
  gbps?: number;
  /** Median of sparsekit dense on the same shape, batch and threads ÷ this median. */
  vsDense?: number;
  /** Median of onnxruntime dense (its faster layout) on the same shape, batch and threads ÷ this median. */
  vsOrt?: number;
  /** This onnxruntime record is the faster layout, the one ratios use. */
  peerBaseline?: boolean;
  /** relError of the first output's check rows against the exact product (f64 sums in TypeScript). */
  relError?: number;
  /**
   * Column-sparse GEMV cases: the rate its read pattern streams at with nothing computed (columnStream over the same
   * copies), for its active columns and for all columns in order, in bytes/s (medians).
   */
  columnStream?: { activeBytesPerSecond: number; allBytesPerSecond: number };
}

/** Where a suite ran. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  llcBytes: number;
  llcSource: string;
  memoryBytes: number;
  node: string;
  v8: string;
  wasmVariant: string;
  onnxruntime: string;
  /** Fraction of all cores other processes kept busy during the run (null if unknown); near 0 = quiet. */
  otherCpuShare: number | null;
}

/** One suite run, as written to bench/results/<suite>[-quick].json. */
export interface SuiteResult {
  suite: string;
  mode: 'full' | 'quick' | 'partial';
  /** The command that produced this file. */
  command: string;
  date: string;
  durationSeconds: number;
  machine: MachineInfo;
  options: { threads: number[]; reps: number; only?: string };
  /** Kernel cases (empty for the models suite). */
  cases: CaseResult[];
  /** The models suite's measurements. */
  models?: ModelsRun;
  /** The prune suite's measurements. */
  prune?: PruneRun;
  /** The train suite's measurements. */
  train?: TrainRun;
  /** The quality suite's perplexity table. */
  quality?: QualityRun;
}

/** Machine facts for the results header (`wasmVariant`/`onnxruntime`/`otherCpuShare` are filled by the suite). */
export function machineInfo(llc: { bytes: number; source: string }): MachineInfo {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    llcBytes: llc.bytes,
    llcSource: llc.source,
    memoryBytes: totalmem(),
    node: process.version,
    v8: process.versions.v8,
    wasmVariant: 'unknown',
    onnxruntime: 'not loaded',
    otherCpuShare: null,
  };
}

/** The file a run writes: full runs `<suite>.json`, `--quick` `<suite>-quick.json`, `--only` `<suite>-partial.json`. */
export function resultFile(dir: string, suite: string, mode: SuiteResult['mode']): string {
  return join(dir, mode === 'full' ? `${suite}.json` : `${suite}-${mode}.json`);
}

/** Write `text` to `file` atomically: a temp file in the same folder, then a rename. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } finally {
    if (existsSync(tmp)) rmSync(tmp);
  }
}

/** Every suite result in `dir` (files ending in .json), sorted by file name; unreadable files are reported. */
export function readResults(dir: string): { results: SuiteResult[]; problems: string[] } {
  const results: SuiteResult[] = [];
  const problems: string[] = [];
  if (!existsSync(dir)) return { results, problems };
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(join(dir, name), 'utf8')) as SuiteResult;
      if (typeof r.suite !== 'string' || !Array.isArray(r.cases)) throw new Error('not a suite result');
      results.push(r);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
  }
  return { results, problems };
}
