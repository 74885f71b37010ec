/** Tensor: an f32 array with a row-major shape. The only dense type the rest of sparsekit passes around. */

export type Shape = readonly number[];

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${what}: shape must be non-negative integers, got [${shape.join(', ')}]`);
    }
  }
}

/** A dense, row-major f32 tensor. `data` may be a view into larger memory. */
export class Tensor {
  readonly data: Float32Array;
  readonly shape: Shape;

  constructor(data: Float32Array, shape: Shape) {
    checkShape(shape, 'Tensor');
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new RangeError(
        `Tensor: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`,
      );
    }
    this.data = data;
    // a frozen shape (another tensor's, e.g. in reshape or clone) cannot change: shared, not copied
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
  }

  /** A tensor of zeros. */
  static zeros(shape: Shape): Tensor {
    checkShape(shape, 'Tensor.zeros');
    return new Tensor(new Float32Array(sizeOf(shape)), shape);
  }

  /** A tensor from nested number arrays or a flat array plus shape. */
  static from(values: ArrayLike<number>, shape?: Shape): Tensor {
    const data = Float32Array.from(values);
    return new Tensor(data, shape ?? [data.length]);
  }

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.data.length;
  }

  /** Rows of a rank-2 tensor (first dimension). */
  get rows(): number {
    return this.shape[0] ?? 1;
  }

  /** Columns of a rank-2 tensor (last dimension). */
  get cols(): number {
    return this.shape[this.shape.length - 1] ?? 1;
  }

  /** Same data, new shape with the same number of elements. */
  reshape(shape: Shape): Tensor {
    return new Tensor(this.data, shape);
  }

  /** A deep copy. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** Element at a multi-index (slow; for tests and debugging). */
  get(...index: number[]): number {
    return this.data[this.offset(index)]!;
  }

  /** Set the element at a multi-index (slow; for tests and debugging). */
  set(value: number, ...index: number[]): void {
    this.data[this.offset(index)] = value;
  }

  /** Transpose of a rank-2 tensor, as a new tensor. */
  transpose(): Tensor {
    if (this.rank !== 2) throw new RangeError(`Tensor.transpose: needs rank 2, got shape [${this.shape}]`);
    const [r, c] = this.shape as [number, number];
    const out = new Float32Array(r * c);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = this.data[i * c + j]!;
    return new Tensor(out, [c, r]);
  }

  private offset(index: number[]): number {
    if (index.length !== this.rank) {
      throw new RangeError(`Tensor: index has ${index.length} dims, shape has ${this.rank}`);
    }
    let off = 0;
    for (let d = 0; d < index.length; d++) {
      const i = index[d]!;
      const n = this.shape[d]!;
      if (i < 0 || i >= n) throw new RangeError(`Tensor: index ${i} out of range for dim ${d} of size ${n}`);
      off = off * n + i;
    }
    return off;
  }
}

/** Check that a tensor is rank 2 and return [rows, cols]; `name` is used in the error. */
export function dims2(t: Tensor, name: string): [number, number] {
  if (t.rank !== 2)
    throw new RangeError(`${name}: expected a rank-2 tensor, got shape [${t.shape.join(', ')}]`);
  return [t.shape[0]!, t.shape[1]!];
}
