/**
 * Vision rules: conv2d (stride 1, zero padding; 3×3, 1×1 or any kh×kw) as im2col + one GEMM through the
 * public matmul, and max / average pooling. Layout NCHW: x [N, C, H, W], weight [O, C, kh, kw].
 */

import { Tensor } from '../tensor/tensor.js';
import { gemmTemp } from './linear.js';
import { transposeData } from './shape.js';
import { accumulate, record, type Var } from './tape.js';

function dims4(x: Var, name: string, like: string): [number, number, number, number] {
  if (x.shape.length !== 4) throw new RangeError(`${name} must be ${like}, got [${x.shape.join(', ')}]`);
  return x.shape as unknown as [number, number, number, number];
}

/** Geometry of one conv2d call. */
interface ConvGeom {
  N: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  pad: number;
  Ho: number;
  Wo: number;
}

/** cols [C·kh·kw, N·Ho·Wo]: column (n, y, x) holds the input patch under output pixel (y, x) of image n. */
function im2col(x: Float32Array, g: ConvGeom): Float32Array {
  const { N, C, H, W, kh, kw, pad, Ho, Wo } = g;
  const P = N * Ho * Wo;
  const cols = new Float32Array(C * kh * kw * P);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const row = ((c * kh + i) * kw + j) * P;
        for (let n = 0; n < N; n++) {
          for (let y = 0; y < Ho; y++) {
            const sy = y + i - pad;
            if (sy < 0 || sy >= H) continue;
            for (let xo = 0; xo < Wo; xo++) {
              const sx = xo + j - pad;
              if (sx >= 0 && sx < W) cols[row + (n * Ho + y) * Wo + xo] = x[((n * C + c) * H + sy) * W + sx]!;
            }
          }
        }
      }
    }
  }
  return cols;
}

/** The adjoint of im2col: scatter-add cols back into an input-shaped array. */
function col2im(cols: Float32Array, g: ConvGeom): Float32Array {
  const { N, C, H, W, kh, kw, pad, Ho, Wo } = g;
  const P = N * Ho * Wo;
  const x = new Float32Array(N * C * H * W);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const row = ((c * kh + i) * kw + j) * P;
        for (let n = 0; n < N; n++) {
          for (let y = 0; y < Ho; y++) {
            const sy = y + i - pad;
            if (sy < 0 || sy >= H) continue;
            for (let xo = 0; xo < Wo; xo++) {
              const sx = xo + j - pad;
              if (sx >= 0 && sx < W)
                x[((n * C + c) * H + sy) * W + sx]! += cols[row + (n * Ho + y) * Wo + xo]!;
            }
          }
        }
      }
    }
  }
  return x;
}

/**
 * y [N, O, Ho, Wo] = conv2d(x [N, C, H, W], weight [O, C, kh, kw]) + bias [O], stride 1, `padding` zeros on
 * every side (Ho = H + 2·padding − kh + 1). padding 1 with 3×3 keeps the size.
 */
export function conv2d(x: Var, weight: Var, bias: Var | null = null, padding = 0): Var {
  const [N, C, H, W] = dims4(x, 'conv2d: x', '[N, C, H, W]');
  const [O, Cw, kh, kw] = dims4(weight, 'conv2d: weight', '[O, C, kh, kw]');
  if (Cw !== C) throw new RangeError(`conv2d: weight has ${Cw} input channels but x has ${C}`);
  if (!Number.isInteger(padding) || padding < 0)
    throw new RangeError(`conv2d: padding must be an integer ≥ 0, got ${padding}`);
  if (bias !== null && (bias.shape.length !== 1 || bias.shape[0] !== O)) {
    throw new RangeError(`conv2d: bias must be [${O}], got [${bias.shape.join(', ')}]`);
  }
  const Ho = H + 2 * padding - kh + 1;
  const Wo = W + 2 * padding - kw + 1;
  if (Ho < 1 || Wo < 1)
    throw new RangeError(
      `conv2d: a ${kh}×${kw} kernel does not fit a ${H}×${W} image with padding ${padding}`,
    );
  const geom: ConvGeom = { N, C, H, W, kh, kw, pad: padding, Ho, Wo };
  const CKK = C * kh * kw;
  const P = N * Ho * Wo;
  const PP = Ho * Wo;
  const cols = new Tensor(im2col(x.value.data, geom), [CKK, P]);
  const w2 = new Tensor(weight.value.data, [O, CKK]);
  const y2 = gemmTemp(w2, cols); // [O, N·Ho·Wo]
  const out = new Float32Array(N * O * PP);
  for (let o = 0; o < O; o++) {
    const bo = bias === null ? 0 : bias.value.data[o]!;
    for (let n = 0; n < N; n++)
      for (let p = 0; p < PP; p++) out[(n * O + o) * PP + p] = y2.data[o * P + n * PP + p]! + bo;
  }
  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(new Tensor(out, [N, O, Ho, Wo]), inputs, (g) => {
    const dy2 = new Float32Array(O * P); // [O, N·Ho·Wo]
    for (let o = 0; o < O; o++)
      for (let n = 0; n < N; n++)
        for (let p = 0; p < PP; p++) dy2[o * P + n * PP + p] = g.data[(n * O + o) * PP + p]!;
    const dy = new Tensor(dy2, [O, P]);
    if (bias?.requiresGrad) {
      const db = new Float32Array(O);
      for (let o = 0; o < O; o++) {
        let s = 0;
        for (let q = 0; q < P; q++) s += dy2[o * P + q]!;
        db[o] = s;
      }
      accumulate(bias, db);
    }
    if (weight.requiresGrad)
      accumulate(weight, gemmTemp(dy, new Tensor(transposeData(cols.data, CKK, P), [P, CKK])));
    if (x.requiresGrad) {
      const dcols = gemmTemp(new Tensor(transposeData(w2.data, O, CKK), [CKK, O]), dy);
      accumulate(x, col2im(dcols.data, geom));
    }
  });
}

/** Output size of a k-window pooling with `stride` over n. */
function pooled(n: number, k: number, stride: number, op: string): number {
  if (!Number.isInteger(k) || k < 1 || !Number.isInteger(stride) || stride < 1 || k > n) {
    throw new RangeError(
      `${op}: need integer kernel 1 ≤ k ≤ ${n} and stride ≥ 1, got k ${k}, stride ${stride}`,
    );
  }
  return Math.floor((n - k) / stride) + 1;
}

/** Max over k×k windows (stride default k, no padding): x [N, C, H, W] → [N, C, Ho, Wo]. Ties: first max. */
export function maxPool2d(x: Var, k: number, stride = k): Var {
  const [N, C, H, W] = dims4(x, 'maxPool2d: x', '[N, C, H, W]');
  const Ho = pooled(H, k, stride, 'maxPool2d');
  const Wo = pooled(W, k, stride, 'maxPool2d');
  const out = new Float32Array(N * C * Ho * Wo);
  const arg = new Uint32Array(out.length);
  const xd = x.value.data;
  for (let nc = 0; nc < N * C; nc++) {
    for (let y = 0; y < Ho; y++) {
      for (let xo = 0; xo < Wo; xo++) {
        let best = -1;
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const at = (nc * H + y * stride + i) * W + xo * stride + j;
            if (best < 0 || xd[at]! > xd[best]!) best = at;
          }
        }
        const o = (nc * Ho + y) * Wo + xo;
        out[o] = xd[best]!;
        arg[o] = best;
      }
    }
  }
  return record(new Tensor(out, [N, C, Ho, Wo]), [x], (g) => {
    const gx = new Float32Array(x.size);
    for (let o = 0; o < out.length; o++) gx[arg[o]!]! += g.data[o]!;
    accumulate(x, gx);
  });
}

/** Mean over k×k windows (stride default k, no padding): x [N, C, H, W] → [N, C, Ho, Wo]. */
export function avgPool2d(x: Var, k: number, stride = k): Var {
  const [N, C, H, W] = dims4(x, 'avgPool2d: x', '[N, C, H, W]');
  const Ho = pooled(H, k, stride, 'avgPool2d');
  const Wo = pooled(W, k, stride, 'avgPool2d');
  const out = new Float32Array(N * C * Ho * Wo);
  const xd = x.value.data;
  const inv = 1 / (k * k);
  const each = (fn: (o: number, at: number) => void) => {
    for (let nc = 0; nc < N * C; nc++)
      for (let y = 0; y < Ho; y++)
        for (let xo = 0; xo < Wo; xo++)
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++)
              fn((nc * Ho + y) * Wo + xo, (nc * H + y * stride + i) * W + xo * stride + j);
  };
  each((o, at) => {
    out[o]! += xd[at]! * inv;
  });
  return record(new Tensor(out, [N, C, Ho, Wo]), [x], (g) => {
    const gx = new Float32Array(x.size);
    each((o, at) => {
      gx[at]! += g.data[o]! * inv;
    });
    accumulate(x, gx);
  });
}
