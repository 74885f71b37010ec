import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randn } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { activeSet, blockSparsify, coldCopies, parseCacheSize, transposed } from './weights.js';

test('sysfs cache sizes parse to bytes', () => {
  assert.equal(parseCacheSize('107520K\n'), 107520 * 1024);
  assert.equal(parseCacheSize('32M'), 32 * 2 ** 20);
  assert.equal(parseCacheSize('512'), 512);
  assert.throws(() => parseCacheSize('big'), /cannot read "big"/);
});

test('cold-cache copies together exceed twice the last-level cache', () => {
  const llc = 105 * 2 ** 20;
  for (const bytes of [4 * 2 ** 20, 64 * 2 ** 20, 172 * 2 ** 20, 500 * 2 ** 20]) {
    const n = coldCopies(bytes, llc);
    assert.ok(n * bytes > 2 * llc, `${n} copies of ${bytes}`);
    assert.ok(n >= 2);
    if (n > 2) assert.ok((n - 1) * bytes <= 2 * llc, 'no more copies than needed');
  }
});

test('blockSparsify zeroes exactly round(blocks·s) whole blocks, edge blocks included', () => {
  const w = randn([10, 13], 1); // 3×4 blocks of 4×4, the last row and column of blocks partial
  const out = blockSparsify(w, 4, 4, 0.5, 2);
  let zeroBlocks = 0;
  for (let bi = 0; bi < 3; bi++) {
    for (let bj = 0; bj < 4; bj++) {
      const vals: number[] = [];
      for (let i = bi * 4; i < Math.min(bi * 4 + 4, 10); i++) {
        for (let k = bj * 4; k < Math.min(bj * 4 + 4, 13); k++) vals.push(out.get(i, k));
      }
      const zeros = vals.filter((v) => v === 0).length;
      assert.ok(zeros === 0 || zeros === vals.length, `block (${bi},${bj}) is partly zero`);
      if (zeros) zeroBlocks++;
      else
        for (let i = bi * 4; i < Math.min(bi * 4 + 4, 10); i++)
          assert.equal(out.get(i, bj * 4), w.get(i, bj * 4));
    }
  }
  assert.equal(zeroBlocks, 6);
  assert.deepEqual(blockSparsify(w, 4, 4, 0.5, 2).data, out.data, 'seeded');
});

test('transposed gives Wᵀ row-major; activeSet is sorted, distinct, in range', () => {
  const w = new Tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.deepEqual([...transposed(w)], [1, 4, 2, 5, 3, 6]);
  const big = randn([70, 130], 4);
  const t = transposed(big);
  assert.equal(t[5 * 70 + 66], big.get(66, 5));
  const s = activeSet(100, 50);
  assert.equal(s.length, 50);
  for (let i = 1; i < s.length; i++) assert.ok(s[i]! > s[i - 1]!);
  assert.ok(s[49]! < 100);
});
