/** Rotary position embeddings with transformers' `rotate_half` convention (channel i pairs with i + d/2). */

/**
 * Applies RoPE given inverse frequencies inv_freq [d/2] (io/rope.ts `ropeInverseFrequencies`). The cos/sin
 * tables grow on demand to the largest position seen; angles are computed as transformers does, in f32:
 * angle = f32(position · inv_freq[i]), cos/sin of that rounded to f32.
 */
export class Rotary {
  readonly headDim: number;
  private cos = new Float32Array(0);
  private sin = new Float32Array(0);
  private positions = 0;

  constructor(readonly invFreq: Float32Array) {
    this.headDim = invFreq.length * 2;
  }

  private ensure(positions: number): void {
    if (positions <= this.positions) return;
    const n = Math.max(positions, Math.min(2 * this.positions, positions + 4096));
    const half = this.invFreq.length;
    const cos = new Float32Array(n * half);
    const sin = new Float32Array(n * half);
    cos.set(this.cos);
    sin.set(this.sin);
    for (let p = this.positions; p < n; p++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(p * this.invFreq[i]!);
        cos[p * half + i] = Math.cos(angle);
        sin[p * half + i] = Math.sin(angle);
      }
    }
    this.cos = cos;
    this.sin = sin;
    this.positions = n;
  }

  /**
   * x [H, T, d] in place: row t of each head is at position start + t.
   * x[i] ← x[i]·cos − x[i+d/2]·sin, x[i+d/2] ← x[i+d/2]·cos + x[i]·sin (i < d/2).
   */
  apply(x: Float32Array, H: number, T: number, start: number): void {
    const d = this.headDim;
    const half = d / 2;
    if (x.length !== H * T * d) {
      throw new RangeError(`Rotary.apply: x has ${x.length} elements, expected [${H}, ${T}, ${d}]`);
    }
    this.ensure(start + T);
    const cos = this.cos;
    const sin = this.sin;
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const row = (h * T + t) * d;
        const tab = (start + t) * half;
        for (let i = 0; i < half; i++) {
          const a = x[row + i]!;
          const b = x[row + half + i]!;
          const c = cos[tab + i]!;
          const s = sin[tab + i]!;
          x[row + i] = Math.fround(a * c) - Math.fround(b * s);
          x[row + half + i] = Math.fround(b * c) + Math.fround(a * s);
        }
      }
    }
  }
}
