import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { IoError } from './errors.js';
import { SafetensorsFile } from './safetensors.js';
import { type TensorEntry, writeSafetensors, writeShardedSafetensors } from './safetensors-write.js';
import { openWeights, ShardedSafetensors } from './sharded.js';
import { randomBytes, tempDir } from './testing.js';

const { dir: root, cleanup } = tempDir();
after(cleanup);
let counter = 0;
const folder = () => {
  const d = join(root, String(counter++));
  mkdirSync(d);
  return d;
};

/** Six f32 tensors of 64 floats (256 bytes each), named like a model's layers. */
function layers(): Map<string, TensorEntry> {
  const m = new Map<string, TensorEntry>();
  for (let i = 0; i < 6; i++) {
    const data = new Float32Array(randomBytes(256, i + 1).buffer);
    m.set(`model.layers.${i}.mlp.up_proj.weight`, { dtype: 'F32', shape: [8, 8], data });
  }
  return m;
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('sharded checkpoints', () => {
  test('split by max shard size as save_pretrained does, with an index; read back bit-identical', () => {
    const dir = folder();
    const tensors = layers();
    const out = writeShardedSafetensors(dir, tensors, { maxShardBytes: 600, metadata: { format: 'pt' } });
    assert.deepEqual(out.files, [
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
    ]);
    assert.equal(out.indexFile, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(join(dir, out.indexFile!), 'utf8'));
    assert.equal(index.metadata.total_size, 6 * 256);
    assert.equal(index.weight_map['model.layers.5.mlp.up_proj.weight'], 'model-00003-of-00003.safetensors');
    const w = openWeights(dir);
    assert.ok(w instanceof ShardedSafetensors);
    assert.deepEqual(w.names(), [...tensors.keys()].sort());
    for (const [name, e] of tensors) {
      assert.deepEqual(bytes(w.readTensor(name).data), bytes(e.data as Float32Array), name);
      assert.deepEqual(w.info(name).shape, [8, 8]);
    }
    w.close();
  });

  test('a tensor larger than the limit gets a shard of its own; everything under the limit → one file, no index', () => {
    const dir = folder();
    const tensors = layers();
    tensors.set('lm_head.weight', { dtype: 'F32', shape: [300], data: new Float32Array(300) });
    const out = writeShardedSafetensors(dir, tensors, { maxShardBytes: 1000 });
    // huggingface_hub's split_state_dict_into_shards_factory emits an oversized tensor's shard at once,
    // before the shard being filled: layers 0-2 | lm_head (1200 bytes) | layers 3-5.
    const names = out.files.map((f) => {
      const s = SafetensorsFile.open(join(dir, f));
      const n = s.names();
      s.close();
      return n.map((x) => x.replace('.mlp.up_proj.weight', '').replace('model.layers.', ''));
    });
    assert.deepEqual(names, [['0', '1', '2'], ['lm_head.weight'], ['3', '4', '5']]);
    const single = folder();
    assert.deepEqual(writeShardedSafetensors(single, layers()), {
      files: ['model.safetensors'],
      indexFile: undefined,
    });
    assert.deepEqual(readdirSync(single), ['model.safetensors']);
  });

  test('shards are opened lazily: an unread corrupt shard does not stop reading the others', () => {
    const dir = folder();
    const out = writeShardedSafetensors(dir, layers(), { maxShardBytes: 600 });
    writeFileSync(join(dir, out.files[2]!), 'garbage');
    const w = ShardedSafetensors.open(join(dir, out.indexFile!));
    assert.equal(w.readTensor('model.layers.0.mlp.up_proj.weight').data.length, 64);
    assert.throws(
      () => w.readTensor('model.layers.5.mlp.up_proj.weight'),
      /model-00003-of-00003.safetensors: file has 7 bytes/,
    );
    w.close();
  });

  /** A valid 2-shard folder whose index the test then edits. */
  function indexed(edit: (index: { weight_map: Record<string, string> }) => void): string {
    const dir = folder();
    const out = writeShardedSafetensors(dir, layers(), { maxShardBytes: 800 });
    const p = join(dir, out.indexFile!);
    const index = JSON.parse(readFileSync(p, 'utf8'));
    edit(index);
    writeFileSync(p, JSON.stringify(index));
    return p;
  }

  function rejects(run: () => unknown, fragments: string[]): void {
    assert.throws(run, (e: unknown) => {
      assert.ok(e instanceof IoError, String(e));
      for (const s of fragments) assert.ok(e.message.includes(s), `"${e.message}" lacks "${s}"`);
      return true;
    });
  }

  test('index errors: missing shard, tensor absent from its shard, unlisted tensor, bad paths, bad JSON', () => {
    const missing = indexed((ix) => {
      ix.weight_map['model.layers.5.mlp.up_proj.weight'] = 'model-00009-of-00009.safetensors';
    });
    rejects(
      () => ShardedSafetensors.open(missing),
      [
        'model.safetensors.index.json',
        'shard "model-00009-of-00009.safetensors" is missing',
        'model.layers.5.mlp.up_proj.weight',
      ],
    );

    const absent = indexed((ix) => {
      ix.weight_map['lm_head.weight'] = 'model-00001-of-00002.safetensors';
    });
    const a = ShardedSafetensors.open(absent);
    rejects(
      () => a.readTensor('model.layers.0.mlp.up_proj.weight'),
      [
        'lists tensor "lm_head.weight" in shard "model-00001-of-00002.safetensors", but that shard has no such tensor',
      ],
    );
    a.close();

    const unlisted = indexed((ix) => {
      delete ix.weight_map['model.layers.0.mlp.up_proj.weight'];
    });
    const u = ShardedSafetensors.open(unlisted);
    rejects(
      () => u.readTensor('model.layers.1.mlp.up_proj.weight'),
      ['holds tensor "model.layers.0.mlp.up_proj.weight" but the index does not list it'],
    );
    u.close();

    const moved = indexed((ix) => {
      ix.weight_map['model.layers.0.mlp.up_proj.weight'] = 'model-00002-of-00002.safetensors';
    });
    const m = ShardedSafetensors.open(moved);
    rejects(
      () => m.readTensor('model.layers.0.mlp.up_proj.weight'),
      ['lists tensor "model.layers.0.mlp.up_proj.weight" in shard "model-00002-of-00002.safetensors"'],
    );
    m.close();

    const outside = indexed((ix) => {
      ix.weight_map['model.layers.0.mlp.up_proj.weight'] = '../elsewhere.safetensors';
    });
    rejects(
      () => ShardedSafetensors.open(outside),
      ['weight_map["model.layers.0.mlp.up_proj.weight"] must be a shard file name inside the folder'],
    );

    const bad = indexed(() => {});
    writeFileSync(bad, '{"weight_map": ');
    rejects(() => ShardedSafetensors.open(bad), ['is not valid JSON']);
    writeFileSync(bad, '{"weight_map": []}');
    rejects(() => ShardedSafetensors.open(bad), ['"weight_map" must be an object']);
  });

  test('openWeights prefers model.safetensors and says what a folder without safetensors has', () => {
    const dir = folder();
    writeShardedSafetensors(dir, layers(), { maxShardBytes: 800 });
    writeSafetensors(join(dir, 'model.safetensors'), {
      x: { dtype: 'U8', shape: [1], data: Uint8Array.of(1) },
    });
    const w = openWeights(dir);
    assert.deepEqual(w.names(), ['x']);
    w.close();
    const empty = folder();
    writeFileSync(join(empty, 'pytorch_model.bin'), '');
    rejects(
      () => openWeights(empty),
      ['has neither model.safetensors nor model.safetensors.index.json', 'pytorch_model.bin'],
    );
    rmSync(join(empty, 'pytorch_model.bin'));
  });
});
