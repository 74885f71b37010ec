// The tape's gradient bookkeeping: accumulate copies, accumulateFresh hands a fresh array over, changed() bumps
// the version that caches of a value compare.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../tensor/tensor.js';
import { accumulate, accumulateFresh, param } from './tape.js';

test('accumulate copies its array; accumulateFresh keeps it as the first gradient and adds the next ones', () => {
  const v = param(Tensor.zeros([3]));
  const g = Float32Array.of(1, 2, 3);
  accumulate(v, g);
  g[0] = 100;
  assert.deepEqual(
    [...v.grad!.data],
    [1, 2, 3],
    'a later edit of the caller array does not reach the gradient',
  );

  const w = param(Tensor.zeros([3]));
  const fresh = Float32Array.of(1, 2, 3);
  accumulateFresh(w, fresh);
  assert.equal(w.grad!.data, fresh, 'no copy');
  accumulateFresh(w, Float32Array.of(10, 10, 10));
  accumulate(w, Float32Array.of(1, 1, 1));
  assert.deepEqual([...w.grad!.data], [12, 13, 14]);
  assert.throws(
    () => accumulateFresh(w, new Float32Array(2)),
    /gradient of 2 elements for a value of shape \[3\]/,
  );
});

test('changed() bumps the version; setMask counts as a change', () => {
  const v = param(Tensor.from([1, 2, 3, 4]));
  const v0 = v.version;
  v.changed();
  assert.equal(v.version, v0 + 1);
  v.setMask(Uint8Array.of(1, 0, 1, 1));
  assert.equal(v.version, v0 + 2);
  assert.deepEqual([...v.value.data], [1, 0, 3, 4]);
});
