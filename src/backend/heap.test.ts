import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Heap } from './heap.js';

test('heap: blocks are 64-byte aligned, reused after release, and coalesce', () => {
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 1024 });
  const heap = new Heap(mem, 100);
  const a = heap.alloc(10);
  const b = heap.alloc(100);
  const c = heap.alloc(64);
  assert.equal(a % 64, 0);
  assert.equal(b, a + 64);
  assert.equal(c, b + 128);
  heap.release(a);
  heap.release(b);
  // a and b coalesce into one 192-byte block that a 150-byte request reuses
  assert.equal(heap.alloc(150), a);
  assert.throws(() => heap.release(12345), /not a live allocation/);
});

test('heap: grows memory past the initial pages', () => {
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 1024 });
  const heap = new Heap(mem, 0);
  const p = heap.alloc(5 * 65536);
  assert.ok(mem.buffer.byteLength >= p + 5 * 65536);
  assert.equal(heap.used, 5 * 65536);
});
