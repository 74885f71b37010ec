/**
 * Golden tests: sparsekit's model forward passes against an independent reference.
 *
 * test/fixtures/models/<name>/ holds a tiny random Hugging Face checkpoint (config.json, model.safetensors with
 * HF's key names) and golden.json: logits computed in float64 by scripts/fixtures/make_model_fixtures.py, a
 * plain-PyTorch forward written from transformers' modeling files (never run at test time). Each causal model
 * must match the logits (max abs error ≤ golden.tolerance = 1e-4), the greedy continuation token for token when
 * decoding one token at a time through the KV cache, and the logits of every decode step. BERT must match the
 * MLM logits at the non-padded positions. SHA256SUMS pins every fixture file, so a damaged fixture fails loudly
 * instead of moving the goal posts.
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openHfFolder } from '../src/io/hf.js';
import { ropeInverseFrequencies } from '../src/io/rope.js';
import { type CausalLM, loadModel, type MaskedLM } from '../src/models/index.js';
import type { Tensor } from '../src/tensor/tensor.js';

/** Compiled to dist/test/, so the repository root is two levels up. */
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/models/', import.meta.url));

interface Golden {
  model: string;
  description: string;
  tolerance: number;
  input_ids: number[];
  logits_shape: [number, number];
  logits: number[][];
  token_type_ids?: number[];
  attention_mask?: number[];
  compare_positions?: number[];
  rope_inv_freq?: number[];
  greedy?: { new_tokens: number; tokens: number[]; margins: number[]; step_logits: number[][] };
}

const folders = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

function golden(name: string): Golden {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'golden.json'), 'utf8')) as Golden;
}

/** Row `r` of a [rows, cols] tensor. */
function row(t: Tensor, r: number): Float32Array {
  const cols = t.shape[1]!;
  return t.data.subarray(r * cols, (r + 1) * cols);
}

/** Largest |a[i] − b[i]| and where it is. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; at: number } {
  assert.equal(a.length, b.length, 'vector lengths differ');
  let err = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= err)) {
      err = d;
      at = i;
    }
  }
  return { err, at };
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  const { err, at } = maxAbsDiff(got, want);
  assert.ok(
    err <= tol,
    `${what}: max abs error ${err} > ${tol} at vocab index ${at} (got ${got[at]}, want ${want[at]})`,
  );
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** sha256 of every file SHA256SUMS lists, compared; returns the mismatches ("path: reason"). */
function checksumMismatches(root: string): string[] {
  const bad: string[] = [];
  const listed = new Set<string>();
  for (const line of readFileSync(join(root, 'SHA256SUMS'), 'utf8').split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!m) {
      bad.push(`SHA256SUMS: malformed line ${JSON.stringify(line)}`);
      continue;
    }
    const [, digest, path] = m;
    listed.add(path!);
    const file = join(root, path!);
    if (!existsSync(file)) bad.push(`${path}: missing`);
    else if (createHash('sha256').update(readFileSync(file)).digest('hex') !== digest)
      bad.push(`${path}: sha256 differs`);
  }
  for (const dir of readdirSync(root, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const f of readdirSync(join(root, dir.name))) {
      if (!listed.has(`${dir.name}/${f}`)) bad.push(`${dir.name}/${f}: not in SHA256SUMS`);
    }
  }
  return bad;
}

describe('golden fixtures: integrity', () => {
  test('every fixture file matches SHA256SUMS and every folder has what the tests read', () => {
    assert.deepEqual(checksumMismatches(FIXTURES), []);
    assert.deepEqual(folders, [
      'bert',
      'gpt2',
      'gpt2-scaled',
      'llama',
      'llama-tied-llama3rope',
      'mistral',
      'qwen2',
    ]);
    for (const name of folders) {
      for (const f of ['config.json', 'model.safetensors', 'golden.json']) {
        assert.ok(existsSync(join(FIXTURES, name, f)), `${name}/${f} is missing`);
      }
    }
  });

  test('a corrupted fixture is detected: one flipped weight byte fails the checksum', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sparsekit-golden-'));
    try {
      cpSync(FIXTURES, dir, { recursive: true });
      const file = join(dir, 'llama', 'model.safetensors');
      const bytes = readFileSync(file);
      bytes[bytes.length - 5]! ^= 0x01;
      writeFileSync(file, bytes);
      assert.deepEqual(checksumMismatches(dir), ['llama/model.safetensors: sha256 differs']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("RoPE inverse frequencies equal transformers' float32 values bit for bit", () => {
    for (const name of folders) {
      const g = golden(name);
      if (!g.rope_inv_freq) continue;
      const folder = openHfFolder(join(FIXTURES, name), { tokenizer: false });
      try {
        const c = folder.config;
        assert.ok(c.modelType !== 'gpt2' && c.modelType !== 'bert');
        const inv = ropeInverseFrequencies(c.rope, c.headDim);
        assert.deepEqual(Array.from(inv), g.rope_inv_freq.map(Math.fround), `${name}: inv_freq`);
      } finally {
        folder.close();
      }
    }
  });
});

for (const name of folders.filter((n) => golden(n).greedy)) {
  describe(`golden ${name}`, () => {
    const g = golden(name);
    const tol = g.tolerance;
    const greedy = g.greedy!;
    const model = loadModel(join(FIXTURES, name)) as CausalLM;

    test("loads as a causal LM with the fixture's vocabulary", () => {
      assert.equal(model.kind, 'causal');
      assert.equal(model.config.vocabSize, g.logits_shape[1]);
    });

    test('prefill logits match the reference (no cache)', () => {
      const logits = model.forward(g.input_ids);
      assert.deepEqual(logits.shape, g.logits_shape);
      g.logits.forEach((want, t) => {
        assertClose(row(logits, t), want, tol, `${name} position ${t}`);
      });
    });

    test('decoding the prompt one token at a time through the cache gives the same logits', () => {
      const cache = model.newCache();
      g.input_ids.forEach((id, t) => {
        const logits = model.forward([id], cache);
        assert.deepEqual(logits.shape, [1, g.logits_shape[1]]);
        assertClose(row(logits, 0), g.logits[t]!, tol, `${name} incremental position ${t}`);
      });
      assert.equal(cache.length, g.input_ids.length);
    });

    test(`greedy continuation of ${greedy.new_tokens} tokens through the KV cache is identical`, () => {
      const cache = model.newCache();
      let logits = model.forward(g.input_ids, cache, { lastOnly: true });
      const tokens: number[] = [];
      for (let step = 0; step < greedy.new_tokens; step++) {
        assert.deepEqual(logits.shape, [1, g.logits_shape[1]]);
        const last = row(logits, 0);
        assertClose(last, greedy.step_logits[step]!, tol, `${name} decode step ${step}`);
        tokens.push(argmax(last));
        if (step + 1 < greedy.new_tokens) logits = model.forward([tokens[step]!], cache);
      }
      assert.deepEqual(
        tokens,
        greedy.tokens,
        `${name}: greedy tokens (reference margins ${greedy.margins.join(', ')})`,
      );
      assert.equal(cache.length, g.input_ids.length + greedy.new_tokens - 1);
    });
  });
}

describe('golden bert', () => {
  const g = golden('bert');
  const model = loadModel(join(FIXTURES, 'bert')) as MaskedLM;

  test('loads as a masked LM', () => {
    assert.equal(model.kind, 'masked');
    assert.equal(model.config.vocabSize, g.logits_shape[1]);
  });

  test('MLM logits match the reference at every non-padded position', () => {
    const logits = model.forward(g.input_ids, {
      tokenTypeIds: g.token_type_ids!,
      attentionMask: g.attention_mask!,
    });
    assert.deepEqual(logits.shape, g.logits_shape);
    for (const t of g.compare_positions!) {
      assertClose(row(logits, t), g.logits[t]!, g.tolerance, `bert position ${t}`);
    }
  });

  test('padding is masked: the real positions do not depend on what the padded ids are', () => {
    const ids = g.input_ids.map((id, t) => (g.attention_mask![t] ? id : 7));
    const logits = model.forward(ids, { tokenTypeIds: g.token_type_ids!, attentionMask: g.attention_mask! });
    for (const t of g.compare_positions!) {
      assertClose(row(logits, t), g.logits[t]!, g.tolerance, `bert position ${t} with other padding ids`);
    }
  });
});
