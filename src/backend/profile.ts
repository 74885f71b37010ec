/**
 * Kernel profile: wall time and calls of every WebAssembly kernel the runtime runs while a profile is open
 * (WasmRuntime.startProfile / stopProfile). A row-parallel run (WasmRuntime.parallel) counts once, with the time
 * the caller waited for all threads; what is not inside a kernel call is host time (JavaScript: dispatch, copies,
 * the parts of a model written in TypeScript).
 */

/** One kernel's share of a profile. */
export interface KernelTiming {
  /** The kernel's export name, e.g. `gemv_bf16_f32`. */
  readonly kernel: string;
  /** Calls (a parallel run is one call). */
  readonly calls: number;
  /** Wall milliseconds inside the kernel's calls. */
  readonly ms: number;
}

/** Calls and time per kernel, filled while open. */
export class KernelProfile {
  private readonly byKernel = new Map<string, { calls: number; ms: number }>();
  private openedAt = performance.now();
  private closedAt: number | undefined;

  /** Add one call of `kernel` that took `ms`. */
  record(kernel: string, ms: number): void {
    const e = this.counter(kernel);
    e.calls++;
    e.ms += ms;
  }

  /** The running totals of `kernel`, for a caller that records many calls of it (a timing wrapper). */
  counter(kernel: string): { calls: number; ms: number } {
    let e = this.byKernel.get(kernel);
    if (!e) {
      e = { calls: 0, ms: 0 };
      this.byKernel.set(kernel, e);
    }
    return e;
  }

  /** Mark the profile closed (its wall time stops growing). */
  close(): void {
    this.closedAt ??= performance.now();
  }

  /** Wall milliseconds from open to close (or now, while open). */
  get wallMs(): number {
    return (this.closedAt ?? performance.now()) - this.openedAt;
  }

  /** Milliseconds inside kernel calls. */
  get kernelMs(): number {
    let s = 0;
    for (const e of this.byKernel.values()) s += e.ms;
    return s;
  }

  /** Every kernel called, the most time first. */
  timings(): KernelTiming[] {
    return [...this.byKernel]
      .filter(([, e]) => e.calls > 0)
      .map(([kernel, e]) => ({ kernel, calls: e.calls, ms: e.ms }))
      .sort((a, b) => b.ms - a.ms || a.kernel.localeCompare(b.kernel));
  }
}

/** What a kernel does, from its export name: the groups a model's time is reported in. */
export type KernelCategory = 'matmul' | 'attention' | 'norm+activation' | 'other';

/** The category of a kernel export name (`gemv_bf16_f32` → matmul, `decode_attention_bf16` → attention). */
export function kernelCategory(kernel: string): KernelCategory {
  if (/attention|softmax/.test(kernel)) return 'attention';
  if (/^(gemv|gemm|csr|bsr|nm\d*|coo|bitmask|colsparse|spmm|spmv|half_pack)/.test(kernel)) return 'matmul';
  if (/norm|activate|gelu|silu|relu/.test(kernel)) return 'norm+activation';
  return 'other';
}
