import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { toBf16, toF16 } from '../tensor/dtype.js';
import { DTYPES, type SafeDType, type TensorArray } from './dtypes.js';
import { IoError } from './errors.js';
import { MAX_HEADER_BYTES, SafetensorsFile, toFloat32, toTensor } from './safetensors.js';
import { type TensorEntry, writeSafetensors } from './safetensors-write.js';
import { craftSafetensors, randomBytes, tempDir } from './testing.js';

const { dir, cleanup } = tempDir();
after(cleanup);
let counter = 0;
const path = (name = 'model.safetensors') => join(dir, `${counter++}-${name}`);

/** A typed array of `dtype` holding `n` elements of random bits. */
function randomArray(dtype: SafeDType, n: number, seed: number): TensorArray {
  const t = DTYPES[dtype];
  return new t.array(randomBytes(n * t.bytes, seed).buffer as ArrayBuffer, 0, n);
}

const bytesOf = (a: TensorArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('safetensors writer matches the reference implementation byte for byte', () => {
  // Expected bytes from safetensors/src/tensor.rs tests (test_serialization, test_empty,
  // test_serialization_forced_alignement).
  test('one F32 tensor "attn.0" [1, 2, 3]', () => {
    const p = path();
    writeSafetensors(p, {
      'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: Float32Array.of(0, 1, 2, 3, 4, 5) },
    });
    const expected = [
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101,
      34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34,
      100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0,
      0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ];
    assert.deepEqual([...readFileSync(p)], expected);
  });

  test('header padded with spaces to a multiple of 8', () => {
    const p = path();
    writeSafetensors(p, {
      attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: Float32Array.of(0, 1, 2, 3, 4, 5) },
    });
    const bytes = readFileSync(p);
    assert.equal(bytes.readBigUInt64LE(0), 72n);
    assert.equal(bytes.subarray(8 + 65, 8 + 72).toString(), '       ');
    const empty = path();
    writeSafetensors(empty, {});
    assert.deepEqual([...readFileSync(empty)], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const meta = path();
    writeSafetensors(meta, {}, { metadata: { framework: 'pt' } });
    assert.equal(readFileSync(meta).subarray(8).toString(), '{"__metadata__":{"framework":"pt"}}     ');
  });

  test('tensors laid out by descending dtype size then name, each aligned to its element size', () => {
    const p = path();
    writeSafetensors(p, {
      b: { dtype: 'U8', shape: [3], data: Uint8Array.of(1, 2, 3) },
      a: { dtype: 'F64', shape: [1], data: Float64Array.of(1.5) },
      c: { dtype: 'BF16', shape: [1], data: Uint16Array.of(0x3f80) },
      d: { dtype: 'F32', shape: [1], data: Float32Array.of(2) },
    });
    const f = SafetensorsFile.open(p);
    assert.deepEqual(f.names(), ['a', 'd', 'c', 'b']);
    for (const name of f.names()) {
      const t = f.info(name);
      assert.equal((8 + f.header.headerBytes + t.begin) % DTYPES[t.dtype].bytes, 0, name);
    }
    f.close();
  });
});

describe('safetensors round trip', () => {
  test('every dtype, bit-identical, including a scalar and an empty tensor', () => {
    const p = path();
    const tensors: Record<string, TensorEntry> = {};
    (Object.keys(DTYPES) as SafeDType[]).forEach((dtype, i) => {
      tensors[`layer.${i}.${dtype.toLowerCase()}`] = {
        dtype,
        shape: [3, 5],
        data: randomArray(dtype, 15, i + 1),
      };
    });
    tensors.scalar = { dtype: 'F32', shape: [], data: Float32Array.of(Math.PI) };
    tensors.empty = { dtype: 'F16', shape: [0, 4], data: new Uint16Array(0) };
    writeSafetensors(p, tensors, { metadata: { format: 'pt', note: 'ünïcödé' } });
    const f = SafetensorsFile.open(p);
    assert.deepEqual(f.metadata, { format: 'pt', note: 'ünïcödé' });
    assert.deepEqual(new Set(f.names()), new Set(Object.keys(tensors)));
    for (const [name, e] of Object.entries(tensors)) {
      const t = f.readTensor(name);
      assert.equal(t.dtype, e.dtype, name);
      assert.deepEqual(t.shape, e.shape, name);
      assert.ok(t.data instanceof DTYPES[e.dtype].array, name);
      assert.deepEqual(bytesOf(t.data), bytesOf(e.data as TensorArray), name);
    }
    f.close();
    const copy = path();
    const g = SafetensorsFile.open(p);
    writeSafetensors(
      copy,
      new Map(g.names().map((n) => [n, { ...g.info(n), data: () => g.readTensor(n).data }])),
      {
        metadata: { ...g.metadata },
      },
    );
    g.close();
    assert.deepEqual(readFileSync(copy), readFileSync(p));
  });

  test('toFloat32 decodes f16/bf16/integers; toTensor keeps the shape', () => {
    const p = path();
    const values = Float32Array.of(1, -2.5, 0.1, 65504);
    writeSafetensors(p, {
      h: { dtype: 'F16', shape: [2, 2], data: toF16(values) },
      b: { dtype: 'BF16', shape: [4], data: toBf16(values) },
      i: { dtype: 'I64', shape: [2], data: BigInt64Array.of(-3n, 1n << 40n) },
      f: { dtype: 'F32', shape: [4], data: values },
    });
    const f = SafetensorsFile.open(p);
    assert.deepEqual([...toFloat32(f.readTensor('h'))], [1, -2.5, Math.fround(0.0999755859375), 65504]);
    assert.deepEqual([...toFloat32(f.readTensor('b'))], [1, -2.5, 0.10009765625, 65536]);
    assert.deepEqual([...toFloat32(f.readTensor('i'))], [-3, 2 ** 40]);
    const t = toTensor(f.readTensor('h'));
    assert.deepEqual(t.shape, [2, 2]);
    assert.deepEqual(toFloat32(f.readTensor('f')), values);
    f.close();
    assert.throws(() => f.readTensor('h'), /is closed/);
  });

  test('opens a 3 GB file and reads one tensor without reading the rest', () => {
    const p = path();
    const big = 750_000_000; // F32 elements: 3e9 bytes, a sparse file on disk
    const header = {
      big: { dtype: 'F32', shape: [big], data_offsets: [0, big * 4] },
      tail: { dtype: 'I32', shape: [2], data_offsets: [big * 4, big * 4 + 8] },
    };
    craftSafetensors(p, header, new Uint8Array(0));
    const start = readFileSync(p).length;
    const fd = openSync(p, 'r+');
    ftruncateSync(fd, start + big * 4 + 8);
    writeSync(fd, new Uint8Array(Int32Array.of(7, -9).buffer), 0, 8, start + big * 4);
    closeSync(fd);
    const f = SafetensorsFile.open(p);
    assert.deepEqual([...f.readTensor('tail').data], [7, -9]);
    assert.deepEqual(f.info('big').shape, [big]);
    f.close();
  });
});

describe('safetensors validation names the file and the tensor', () => {
  const f32 = (shape: number[], begin: number, end: number) => ({
    dtype: 'F32',
    shape,
    data_offsets: [begin, end],
  });

  /** Crafts a file, expects open to throw an IoError whose message contains every fragment. */
  function rejects(header: object | string, data: Uint8Array, fragments: string[], declared?: bigint): void {
    const p = path('model.safetensors');
    craftSafetensors(p, header, data, declared);
    assert.throws(
      () => SafetensorsFile.open(p),
      (e: unknown) => {
        assert.ok(e instanceof IoError, String(e));
        assert.ok(e.message.startsWith(p), e.message);
        for (const s of fragments) assert.ok(e.message.includes(s), `"${e.message}" lacks "${s}"`);
        return true;
      },
    );
  }

  test('size does not match dtype × shape', () => {
    rejects({ 'h.0.attn.c_attn.weight': f32([32, 64], 0, 4096) }, new Uint8Array(4096), [
      'tensor "h.0.attn.c_attn.weight" claims bytes 0..4096 but F32 [32, 64] needs 8192',
    ]);
  });

  test('truncated data', () => {
    rejects({ a: f32([4], 0, 16), b: f32([4], 16, 32) }, new Uint8Array(20), [
      'tensor "b"',
      'only 20 bytes',
      'truncated',
    ]);
  });

  test('overlapping tensors', () => {
    rejects({ a: f32([4], 0, 16), b: f32([4], 8, 24) }, new Uint8Array(24), ['tensor "b"', 'overlaps "a"']);
  });

  test('a hole between tensors', () => {
    rejects({ a: f32([2], 0, 8), b: f32([2], 16, 24) }, new Uint8Array(24), [
      'tensor "b"',
      'hole of 8 bytes after "a"',
    ]);
  });

  test('bytes after the last tensor', () => {
    rejects({ a: f32([2], 0, 8) }, new Uint8Array(12), [
      '12 bytes',
      '"a" ends at byte 8',
      '4 bytes are not covered',
    ]);
  });

  test('unknown dtype', () => {
    rejects({ w: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4), [
      'tensor "w"',
      '"F8_E4M3"',
      'does not read',
    ]);
  });

  test('bad shapes and offsets', () => {
    rejects({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, new Uint8Array(8), [
      'tensor "w"',
      'non-negative integers',
    ]);
    rejects({ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, new Uint8Array(8), [
      'tensor "w"',
      'shape',
    ]);
    rejects({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, new Uint8Array(8), [
      'tensor "w"',
      'data_offsets',
    ]);
    rejects({ w: { dtype: 'F32', shape: [2] } }, new Uint8Array(8), ['tensor "w"', 'data_offsets']);
  });

  test('header that is not JSON, not an object, or has bad metadata', () => {
    rejects('{"a": {"dtype": "F32",', new Uint8Array(0), ['not valid UTF-8 JSON']);
    rejects('[1, 2]', new Uint8Array(0), ['must be a JSON object']);
    rejects({ __metadata__: { format: 1 } }, new Uint8Array(0), ['"__metadata__"."format" must be a string']);
  });

  test('header length over the limit, past the end, or a file shorter than 8 bytes', () => {
    rejects({}, new Uint8Array(0), ['over the 100000000-byte limit'], BigInt(MAX_HEADER_BYTES) + 1n);
    rejects({}, new Uint8Array(0), ['header length 18446744073709551615'], 2n ** 64n - 1n);
    rejects({ a: f32([1], 0, 4) }, new Uint8Array(0), ['runs past the end'], 1000n);
    const p = path();
    writeFileSync(p, Uint8Array.of(1, 2, 3));
    assert.throws(() => SafetensorsFile.open(p), /has 3 bytes/);
  });

  test('asking for a tensor the file lacks', () => {
    const p = path();
    writeSafetensors(p, { a: { dtype: 'U8', shape: [1], data: Uint8Array.of(1) } });
    const f = SafetensorsFile.open(p);
    assert.throws(() => f.readTensor('b'), /has no tensor "b"/);
    f.close();
  });
});

describe('safetensors writer refuses bad input and never leaves a partial file', () => {
  test('data of the wrong type or length', () => {
    const p = path();
    assert.throws(
      () => writeSafetensors(p, { w: { dtype: 'BF16', shape: [2], data: Float32Array.of(1, 2) } }),
      /tensor "w" is BF16, so its data must be a Uint16Array, got Float32Array/,
    );
    assert.throws(
      () => writeSafetensors(p, { w: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2) } }),
      /tensor "w" has 2 elements but F32 \[3\] needs 3/,
    );
    assert.throws(
      () => writeSafetensors(p, { __metadata__: { dtype: 'F32', shape: [0], data: new Float32Array(0) } }),
      /cannot be a tensor name/,
    );
    assert.equal(existsSync(p), false);
  });

  test('a failure mid-write leaves the previous file untouched and no temporary file', () => {
    const p = join(dir, 'atomic.safetensors');
    writeSafetensors(p, { a: { dtype: 'U8', shape: [1], data: Uint8Array.of(42) } });
    const before = readFileSync(p);
    assert.throws(
      () =>
        writeSafetensors(p, {
          a: { dtype: 'U8', shape: [1], data: Uint8Array.of(1) },
          b: {
            dtype: 'U8',
            shape: [1],
            data: () => {
              throw new Error('disk on fire');
            },
          },
        }),
      /disk on fire/,
    );
    assert.deepEqual(readFileSync(p), before);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('atomic.safetensors') && f.endsWith('.tmp')),
      [],
    );
  });
});
