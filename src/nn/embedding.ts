/** Embedding table lookup; the table is a dense f32 Tensor or a bf16/f16 HalfMatrix [rows, dim]. */

import type { HalfMatrix } from '../formats/half.js';
import { bf16BitsToF32, f16BitsToF32 } from '../tensor/dtype.js';
import { dims2, Tensor } from '../tensor/tensor.js';
import { checkIds } from './ops.js';

/** A table usable by Embedding: dense f32 or half precision. */
export type EmbeddingTable = Tensor | HalfMatrix;

/** [rows, dim] of a table. */
export function tableShape(t: EmbeddingTable): [number, number] {
  return t instanceof Tensor ? dims2(t, 'Embedding: table') : [t.rows, t.cols];
}

/** Rows of a table looked up by id. The same table object may also be a tied LM head's weight. */
export class Embedding {
  readonly num: number;
  readonly dim: number;

  /** table [num, dim]. */
  constructor(readonly table: EmbeddingTable) {
    [this.num, this.dim] = tableShape(table);
  }

  /** ids [T] → [T, dim]. `what` names the ids in errors. */
  forward(ids: ArrayLike<number>, what = 'ids'): Tensor {
    checkIds(ids, this.num, what, `the table has ${this.num} rows`);
    const T = ids.length;
    const D = this.dim;
    const out = new Float32Array(T * D);
    this.addRows(ids, out);
    return new Tensor(out, [T, D]);
  }

  /** out [T, dim] += table rows of ids (ids must already be checked). */
  addRows(ids: ArrayLike<number>, out: Float32Array): void {
    const D = this.dim;
    const t = this.table;
    if (t instanceof Tensor) {
      for (let i = 0; i < ids.length; i++) {
        const src = ids[i]! * D;
        for (let c = 0; c < D; c++) out[i * D + c]! += t.data[src + c]!;
      }
      return;
    }
    const decode = t.format === 'bf16' ? bf16BitsToF32 : f16BitsToF32;
    for (let i = 0; i < ids.length; i++) {
      const src = ids[i]! * D;
      for (let c = 0; c < D; c++) out[i * D + c]! += decode(t.data[src + c]!);
    }
  }
}
