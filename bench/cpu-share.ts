/**
 * How much CPU other processes took while a benchmark ran: the machine's busy CPU time (from
 * /proc/stat) minus this process's own (all its threads, onnxruntime's included), as a fraction of
 * all cores over the wall time. A figure near 0 means the timings saw a quiet machine.
 */

import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** A point in time: wall clock, the machine's busy CPU seconds (null if unknown), this process's CPU seconds. */
export interface CpuSnapshot {
  wall: number;
  machineBusy: number | null;
  own: number;
}

/** USER_HZ: the unit of /proc/stat (100 on every mainstream Linux build). */
const TICKS_PER_SECOND = 100;

/** Busy seconds in a /proc/stat aggregate `cpu` line: everything but idle and iowait (guest is inside user). */
export function busySeconds(procStat: string): number | null {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal [guest guest_nice]
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0);
  return Number.isFinite(busy) ? busy / TICKS_PER_SECOND : null;
}

/** Take a snapshot now. */
export function cpuSnapshot(): CpuSnapshot {
  const u = process.cpuUsage();
  const stat = '/proc/stat';
  return {
    wall: performance.now() / 1000,
    machineBusy: existsSync(stat) ? busySeconds(readFileSync(stat, 'utf8')) : null,
    own: (u.user + u.system) / 1e6,
  };
}

/** Fraction of all cores other processes kept busy between two snapshots (null when unknown). */
export function otherCpuShare(a: CpuSnapshot, b: CpuSnapshot, cores = availableParallelism()): number | null {
  if (a.machineBusy === null || b.machineBusy === null || b.wall <= a.wall) return null;
  const others = b.machineBusy - a.machineBusy - (b.own - a.own);
  return Math.min(1, Math.max(0, others / ((b.wall - a.wall) * cores)));
}

/** Other processes' CPU share over the next `ms` milliseconds (a check before a run starts). */
export async function otherCpuShareNow(ms = 1000): Promise<number | null> {
  const a = cpuSnapshot();
  await new Promise((r) => setTimeout(r, ms));
  return otherCpuShare(a, cpuSnapshot());
}
