/** Host-side allocator over the WebAssembly memory: kernels never allocate, they get byte offsets from here. */

const PAGE = 65536;

interface Block {
  ptr: number;
  size: number;
}

/**
 * First-fit allocator with coalescing over a growable (shared) WebAssembly.Memory.
 * Every block is 64-byte aligned (one cache line, so threads never share a line at block edges).
 */
export class Heap {
  private readonly free: Block[] = [];
  private readonly live = new Map<number, number>();
  private top: number;
  private usedBytes = 0;

  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
  ) {
    this.top = align(base, 64);
  }

  /** Bytes currently allocated. */
  get used(): number {
    return this.usedBytes;
  }

  /** Allocate `bytes` (rounded up to 64) and return the byte offset. Grows memory when needed. */
  alloc(bytes: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`Heap.alloc: bad size ${bytes}`);
    const size = Math.max(64, align(bytes, 64));
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.size < size) continue;
      const ptr = b.ptr;
      if (b.size === size) this.free.splice(i, 1);
      else {
        b.ptr += size;
        b.size -= size;
      }
      return this.take(ptr, size);
    }
    const ptr = this.top;
    const end = ptr + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        throw new RangeError(
          `Heap.alloc: cannot grow WebAssembly memory to ${(end / 2 ** 20).toFixed(0)} MiB ` +
            `(the limit is 4 GiB; free unused weights with release())`,
        );
      }
    }
    this.top = end;
    return this.take(ptr, size);
  }

  /** Return a block from `alloc` to the heap. */
  release(ptr: number): void {
    const size = this.live.get(ptr);
    if (size === undefined) throw new Error(`Heap.release: ${ptr} is not a live allocation`);
    this.live.delete(ptr);
    this.usedBytes -= size;
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.free[mid]!.ptr < ptr) lo = mid + 1;
      else hi = mid;
    }
    this.free.splice(lo, 0, { ptr, size });
    // coalesce with the next and the previous block
    const next = this.free[lo + 1];
    if (next && ptr + size === next.ptr) {
      this.free[lo]!.size += next.size;
      this.free.splice(lo + 1, 1);
    }
    const prev = this.free[lo - 1];
    if (prev && prev.ptr + prev.size === ptr) {
      prev.size += this.free[lo]!.size;
      this.free.splice(lo, 1);
    }
    const last = this.free[this.free.length - 1];
    if (last && last.ptr + last.size === this.top) {
      this.top = last.ptr;
      this.free.pop();
    }
  }

  private take(ptr: number, size: number): number {
    this.live.set(ptr, size);
    this.usedBytes += size;
    return ptr;
  }
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
