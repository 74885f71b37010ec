import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toFormat } from '../../formats/index.js';
import { nmPruneMagnitude } from '../../formats/nm.js';
import { randn, sparsify } from '../../tensor/random.js';
import { runtime } from '../wasm.js';
import { matmul } from './matmul.js';
import './index.js';

test('matmul: a [K,1] block runs each sparse format’s matrix-vector kernel and returns [M,1]', () => {
  const w = randn([24, 40], 1);
  const x = randn([40], 2);
  const rt = runtime();
  const parallel = rt.parallel.bind(rt);
  const kernels: string[] = [];
  rt.parallel = (name, ...rest) => {
    kernels.push(name);
    parallel(name, ...rest);
  };
  try {
    for (const a of [
      toFormat(sparsify(w, 0.7, 3), { format: 'csr' }),
      toFormat(nmPruneMagnitude(w, 2, 4), { format: 'nm', n: 2, m: 4 }),
      toFormat(sparsify(w, 0.7, 3), { format: 'bitmask' }),
    ]) {
      kernels.length = 0;
      const col = matmul(a, x.reshape([40, 1]));
      assert.deepEqual(col.shape, [24, 1]);
      assert.deepEqual(col.data, matmul(a, x).data, `${a.format}: the same numbers as the vector product`);
      assert.ok(
        kernels.length > 0 && kernels.every((k) => !k.includes('spmm')),
        `${a.format} ran ${kernels.join(', ')}`,
      );
    }
  } finally {
    rt.parallel = parallel;
  }
});
