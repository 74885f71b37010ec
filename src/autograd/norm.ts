/** Normalisation rules over the last axis: LayerNorm (GPT-2, BERT) and RMSNorm (Llama). */

import { Tensor } from '../tensor/tensor.js';
import { accumulate, record, type Var } from './tape.js';

function lastDim(x: Var, w: Var, op: string): number {
  const D = x.shape[x.shape.length - 1]!;
  if (w.shape.length !== 1 || w.shape[0] !== D) {
    throw new RangeError(`${op}: weight must be [${D}] (x's last dim), got [${w.shape.join(', ')}]`);
  }
  return D;
}

/**
 * y = (x − mean) / √(var + eps) · γ + β over the last axis (biased variance, as torch.nn.LayerNorm).
 * x [..., D], gamma and beta [D].
 */
export function layerNorm(x: Var, gamma: Var, beta: Var, eps = 1e-5): Var {
  const D = lastDim(x, gamma, 'layerNorm');
  lastDim(x, beta, 'layerNorm (beta)');
  const R = x.size / D;
  const xd = x.value.data;
  const gd = gamma.value.data;
  const xhat = new Float32Array(x.size);
  const rstd = new Float64Array(R);
  const out = new Float32Array(x.size);
  for (let r = 0; r < R; r++) {
    const o = r * D;
    let mu = 0;
    for (let i = 0; i < D; i++) mu += xd[o + i]!;
    mu /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += (xd[o + i]! - mu) ** 2;
    const rs = 1 / Math.sqrt(v / D + eps);
    rstd[r] = rs;
    for (let i = 0; i < D; i++) {
      xhat[o + i] = (xd[o + i]! - mu) * rs;
      out[o + i] = xhat[o + i]! * gd[i]! + beta.value.data[i]!;
    }
  }
  return record(new Tensor(out, x.shape), [x, gamma, beta], (g) => {
    const dy = g.data;
    const dx = new Float32Array(x.size);
    const dg = new Float64Array(D);
    const db = new Float64Array(D);
    for (let r = 0; r < R; r++) {
      const o = r * D;
      let m1 = 0;
      let m2 = 0;
      for (let i = 0; i < D; i++) {
        const dxh = dy[o + i]! * gd[i]!;
        m1 += dxh;
        m2 += dxh * xhat[o + i]!;
        dg[i]! += dy[o + i]! * xhat[o + i]!;
        db[i]! += dy[o + i]!;
      }
      m1 /= D;
      m2 /= D;
      for (let i = 0; i < D; i++) dx[o + i] = rstd[r]! * (dy[o + i]! * gd[i]! - m1 - xhat[o + i]! * m2);
    }
    accumulate(x, dx);
    accumulate(gamma, Float32Array.from(dg));
    accumulate(beta, Float32Array.from(db));
  });
}

/** y = x / √(mean(x²) + eps) · γ over the last axis (Llama's RMSNorm). x [..., D], gamma [D]. */
export function rmsNorm(x: Var, gamma: Var, eps = 1e-6): Var {
  const D = lastDim(x, gamma, 'rmsNorm');
  const R = x.size / D;
  const xd = x.value.data;
  const gd = gamma.value.data;
  const rinv = new Float64Array(R);
  const out = new Float32Array(x.size);
  for (let r = 0; r < R; r++) {
    const o = r * D;
    let ss = 0;
    for (let i = 0; i < D; i++) ss += xd[o + i]! * xd[o + i]!;
    const ri = 1 / Math.sqrt(ss / D + eps);
    rinv[r] = ri;
    for (let i = 0; i < D; i++) out[o + i] = xd[o + i]! * ri * gd[i]!;
  }
  return record(new Tensor(out, x.shape), [x, gamma], (g) => {
    const dy = g.data;
    const dx = new Float32Array(x.size);
    const dg = new Float64Array(D);
    for (let r = 0; r < R; r++) {
      const o = r * D;
      const ri = rinv[r]!;
      let dot = 0; // Σ dy·γ·x
      for (let i = 0; i < D; i++) {
        dot += dy[o + i]! * gd[i]! * xd[o + i]!;
        dg[i]! += dy[o + i]! * xd[o + i]! * ri;
      }
      const c = (ri * ri * ri * dot) / D;
      for (let i = 0; i < D; i++) dx[o + i] = ri * dy[o + i]! * gd[i]! - c * xd[o + i]!;
    }
    accumulate(x, dx);
    accumulate(gamma, Float32Array.from(dg));
  });
}
