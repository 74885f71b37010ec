// Gathers of x by column indices, shared by the CSR SpMV kernels (csr.ts, csr-half.ts).
//
// The resident CSR's u16 column indices are byte offsets (column · 4, relative to the panel's first column), read
// four at a time as one u64. When x fits in X_SCRATCH_BYTES, the host has copied x to the fixed address X_SCRATCH
// (csr.ts spmv_x_scratch), and the kernel adds the panel's offset to all four fields with one add (no carry: every
// field stays below 64 KiB), so each gathered element costs one lane load whose address is a field plus a constant
// the compiler folds into the load. Measured against the previous gather (a u16 load, then x + index·4, per element), same process, one
// thread, relaxed build, SmolLM-135M's 210 linear shapes at 70% with bf16 values (31.8 M non-zeros): 7.4–7.8 →
// 6.5–6.8 ms a pass. u16 loads with the constant base, or u64 loads with a variable x, were no faster (1–2%) or
// slower (8–12%): it takes both.

/** Kernel memory [X_SCRATCH, X_SCRATCH + X_SCRATCH_BYTES) is kept free for x (scripts/build-wasm.mjs --memoryBase). */
export const X_SCRATCH: usize = 0;
/** Bytes of x the scratch holds: 16384 columns, the most whose byte offsets fit in a u16. */
export const X_SCRATCH_BYTES: usize = 65536;

/** `bias` (a byte offset below 64 KiB) in each of a u64's four u16 fields. */
// @ts-ignore: decorator
@inline export function fieldBias(bias: usize): u64 {
  return <u64>bias * 0x0001_0001_0001_0001;
}

/** (x[a], x[b], x[c], x[d]) for four byte offsets from x (x a constant folds into the loads). */
// @ts-ignore: decorator
@inline export function gatherAt(x: usize, a: u32, b: u32, c: u32, d: u32): v128 {
  let g = v128.load32_zero(x + <usize>a);
  g = v128.load32_lane(x + <usize>b, g, 1);
  g = v128.load32_lane(x + <usize>c, g, 2);
  return v128.load32_lane(x + <usize>d, g, 3);
}

/** x at the four byte offsets in the u16 fields of w, in order. */
// @ts-ignore: decorator
@inline export function gatherFields(x: usize, w: u64): v128 {
  const lo = <u32>w;
  const hi = <u32>(w >> 32);
  return gatherAt(x, lo & 0xffff, lo >> 16, hi & 0xffff, hi >> 16);
}

/** x at fields 0 and 2 of w0, then 0 and 2 of w1 (the even entries of eight). */
// @ts-ignore: decorator
@inline export function gatherEvenFields(x: usize, w0: u64, w1: u64): v128 {
  return gatherAt(x, <u32>w0 & 0xffff, <u32>(w0 >> 32) & 0xffff, <u32>w1 & 0xffff, <u32>(w1 >> 32) & 0xffff);
}

/** x at fields 1 and 3 of w0, then 1 and 3 of w1 (the odd entries of eight). */
// @ts-ignore: decorator
@inline export function gatherOddFields(x: usize, w0: u64, w1: u64): v128 {
  return gatherAt(x, <u32>w0 >> 16, <u32>(w0 >> 48), <u32>w1 >> 16, <u32>(w1 >> 48));
}
