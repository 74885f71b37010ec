import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCausalLM } from '../models/load.js';
import { writeTinyModel } from '../models/testing.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeRandomLlama } from './demo-model.js';
import { main } from './main.js';

const bin = fileURLToPath(new URL('../../../bin/sparsekit.js', import.meta.url));

const root = mkdtempSync(join(tmpdir(), 'sparsekit-cli-prune-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const wo = process.stdout.write.bind(process.stdout);
  const we = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'sparsekit', ...args]);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = wo;
    process.stderr.write = we;
    process.exitCode = 0; // the commands set it; the test file's own exit code must not inherit a 2
  }
}

describe('sparsekit prune / inspect', () => {
  const model = join(root, 'tiny');
  writeTinyModel(model, 'llama');

  it('writes a loadable 2:4 folder and inspect reports the counted density', async () => {
    const out = join(root, 'p24');
    const r = await capture(['prune', model, '--method', 'magnitude', '--sparsity', '2:4', '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /counted sparsity 50\.00%/);
    const w = loadCausalLM(out).linears().get('model.layers.1.mlp.down_proj.weight')!.weight as Tensor;
    for (let g = 0; g < w.size; g += 4)
      assert.equal([...w.data.subarray(g, g + 4)].filter((v) => v === 0).length, 2);
    const i = await capture(['inspect', out, '--json']);
    const layers = JSON.parse(i.out).layers as Array<{ name: string; density: number }>;
    assert.equal(layers.find((l) => l.name === 'model.layers.0.self_attn.q_proj.weight')!.density, 0.5);
    assert.equal(layers.find((l) => l.name === 'lm_head.weight')!.density, 1);
  });

  it('a bf16 model pruned to 70%: the compact checkpoint holds csr_bf16 weights, 4 B per kept weight in inspect', async () => {
    const bf16 = join(root, 'tiny-bf16');
    writeTinyModel(bf16, 'llama', { dtype: 'BF16' });
    const out = join(root, 'b70');
    const r = await capture(['prune', bf16, '--method', 'magnitude', '--sparsity', '0.7', '--out', out]);
    assert.equal(r.code, 0, r.err);
    const i = await capture(['inspect', `${out}-sparse`, '--json']);
    const layers = JSON.parse(i.out).layers as Array<{
      name: string;
      format: string;
      rows: number;
      density: number;
      cols: number;
      bytes: number;
    }>;
    const down = layers.find((l) => l.name === 'model.layers.1.mlp.down_proj.weight')!;
    const kept = Math.round(down.density * down.rows * down.cols);
    assert.deepEqual([down.format, down.bytes], ['csr_bf16', 4 * (down.rows + 1) + 4 * kept]);
    const text = await capture(['inspect', `${out}-sparse`]);
    assert.match(text.out, /model\.layers\.1\.mlp\.down_proj\.weight .* csr_bf16 /);
  });

  it('writes the compact checkpoint beside --out: N:M and CSR weights, the same logits, inspect shows formats', async () => {
    const out = join(root, 'c24');
    const r = await capture(['prune', model, '--method', 'magnitude', '--sparsity', '2:4', '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`→ ${out} and ${out}-sparse \\(14 nm, 1 dense\\)`));
    const i = await capture(['inspect', `${out}-sparse`, '--json']);
    const layers = JSON.parse(i.out).layers as Array<{ name: string; format: string; bytes: number }>;
    const down = layers.find((l) => l.name === 'model.layers.1.mlp.down_proj.weight')!;
    assert.deepEqual([down.format, down.bytes], ['nm', 16 * (24 / 4) * (2 * 4 + 1)]);
    const ids = [1, 2, 3, 4, 5];
    const plain = loadCausalLM(out).forward(ids);
    const compact = loadCausalLM(`${out}-sparse`).forward(ids);
    for (let k = 0; k < plain.size; k++) assert.ok(Math.abs(plain.data[k]! - compact.data[k]!) < 1e-5);
    const c70 = join(root, 'c70');
    const s = await capture([
      'prune',
      model,
      '--method',
      'magnitude',
      '--sparsity',
      '0.7',
      '--out',
      c70,
      '--sparse-out',
      join(root, 'elsewhere'),
    ]);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /elsewhere \(14 csr, 1 dense\)/);
    const none = await capture([
      'prune',
      model,
      '--method',
      'magnitude',
      '--sparsity',
      '0.7',
      '--out',
      join(root, 'solo'),
      '--no-sparse-out',
    ]);
    assert.equal(none.code, 0, none.err);
    assert.ok(!existsSync(join(root, 'solo-sparse')));
    const again = await capture([
      'prune',
      model,
      '--method',
      'magnitude',
      '--sparsity',
      '0.5',
      '--out',
      join(root, 'fresh'),
      '--sparse-out',
      `${out}-sparse`,
    ]);
    assert.equal(again.code, 2);
    assert.match(again.err, /--sparse-out .*c24-sparse already exists/);
    assert.ok(!existsSync(join(root, 'fresh')), 'checked before any work');
  });

  it('refuses bad input with exit code 2 and leaves no folder behind', async () => {
    const out = join(root, 'bad');
    for (const args of [
      ['--method', 'magnitude', '--sparsity', '1.2'],
      ['--method', 'magnitude', '--sparsity', '3:5'],
      ['--method', 'sparsegpt', '--sparsity', '0.5', '--structure', 'heads'],
      ['--method', 'wanda', '--sparsity', '0.5'], // no tokenizer.json for calibration
    ]) {
      const r = await capture(['prune', model, ...args, '--out', out]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    }
    assert.ok(!existsSync(out));
    assert.deepEqual(
      readdirSync(root).filter((f) => f.includes('.tmp-')),
      [],
    );
    const again = await capture([
      'prune',
      model,
      '--method',
      'magnitude',
      '--sparsity',
      '0.5',
      '--out',
      join(root, 'p24'),
    ]);
    assert.equal(again.code, 2);
    assert.match(again.err, /already exists; pass --overwrite/);
  });
});

test('Ctrl-C while pruning stops at the next step: exit 130, no output folder, no temporary folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsekit-cli-prune-sigint-'));
  try {
    const model = join(dir, 'deep');
    writeRandomLlama(model, {
      hiddenSize: 32,
      intermediateSize: 64,
      layers: 48,
      heads: 2,
      kvHeads: 1,
      maxPositions: 64,
    });
    const out = join(dir, 'out');
    const text = join(dir, 'calib.txt');
    writeFileSync(text, 'The jury said the election was conducted with no evidence of fraud. '.repeat(200));
    const args = [
      'prune',
      model,
      '--method',
      'sparsegpt',
      '--sparsity',
      '0.5',
      '--calib',
      text,
      '--calib-count',
      '64',
    ];
    const child = spawn(process.execPath, [bin, ...args, '--calib-length', '64', '--out', out]);
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('calibrate block 2/') && !child.killed) child.kill('SIGINT'); // once
      });
      child.on('exit', (c) => resolve(c));
    });
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted; nothing was written/);
    assert.doesNotMatch(stderr, /calibrate block 48\/48/, 'stopped early');
    assert.deepEqual(readdirSync(dir).sort(), ['calib.txt', 'deep']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--stream writes the same two folders as the in-memory prune; --help says memory is one block; refuses --budget global', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsekit-cli-prune-stream-'));
  try {
    const model = join(dir, 'm');
    writeRandomLlama(model, {
      hiddenSize: 32,
      intermediateSize: 64,
      layers: 3,
      heads: 2,
      kvHeads: 1,
      maxPositions: 64,
    });
    const text = join(dir, 'calib.txt');
    writeFileSync(text, 'The jury said the election was conducted with no evidence of fraud. '.repeat(50));
    const args = ['prune', model, '--method', 'wanda', '--sparsity', '0.6', '--budget', 'owl'];
    const calib = ['--calib', text, '--calib-count', '4', '--calib-length', '16'];
    const mem = await capture([...args, ...calib, '--out', join(dir, 'mem')]);
    assert.equal(mem.code, 0, mem.err);
    const str = await capture([...args, ...calib, '--stream', '--out', join(dir, 'str')]);
    assert.equal(str.code, 0, str.err);
    assert.match(str.out, /counted sparsity .* → .*str and .*str-sparse \(/);
    for (const [a, b] of [
      ['mem', 'str'],
      ['mem-sparse', 'str-sparse'],
    ]) {
      for (const f of ['model.safetensors', 'config.json', 'tokenizer.json']) {
        assert.ok(readFileSync(join(dir, a!, f)).equals(readFileSync(join(dir, b!, f))), `${b}/${f} differs`);
      }
    }
    const refused = await capture([
      'prune',
      model,
      '--method',
      'magnitude',
      '--sparsity',
      '0.25',
      '--budget',
      'global',
      '--stream',
      '--out',
      join(dir, 'x'),
    ]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.err,
      /--stream prunes one block at a time; --budget global ranks every weight at once/,
    );
    assert.ok(!existsSync(join(dir, 'x')));
    const help = await capture(['prune', '--help']);
    assert.match(
      help.out.replace(/\s+/g, ' '),
      /--stream read, prune and write one transformer block at a time: memory is bounded by one block of weights/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
