/** What every benchmark suite shares: its options, the header of its result file, the same-run GEMM rate. */

import { matmul } from '../src/backend/ops/matmul.js';
import { randn } from '../src/tensor/random.js';
import { type CpuSnapshot, cpuSnapshot, otherCpuShare } from './cpu-share.js';
import { type MachineInfo, machineInfo, type SuiteResult } from './results.js';
import { median } from './timing.js';

/** Options every suite takes (`sparsekit bench <suite> …`). */
export interface SuiteOptions {
  quick: boolean;
  threads?: number[];
  reps?: number;
  only?: string;
  /** The command line, recorded in the results. */
  command: string;
  /** Checked between timed calls; true stops the run with Interrupted. */
  shouldStop?: () => boolean;
  /** No progress output (tests). */
  quiet?: boolean;
}

/** The fields of a result file every suite fills the same way. */
export function resultHeader(
  suite: string,
  opts: SuiteOptions,
  run: {
    started: number;
    cpuAtStart: CpuSnapshot;
    llc: { bytes: number; source: string };
    wasmVariant: string;
    onnxruntime?: string;
    threads: number[];
    reps: number;
  },
): Pick<SuiteResult, 'suite' | 'mode' | 'command' | 'date' | 'durationSeconds' | 'machine' | 'options'> {
  const machine: MachineInfo = {
    ...machineInfo(run.llc),
    wasmVariant: run.wasmVariant,
    ...(run.onnxruntime === undefined ? {} : { onnxruntime: run.onnxruntime }),
    otherCpuShare: otherCpuShare(run.cpuAtStart, cpuSnapshot()),
  };
  return {
    suite,
    mode: opts.only ? 'partial' : opts.quick ? 'quick' : 'full',
    command: opts.command,
    date: new Date().toISOString(),
    durationSeconds: (performance.now() - run.started) / 1000,
    machine,
    options: { threads: run.threads, reps: run.reps, ...(opts.only ? { only: opts.only } : {}) },
  };
}

/** Dense f32 GEMM rate (FLOP/s) of `matmul` on n×n·n×n: median of 3 after a warm-up. */
export function gemmRate(n: number): number {
  const a = randn([n, n], 21);
  const b = randn([n, n], 22);
  matmul(a, b);
  const ms: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    matmul(a, b);
    ms.push(performance.now() - t0);
  }
  return (2 * n ** 3) / (median(ms) / 1000);
}
