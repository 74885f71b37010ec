import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runtime } from '../backend/wasm.js';
import { tempDir } from '../io/testing.js';
import { setLinearTimer } from '../nn/linear.js';
import { loadCausalLM } from './index.js';
import { layerKind, linearWeightBytes, profileDecode, profilePrefill, STEP_PARTS } from './profile.js';
import { writeTinyModel } from './testing.js';

const tmp = tempDir();
after(() => tmp.cleanup());
const dir = join(tmp.dir, 'llama');
// 2 layers of 7 linears plus the LM head; hidden 64, 4 heads over 2 kv heads of 16
writeTinyModel(dir, 'llama', {
  config: { hidden_size: 64, intermediate_size: 96, num_attention_heads: 4, num_key_value_heads: 2 },
});

test('profileDecode: a step split by kernel, with the bytes it reads', () => {
  for (const weights of ['f32', 'bf16'] as const) {
    const lm = loadCausalLM(dir, { weights });
    const p = profileDecode(lm, 40, { steps: 3 });
    assert.equal(p.phase, 'decode');
    assert.equal(p.tokens, 40);
    assert.equal(p.threads, runtime().threads);
    const gemv = p.kernels.find((k) => k.kernel === (weights === 'f32' ? 'gemv_f32' : 'gemv_bf16_f32'));
    assert.equal(gemv?.callsPerStep, 15, 'one GEMV per linear per step');
    assert.equal(gemv?.category, 'matmul');
    const attention = p.kernels.find((k) => k.kernel === `decode_attention_${weights}`);
    assert.equal(attention?.callsPerStep, 2, 'one decode attention per layer per step');
    assert.equal(
      p.kernels.find((k) => k.kernel === 'rmsnorm_f32')?.callsPerStep,
      5,
      'two per layer and the final',
    );
    // the parts add up to the profiled step; every part is a real time
    const sum = STEP_PARTS.reduce((s, part) => s + p.parts[part], 0);
    assert.ok(
      Math.abs(sum - p.profiledMs) < 1e-9 * Math.max(1, p.profiledMs) || p.parts.host === 0,
      `${sum} vs ${p.profiledMs}`,
    );
    for (const part of STEP_PARTS) assert.ok(p.parts[part] >= 0 && Number.isFinite(p.parts[part]), part);
    assert.ok(p.parts.matmul > 0 && p.parts.attention > 0 && p.stepMs > 0);
    // every linear's weight, LM head included: 2 · (2·64² + 2·32·64 + 3·96·64) + 48·64 weights
    const params = 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 96 * 64) + 48 * 64;
    assert.equal(p.weightBytes, params * (weights === 'f32' ? 4 : 2));
    assert.equal(linearWeightBytes(lm), p.weightBytes);
    // keys and values of 40 positions: 2 layers · 2 kv heads · 16 dims · (k, v), in the cache's dtype
    assert.equal(p.kvBytes, 40 * 2 * 2 * 16 * 2 * (weights === 'f32' ? 4 : 2));
    // by kind of layer: one call per block (the head once), each kind's weights over every block
    const layers = new Map(p.layers.map((l) => [l.layer, l]));
    assert.deepEqual([...layers.keys()].sort(), [
      'lm_head',
      'mlp.down_proj',
      'mlp.gate_proj',
      'mlp.up_proj',
      'self_attn.k_proj',
      'self_attn.o_proj',
      'self_attn.q_proj',
      'self_attn.v_proj',
    ]);
    const e = weights === 'f32' ? 4 : 2;
    assert.equal(layers.get('self_attn.q_proj')?.callsPerStep, 2);
    assert.equal(layers.get('self_attn.q_proj')?.weightBytes, 2 * 64 * 64 * e);
    assert.equal(layers.get('self_attn.k_proj')?.weightBytes, 2 * 32 * 64 * e);
    assert.equal(layers.get('lm_head')?.callsPerStep, 1);
    assert.equal(layers.get('lm_head')?.weightBytes, 48 * 64 * e);
    const inLayers = p.layers.reduce((t, l) => t + l.msPerStep, 0);
    assert.ok(
      inLayers >= p.parts.matmul * 0.99 && inLayers <= p.profiledMs,
      `${inLayers} vs ${p.parts.matmul}`,
    );
  }
});

test('profilePrefill: one GEMM per linear, attention per layer, no KV bytes', () => {
  const lm = loadCausalLM(dir);
  const p = profilePrefill(lm, 20, { steps: 1 });
  assert.equal(p.phase, 'prefill');
  assert.equal(p.kvBytes, 0);
  assert.equal(p.kernels.find((k) => k.kernel === 'gemm_f32')?.callsPerStep, 14, 'the block linears');
  assert.equal(
    p.kernels.find((k) => k.kernel === 'gemv_f32')?.callsPerStep,
    1,
    'the LM head, last position only',
  );
  assert.equal(p.kernels.find((k) => k.kernel === 'attention_f32')?.callsPerStep, 2);
  // a prefill runs q, k, v (and gate, up) as one shared product per block: timed together
  const layers = Object.fromEntries(p.layers.map((l) => [l.layer, l.callsPerStep]));
  assert.deepEqual(layers, {
    'self_attn.q_proj+self_attn.k_proj+self_attn.v_proj': 2,
    'self_attn.o_proj': 2,
    'mlp.gate_proj+mlp.up_proj': 2,
    'mlp.down_proj': 2,
    lm_head: 1,
  });
  assert.equal(
    p.layers.find((l) => l.layer === 'mlp.gate_proj+mlp.up_proj')?.weightBytes,
    2 * 2 * 96 * 64 * 4,
  );
});

test('profileDecode and profilePrefill name the bad argument and the fix', () => {
  const lm = loadCausalLM(dir);
  assert.throws(
    () => profileDecode(lm, 6, { steps: 3 }),
    /context must be an integer ≥ 9 for 3 steps, got 6/,
  );
  assert.throws(
    () => profileDecode(lm, 200),
    /context 200 exceeds the model's 96 positions; use a shorter context/,
  );
  assert.throws(() => profileDecode(lm, 40, { steps: 0 }), /steps must be an integer ≥ 1, got 0/);
  assert.throws(() => profilePrefill(lm, 97), /tokens must be an integer in \[1, 96\].*got 97/);
  // a failed profile leaves no profile open and no linear timer set
  const rt = runtime();
  assert.throws(() => rt.stopProfile(), /no profile is open/);
  assert.equal(setLinearTimer(null), null);
});

test("layerKind: a layer's name without its block and .weight", () => {
  assert.equal(layerKind('model.layers.3.self_attn.q_proj.weight'), 'self_attn.q_proj');
  assert.equal(layerKind('transformer.h.11.attn.c_proj.weight'), 'attn.c_proj');
  assert.equal(layerKind('transformer.h.0.mlp.c_proj.weight'), 'mlp.c_proj');
  assert.equal(layerKind('lm_head.weight'), 'lm_head');
});
