import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn, sparsify } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { chooseFormat, FORMAT_RULE, weightPattern } from './choose.js';
import { nmPruneMagnitude } from './nm.js';

const w = randn([32, 48], 3);

test('weightPattern: density, tightest N:M and 4×4 block fill, counted', () => {
  const p = weightPattern(nmPruneMagnitude(w, 2, 4));
  assert.equal(p.density, 0.5);
  assert.deepEqual(p.nm, { n: 2, m: 4 }, '2:4 is tighter than any 8- or 16-column count it implies');
  assert.equal(p.blockDensity, 1);
  const d = new Float32Array(32 * 48);
  d[5 * 48 + 9] = 1; // one non-zero: block (1, 2) of an 8×12 grid
  const one = weightPattern(new Tensor(d, [32, 48]));
  assert.equal(one.density, 1 / (32 * 48));
  assert.equal(one.blockDensity, 1 / 96);
  assert.deepEqual(one.nm, { n: 1, m: 16 });
  assert.equal(weightPattern(randn([3, 3], 1)).nm, null, 'fewer than 4 columns: no N:M');
});

test('chooseFormat: BSR for block-sparse, N:M for N:M-pruned weights, CSR from its break-even, else dense', () => {
  const pick = (t: Tensor, dense?: 'bf16') => chooseFormat(weightPattern(t), dense).spec;
  assert.deepEqual(pick(nmPruneMagnitude(w, 2, 4)), { format: 'nm', n: 2, m: 4 });
  assert.deepEqual(pick(nmPruneMagnitude(w, 4, 8)), { format: 'nm', n: 4, m: 8 });
  assert.deepEqual(pick(sparsify(w, 0.7)), { format: 'csr' });
  // 95% unstructured satisfies a loose N:16 (N/M ≤ 50%) but stores far fewer values as CSR
  const sparse = sparsify(randn([32, 64], 5), 0.95);
  const loose = weightPattern(sparse).nm;
  assert.ok(loose && loose.n / loose.m <= 0.5, `95% sparse satisfies a loose N:M (${JSON.stringify(loose)})`);
  assert.deepEqual(pick(sparse), { format: 'csr' });
  assert.deepEqual(pick(sparsify(w, 0.3)), { format: 'dense' });
  assert.deepEqual(pick(sparsify(w, 0.3), 'bf16'), { format: 'bf16' }, 'dense keeps the stored precision');
  assert.deepEqual(pick(nmPruneMagnitude(w, 3, 4)), { format: 'dense' }, '3:4 keeps 75%: no format wins');
  // whole 4×4 blocks zeroed in the left three quarters of the matrix: 25% of blocks stored
  const blocks = w.data.slice();
  for (let i = 0; i < 32; i++) for (let k = 0; k < 36; k++) blocks[i * 48 + k] = 0;
  assert.deepEqual(pick(new Tensor(blocks, [32, 48])), { format: 'bsr', blockRows: 4, blockCols: 4 });
  // half the blocks stored: above BSR's threshold, and 50% sparse: CSR
  const half = w.data.slice();
  for (let i = 0; i < 32; i++) for (let k = 0; k < 24; k++) half[i * 48 + k] = 0;
  const fill = FORMAT_RULE.bsrMaxBlockDensity;
  assert.deepEqual(
    pick(new Tensor(half, [32, 48])),
    fill >= 0.5 ? { format: 'bsr', blockRows: 4, blockCols: 4 } : { format: 'csr' },
  );
});

test('chooseFormat: the CSR threshold is inclusive and the reason names the numbers', () => {
  const at = (sparsity: number) => ({ rows: 10, cols: 10, density: 1 - sparsity, nm: null, blockDensity: 1 });
  assert.equal(chooseFormat(at(FORMAT_RULE.csrMinSparsity)).spec.format, 'csr');
  assert.equal(chooseFormat(at(FORMAT_RULE.csrMinSparsity - 0.01)).spec.format, 'dense');
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  assert.ok(chooseFormat(at(0.7)).reason.includes(`sparsity 70.0% ≥ ${pct(FORMAT_RULE.csrMinSparsity)}`));
});
