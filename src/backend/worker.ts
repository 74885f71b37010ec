/** Thread-pool worker: instantiates the shared kernels and runs the jobs posted in its control slot. */

import { workerData } from 'node:worker_threads';
import type { KernelFn, WorkerInit } from './pool.js';

const SLOT_I32 = 16;
const SLOT_F64 = 32;
const IDLE = 0;
const BUSY = 1;
const FAILED = 2;

const init = workerData as WorkerInit;
const instance = new WebAssembly.Instance(init.module, {
  env: {
    memory: init.memory,
    abort: () => {
      throw new Error('sparsekit kernel aborted');
    },
  },
});
const exports = instance.exports as Record<string, KernelFn>;
const table = init.kernels.map((name) => exports[name]!);
const flags = new Int32Array(init.control);
const args = new Float64Array(init.args);
const at = init.slot * SLOT_I32;
const base = init.slot * SLOT_F64;
const scratch: number[] = [];

Atomics.store(flags, at, IDLE);
Atomics.notify(flags, at);

for (;;) {
  // Spin for up to init.spinMicros after each job before sleeping: back-to-back calls (a decode step runs
  // hundreds of small ones) then find the worker awake instead of paying a futex wake-up each.
  const until = performance.now() + init.spinMicros / 1000;
  for (let i = 1; Atomics.load(flags, at) !== BUSY; i++)
    if ((i & 255) === 0 && performance.now() > until) break;
  while (Atomics.load(flags, at) !== BUSY) Atomics.wait(flags, at, IDLE);
  const fn = table[args[base]!]!;
  const n = args[base + 1]!;
  scratch.length = n;
  for (let i = 0; i < n; i++) scratch[i] = args[base + 2 + i]!;
  let state = IDLE;
  try {
    fn(...scratch);
  } catch {
    state = FAILED;
  }
  Atomics.store(flags, at, state);
  Atomics.notify(flags, at);
}
