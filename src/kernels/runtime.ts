// Runtime facts the host needs: where static data ends, so the host heap starts above it.
// Kernels never allocate: the host owns the heap and passes byte offsets.

/** First byte the host may allocate (above static data such as lookup tables). */
export function heap_base(): usize {
  return __heap_base;
}
