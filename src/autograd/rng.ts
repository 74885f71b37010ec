/** A seeded generator whose state can be saved and restored (checkpoints resume dropout and sampling exactly). */

/** mulberry32 with an inspectable 32-bit state; the same sequence as tensor/random.ts `rng(seed)`. */
export class Rng {
  /** The 32-bit state; set it to resume a saved sequence. */
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}
