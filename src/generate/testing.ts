/**
 * A fake causal LM for tests: its logits at each position are a deterministic function of the tokens so
 * far, so expected outputs can be computed by hand. Records every forward call.
 */

import { Tensor } from '../tensor/tensor.js';
import type { Decoder, KVCache } from './model.js';

/** Logits [vocab] for the next token after `prefix` (the whole sequence so far, prompt included). */
export type NextLogits = (prefix: readonly number[]) => ArrayLike<number>;

class FakeCache implements KVCache {
  tokens: number[] = [];
  get length(): number {
    return this.tokens.length;
  }
  reset(): void {
    this.tokens = [];
  }
}

/** A {@link Decoder} whose logits come from `next`; `calls` lists each forward's ids and options. */
export class FakeLM implements Decoder {
  readonly calls: { ids: number[]; cached: number; lastOnly: boolean }[] = [];
  constructor(
    readonly vocab: number,
    readonly maxPositions: number,
    private readonly next: NextLogits,
  ) {}

  newCache(): FakeCache {
    return new FakeCache();
  }

  forward(ids: ArrayLike<number>, cache?: KVCache, opts: { lastOnly?: boolean } = {}): Tensor {
    const c = (cache as FakeCache | undefined) ?? new FakeCache();
    const list = Array.from(ids);
    this.calls.push({ ids: list, cached: c.length, lastOnly: opts.lastOnly ?? false });
    if (c.length + list.length > this.maxPositions)
      throw new RangeError(`FakeLM: ${c.length + list.length} positions > maxPositions ${this.maxPositions}`);
    const rows: number[] = [];
    for (let i = opts.lastOnly ? list.length - 1 : 0; i < list.length; i++) {
      const row = this.next([...c.tokens, ...list.slice(0, i + 1)]);
      if (row.length !== this.vocab) throw new RangeError(`FakeLM: next() gave ${row.length} logits`);
      rows.push(...Array.from(row));
    }
    c.tokens.push(...list);
    return new Tensor(Float32Array.from(rows), [rows.length / this.vocab, this.vocab]);
  }
}

/** Logits that make `(last token + 1) mod vocab` the clear favourite (10 against −10 for every other id). */
export function countingLogits(vocab: number): NextLogits {
  return (prefix) => {
    const row = new Float32Array(vocab).fill(-10);
    row[(prefix[prefix.length - 1]! + 1) % vocab] = 10;
    return row;
  };
}

/** The same logits at every position: a fixed distribution whatever the context. */
export function constantLogits(logits: ArrayLike<number>): NextLogits {
  return () => logits;
}
