import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addTransposeInto, transposeData, transposeInto } from './transpose.js';

function filled(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % 1009) - 504);
}

// shapes around the 8-column step and the 64-row band, and blocks at offsets inside larger arrays
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [1, 9],
  [9, 1],
  [7, 8],
  [64, 8],
  [65, 17],
  [130, 23],
  [512, 576],
];

test('transposeInto / transposeData: dst[j·rows + i] = src[i·cols + j], at offsets, nothing else written', () => {
  for (const [rows, cols] of SHAPES) {
    const src = filled(rows * cols + 5, rows);
    const dst = new Float32Array(rows * cols + 7).fill(-1);
    transposeInto(src, rows, cols, dst, 5, 3);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++)
        assert.equal(dst[3 + j * rows + i], src[5 + i * cols + j], `${rows}x${cols} (${i},${j})`);
    assert.deepEqual([...dst.subarray(0, 3), ...dst.subarray(3 + rows * cols)], [-1, -1, -1, -1, -1, -1, -1]);
    const plain = transposeData(src.subarray(5), rows, cols);
    assert.deepEqual(plain, dst.subarray(3, 3 + rows * cols));
  }
});

test('addTransposeInto adds the transpose to what dst holds', () => {
  for (const [rows, cols] of SHAPES) {
    const src = filled(rows * cols, cols);
    const dst = filled(rows * cols, 3);
    const want = dst.map((v, k) => v + src[(k % rows) * cols + Math.floor(k / rows)]!);
    addTransposeInto(src, rows, cols, dst);
    assert.deepEqual(dst, want, `${rows}x${cols}`);
  }
});
