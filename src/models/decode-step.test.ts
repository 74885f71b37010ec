import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { kernelArraysSupported } from '../backend/resident.js';
import { runtime } from '../backend/wasm.js';
import { bsrFromDense } from '../formats/bsr.js';
import { csrFromDense } from '../formats/csr.js';
import { halfCsrFromDense } from '../formats/csr-half.js';
import { nmFromDense, nmPruneMagnitude } from '../formats/nm.js';
import { tempDir } from '../io/testing.js';
import { Linear } from '../nn/linear.js';
import { sparsify } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CausalModel } from './causal.js';
import { loadCausalLM } from './index.js';
import { type TinyKind, writeTinyModel } from './testing.js';

const tmp = tempDir();
after(() => tmp.cleanup());

/**
 * Decode `steps` tokens after a prefill twice, each step through the one-token path (kernel arrays) and through the
 * general forward (an observer on the LM head sends a step there), on two caches; every step's logits must be the
 * same bits. Returns how many block linears ran through the one-token path.
 */
function assertSameSteps(lm: CausalModel, steps = 6): number {
  const V = lm.config.vocabSize;
  const ids = Array.from({ length: 9 + steps }, (_, i) => (i * 7 + 3) % V);
  const fast = lm.newCache();
  const general = lm.newCache();
  lm.forward(ids.slice(0, 9), fast);
  lm.forward(ids.slice(0, 9), general);
  const forwardInto = Linear.prototype.forwardInto;
  let oneToken = 0;
  Linear.prototype.forwardInto = function (this: Linear, x, y) {
    oneToken++;
    forwardInto.call(this, x, y);
  };
  try {
    for (let t = 9; t < ids.length; t++) {
      const a = lm.forward([ids[t]!], fast).data;
      lm.lmHead.onInput = () => {};
      const b = lm.forward([ids[t]!], general).data;
      lm.lmHead.onInput = null;
      assert.equal(a.length, V);
      const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
      assert.deepEqual(bits(a), bits(b), `step ${t}: the one-token path's logits differ from forward's`);
    }
  } finally {
    Linear.prototype.forwardInto = forwardInto;
  }
  return oneToken;
}

function tiny(name: string, kind: TinyKind, config: Record<string, unknown> = {}, dtype?: 'BF16'): string {
  const dir = join(tmp.dir, name);
  writeTinyModel(dir, kind, { config, seed: 3, ...(dtype ? { dtype } : {}) });
  return dir;
}

const supported = kernelArraysSupported(runtime());
const layers = 2;
const linearsPerStep = 7 * layers + 1; // q, k, v, o, gate, up, down per layer, and the LM head

test('one-token decode: f32 and bf16 weights give the general forward logits bit for bit', () => {
  const dir = tiny('llama', 'llama');
  for (const weights of ['f32', 'bf16'] as const) {
    const ran = assertSameSteps(loadCausalLM(dir, { weights }) as CausalModel);
    assert.equal(ran, supported ? 6 * linearsPerStep : 0, `${weights}: linears on the one-token path`);
  }
});

test('one-token decode: Qwen2 (q/k/v bias, tied head) and Llama with o/MLP bias, bit for bit', () => {
  for (const kind of ['qwen2', 'llama-bias'] as const) {
    assertSameSteps(loadCausalLM(tiny(kind, kind)) as CausalModel);
  }
});

test('one-token decode: sparse weights (CSR, bf16 CSR, N:M, BSR) beside dense ones, bit for bit', () => {
  const lm = loadCausalLM(tiny('llama-sparse', 'llama')) as CausalModel;
  const formats = [
    (w: Tensor) => csrFromDense(sparsify(w, 0.7, 2)),
    (w: Tensor) => halfCsrFromDense(sparsify(w, 0.6, 3), 'bf16'),
    (w: Tensor) => nmFromDense(nmPruneMagnitude(w, 2, 4), 2, 4),
    (w: Tensor) => bsrFromDense(sparsify(w, 0.5, 4), 4, 4),
    (w: Tensor) => w,
  ];
  let i = 0;
  for (const [name, l] of lm.linears()) {
    if (name !== 'lm_head.weight') l.weight = formats[i++ % formats.length]!(l.weight as Tensor);
  }
  assertSameSteps(lm);
});

test('one-token decode on 2 threads (GEMVs and attention split), bf16, bit for bit', () => {
  // 128 × 512 products: enough work for the kernels to use both threads
  const config = { hidden_size: 128, intermediate_size: 512, num_attention_heads: 4, num_key_value_heads: 2 };
  const dir = tiny('llama-wide', 'llama', config, 'BF16');
  const rt = runtime();
  const threads = rt.threads;
  rt.setThreads(2);
  try {
    assertSameSteps(loadCausalLM(dir) as CausalModel);
  } finally {
    rt.setThreads(threads);
  }
});
