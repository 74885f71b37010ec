import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../src/tensor/tensor.js';
import { encodeMatmulModel } from './onnx-model.js';
import { loadOrt, peerSessionOptions } from './ort-peer.js';
import { transposed } from './weights.js';

const ort = await loadOrt().catch((e: Error) => e);
const skip = ort instanceof Error ? ort.message : false;

// W [3,5] and X [5,N]: small integers, so every product is exact in f32.
const M = 3;
const K = 5;
const W = Float32Array.from({ length: M * K }, (_, i) => i - 6);
function reference(x: Float32Array, N: number): number[] {
  const y: number[] = [];
  for (let i = 0; i < M; i++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += W[i * K + k]! * x[k * N + n]!;
      y.push(s);
    }
  return y;
}

test('onnxruntime runs the encoded W·x model with a symbolic batch', { skip }, async () => {
  const { ort: rt } = ort as Exclude<typeof ort, Error>;
  const session = await rt.InferenceSession.create(encodeMatmulModel('wx', M, K, W), peerSessionOptions(1));
  try {
    for (const N of [1, 4]) {
      const x = Float32Array.from({ length: K * N }, (_, i) => (i % 5) - 2);
      const { y } = await session.run({ x: new rt.Tensor('float32', x, [K, N]) });
      assert.deepEqual([...(y!.data as Float32Array)], reference(x, N), `N = ${N}`);
      assert.deepEqual([...y!.dims], [M, N]);
    }
  } finally {
    await session.release();
  }
});

test('onnxruntime runs the encoded x·Wᵀ model (pre-packed weight) at 2 threads', { skip }, async () => {
  const { ort: rt } = ort as Exclude<typeof ort, Error>;
  const wt = transposed(new Tensor(W, [M, K]));
  const session = await rt.InferenceSession.create(encodeMatmulModel('xw', M, K, wt), peerSessionOptions(2));
  try {
    const N = 2;
    const x = Float32Array.from({ length: K * N }, (_, i) => 3 - i);
    const xt = transposed(new Tensor(x, [K, N])); // [N,K]
    const { y } = await session.run({ x: new rt.Tensor('float32', xt, [N, K]) });
    assert.deepEqual([...y!.dims], [N, M]);
    assert.deepEqual([...transposed(new Tensor(y!.data as Float32Array, [N, M]))], reference(x, N));
  } finally {
    await session.release();
  }
});

test('the encoder refuses a weight of the wrong size', () => {
  assert.throws(() => encodeMatmulModel('wx', 3, 5, new Float32Array(14)), /weight has 14 values, need 15/);
});
