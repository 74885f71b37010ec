/**
 * Golden tests: sparsekit's training against PyTorch.
 *
 * test/fixtures/train/<name>/ holds a tiny causal LM (config.json, model.safetensors with HF names), a fixed
 * batch with some labels set to the ignore index (golden.json), and what plain PyTorch computes from the same
 * weights (scripts/fixtures/make_train_fixtures.py; forward from transformers' modeling files, float64; never
 * run at test time): the loss, every parameter's gradient (grads.safetensors, HF layout) and the losses of 10
 * torch.optim.AdamW steps (lr 1e-2, betas (0.9, 0.999), eps 1e-8, weight decay 0.01). TrainableLM must give
 * each gradient within 1e-4 of the gradient tensor's scale (max |got − want| ≤ 1e-4 · max |want|) and every
 * AdamW loss within 1e-3 relative. SHA256SUMS pins the files.
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { transposeData } from '../src/autograd/shape.js';
import { backward } from '../src/autograd/tape.js';
import { SafetensorsFile, toFloat32 } from '../src/io/safetensors.js';
import { TrainableLM } from '../src/train/lm/index.js';
import { AdamW } from '../src/train/optim.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/train/', import.meta.url));

interface Golden {
  model: string;
  input_ids: number[][];
  labels: number[][];
  ignore_index: number;
  loss: number;
  grad_tolerance: number;
  adamw: {
    lr: number;
    betas: [number, number];
    eps: number;
    weight_decay: number;
    steps: number;
    losses: number[];
    loss_tolerance: number;
  };
}

const folders = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

const golden = (name: string) =>
  JSON.parse(readFileSync(join(FIXTURES, name, 'golden.json'), 'utf8')) as Golden;

test('every training fixture file matches SHA256SUMS', () => {
  const listed = new Set<string>();
  for (const line of readFileSync(join(FIXTURES, 'SHA256SUMS'), 'utf8').split('\n').filter(Boolean)) {
    const [digest, path] = line.split('  ') as [string, string];
    listed.add(path);
    const sum = createHash('sha256')
      .update(readFileSync(join(FIXTURES, path)))
      .digest('hex');
    assert.equal(sum, digest, `${path}: sha256 differs from SHA256SUMS`);
  }
  assert.deepEqual(folders, ['gpt2', 'llama', 'llama-tied']);
  for (const name of folders) {
    for (const f of ['config.json', 'model.safetensors', 'grads.safetensors', 'golden.json']) {
      assert.ok(existsSync(join(FIXTURES, name, f)) && listed.has(`${name}/${f}`), `${name}/${f}`);
    }
  }
});

for (const name of folders) {
  describe(`training golden ${name}`, () => {
    const g = golden(name);
    const dir = join(FIXTURES, name);

    test('the loss and every parameter gradient match PyTorch', () => {
      const lm = TrainableLM.fromHfFolder(dir);
      const loss = lm.lossOn(g.input_ids, { labels: g.labels, ignoreIndex: g.ignore_index });
      const got = loss.value.data[0]!;
      assert.ok(Math.abs(got - g.loss) <= 1e-5 * Math.abs(g.loss), `loss ${got} vs ${g.loss}`);
      backward(loss);
      const ref = SafetensorsFile.open(join(dir, 'grads.safetensors'));
      try {
        assert.deepEqual(
          [...ref.names()].sort(),
          lm.specs.map((s) => s.name).sort(),
          'one gradient per parameter',
        );
        let worst = 0;
        for (const s of lm.specs) {
          const want = toFloat32(ref.readTensor(s.name));
          let have = lm.params.get(s.name)!.grad!.data;
          if (s.transposed) have = transposeData(have, s.shape[0]!, s.shape[1]!); // GPT-2 Conv1D: [in, out]
          let scale = 0;
          let err = 0;
          for (let i = 0; i < want.length; i++) {
            scale = Math.max(scale, Math.abs(want[i]!));
            err = Math.max(err, Math.abs(have[i]! - want[i]!));
          }
          assert.ok(scale > 0, `${s.name}: the reference gradient is all zero (fixture tests nothing)`);
          assert.ok(
            err <= g.grad_tolerance * scale,
            `${s.name}: max abs error ${err} > ${g.grad_tolerance} × ${scale}`,
          );
          worst = Math.max(worst, err / scale);
        }
        assert.ok(worst < g.grad_tolerance);
      } finally {
        ref.close();
      }
    });

    test(`${g.adamw.steps} AdamW steps give PyTorch's losses`, () => {
      const lm = TrainableLM.fromHfFolder(dir);
      const a = g.adamw;
      const opt = new AdamW(lm.parameters(), {
        lr: a.lr,
        betas: a.betas,
        eps: a.eps,
        weightDecay: a.weight_decay,
      });
      const losses: number[] = [];
      for (let s = 0; s <= a.steps; s++) {
        const loss = lm.lossOn(g.input_ids, { labels: g.labels, ignoreIndex: g.ignore_index });
        losses.push(loss.value.data[0]!);
        if (s === a.steps) break;
        backward(loss);
        opt.step();
        opt.zeroGrad();
      }
      losses.forEach((l, k) => {
        const want = a.losses[k]!;
        assert.ok(
          Math.abs(l - want) <= a.loss_tolerance * Math.abs(want),
          `step ${k}: loss ${l} vs PyTorch ${want}`,
        );
      });
      assert.ok(
        losses.at(-1)! < losses[0]! / 4,
        'the run actually trains (the fixture moves far from the start)',
      );
    });
  });
}
