import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCausalLM } from '../models/load.js';
import { writeTinyModel } from '../models/testing.js';
import type { Tensor } from '../tensor/tensor.js';
import { main } from './main.js';

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
