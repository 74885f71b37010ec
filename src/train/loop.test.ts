// The training loop: a tiny MLP learns a separable toy problem; same seed → bit-identical losses; resume from a
// checkpoint (saved at the end or on Ctrl-C) continues bit-identically; truncated or corrupted checkpoints are
// refused; gradient accumulation matches one big batch.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { relu } from '../autograd/elementwise.js';
import { dropout } from '../autograd/embedding.js';
import { linear } from '../autograd/linear.js';
import { crossEntropy } from '../autograd/loss.js';
import { Rng } from '../autograd/rng.js';
import { constant, noGrad, param, type Var } from '../autograd/tape.js';
import { randn } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { loadCheckpoint } from './checkpoint.js';
import { type TrainOptions, train } from './loop.js';
import { AdamW } from './optim.js';
import { warmupCosine } from './schedule.js';

const dir = mkdtempSync(join(tmpdir(), 'sparsekit-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Points in [-1, 1]²; class 1 inside the circle of radius √0.5 (not linearly separable, separable by an MLP).
const N = 512;
const points = new Float32Array(N * 2);
const labels = new Int32Array(N);
{
  const r = new Rng(123);
  for (let i = 0; i < N; i++) {
    const x = 2 * r.next() - 1;
    const y = 2 * r.next() - 1;
    points[2 * i] = x;
    points[2 * i + 1] = y;
    labels[i] = x * x + y * y < 0.5 ? 1 : 0;
  }
}

function mlp(seed: number): Record<string, Var> {
  const scaled = (t: Tensor, s: number) =>
    new Tensor(
      t.data.map((v) => v * s),
      t.shape,
    );
  return {
    w1: param(scaled(randn([32, 2], seed), 0.7)),
    b1: param(Tensor.zeros([32])),
    w2: param(scaled(randn([2, 32], seed + 1), 0.2)),
    b2: param(Tensor.zeros([2])),
  };
}

function forward(p: Record<string, Var>, x: Var, rng: Rng | null): Var {
  let h = relu(linear(x, p.w1!, p.b1!));
  if (rng) h = dropout(h, 0.1, rng);
  return linear(h, p.w2!, p.b2!);
}

function batch(ids: ArrayLike<number>): { x: Var; y: Int32Array } {
  const x = new Float32Array(ids.length * 2);
  const y = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    x[2 * i] = points[2 * ids[i]!]!;
    x[2 * i + 1] = points[2 * ids[i]! + 1]!;
    y[i] = labels[ids[i]!]!;
  }
  return { x: constant(new Tensor(x, [ids.length, 2])), y };
}

function options(p: Record<string, Var>, steps: number, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    params: p,
    optimizer: new AdamW(Object.values(p), { lr: 0.03, weightDecay: 0.01 }),
    steps,
    seed: 7,
    schedule: warmupCosine({ peak: 0.03, warmup: 5, total: 200, floor: 0.003 }),
    clipNorm: 5,
    progress: 'none',
    lossFn: ({ rng }) => {
      const ids = Array.from({ length: 64 }, () => rng.int(N));
      const { x, y } = batch(ids);
      return { loss: crossEntropy(forward(p, x, rng), y), items: 64 };
    },
    ...extra,
  };
}

function accuracy(p: Record<string, Var>): number {
  const { x, y } = batch(Array.from({ length: N }, (_, i) => i));
  const logits = noGrad(() => forward(p, x, null)).value.data;
  let right = 0;
  for (let i = 0; i < N; i++) if ((logits[2 * i + 1]! > logits[2 * i]! ? 1 : 0) === y[i]) right++;
  return right / N;
}

test('a tiny MLP learns the circle problem: loss below 0.15 and accuracy above 95% after 200 steps', async () => {
  const p = mlp(1);
  const lines: string[] = [];
  const evals: number[] = [];
  const res = await train(
    options(p, 200, {
      progress: 'lines',
      logEvery: 50,
      log: (l) => lines.push(l),
      evalEvery: 100,
      evaluate: () => {
        const a = accuracy(p);
        evals.push(a);
        return { accuracy: a };
      },
    }),
  );
  const tail = res.losses.slice(-20).reduce((s, v) => s + v, 0) / 20;
  assert.ok(res.losses[0]! > 0.6, `first loss ${res.losses[0]}`);
  assert.ok(tail < 0.15, `mean of the last 20 losses is ${tail}`);
  assert.ok(accuracy(p) > 0.95, `accuracy ${accuracy(p)}`);
  assert.deepEqual(
    res.evals.map((e) => e.step),
    [100, 200],
  );
  assert.equal(evals.length, 2);
  assert.ok(
    lines.some((l) => /^step 50\/200 loss \d\.\d{4} lr .* items\/s ETA /.test(l)),
    lines.join('\n'),
  );
  assert.ok(lines.some((l) => l.startsWith('eval step 200: accuracy')));
});

test('same seed → bit-identical losses (with dropout and sampling from the run generator)', async () => {
  const a = await train(options(mlp(2), 15));
  const b = await train(options(mlp(2), 15));
  assert.deepEqual(a.losses, b.losses);
  const c = await train(options(mlp(2), 15, { seed: 8 }));
  assert.notDeepEqual(a.losses, c.losses);
});

test('resume from a checkpoint gives bit-identical losses and weights to an uninterrupted run', async () => {
  const full = mlp(3);
  const want = await train(options(full, 12));
  const path = join(dir, 'resume.safetensors');
  const first = await train(options(mlp(3), 6, { checkpoint: { path } }));
  assert.equal(first.step, 6);
  const again = mlp(3); // fresh weights and optimizer: everything comes from the checkpoint
  const res = await train(options(again, 12, { checkpoint: { path }, log: () => {} }));
  assert.equal(res.resumedFrom, 6);
  assert.deepEqual(res.losses, want.losses);
  for (const k of Object.keys(full)) assert.deepEqual([...again[k]!.value.data], [...full[k]!.value.data], k);
});

test('Ctrl-C saves a checkpoint after the current step and returns; resuming finishes bit-identically', async () => {
  const want = await train(options(mlp(4), 10));
  const path = join(dir, 'sigint.safetensors');
  const p = mlp(4);
  const base = options(p, 10, { checkpoint: { path }, log: () => {} });
  const stopped = await train({
    ...base,
    lossFn: (ctx) => {
      if (ctx.step === 3) process.emit('SIGINT');
      return base.lossFn(ctx);
    },
  });
  assert.equal(stopped.interrupted, true);
  assert.equal(stopped.step, 4);
  assert.equal(process.listenerCount('SIGINT'), 0, 'the handler is removed');
  const q = mlp(4);
  const res = await train(options(q, 10, { checkpoint: { path }, log: () => {} }));
  assert.equal(res.resumedFrom, 4);
  assert.deepEqual(res.losses, want.losses);
});

test('a truncated or corrupted checkpoint is refused with a clear error', async () => {
  const path = join(dir, 'bad.safetensors');
  const p = mlp(5);
  await train(options(p, 2, { checkpoint: { path } }));
  const state = () => ({ params: p, optimizer: new AdamW(Object.values(p)), rng: new Rng(0) });
  assert.equal(loadCheckpoint(path, state()).step, 2);
  const bytes = readFileSync(path);
  const cut = join(dir, 'cut.safetensors');
  writeFileSync(cut, bytes);
  truncateSync(cut, bytes.length - 9);
  assert.throws(() => loadCheckpoint(cut, state()), /past the end|truncated/);
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 3]! ^= 0x40;
  const bad = join(dir, 'flipped.safetensors');
  writeFileSync(bad, flipped);
  assert.throws(() => loadCheckpoint(bad, state()), /SHA-256/);
});

test('gradient accumulation over two half batches matches one full batch', async () => {
  const fixed = Array.from({ length: 64 }, (_, i) => (i * 7) % N);
  const lossOf = (p: Record<string, Var>, ids: number[]) => {
    const { x, y } = batch(ids);
    return { loss: crossEntropy(forward(p, x, null), y), items: ids.length };
  };
  const pa = mlp(6);
  const one = await train(options(pa, 5, { lossFn: () => lossOf(pa, fixed) }));
  const pb = mlp(6);
  const two = await train(
    options(pb, 5, {
      accumulate: 2,
      lossFn: ({ micro }) => lossOf(pb, fixed.slice(micro * 32, micro * 32 + 32)),
    }),
  );
  one.losses.forEach((l, i) => {
    assert.ok(Math.abs(l - two.losses[i]!) < 1e-5 * Math.abs(l), `step ${i}: ${l} vs ${two.losses[i]}`);
  });
  for (const k of Object.keys(pa)) {
    pa[k]!.value.data.forEach((v, j) => {
      assert.ok(Math.abs(v - pb[k]!.value.data[j]!) < 1e-5, `${k}[${j}]`);
    });
  }
});

test('a real SIGINT to a training process: it finishes the step, saves the checkpoint and exits with code 0', async () => {
  const { spawn } = await import('node:child_process');
  const path = join(dir, 'child.safetensors');
  const lib = new URL('../index.js', import.meta.url).href;
  const script = `
    const { autograd, train, SGD, Tensor } = await import(${JSON.stringify(lib)});
    const w = autograd.param(Tensor.from([1, 2, 3]));
    const res = await train({
      params: { w }, optimizer: new SGD([w], { lr: 0.001 }), steps: 1e6, progress: 'lines', logEvery: 1,
      checkpoint: { path: ${JSON.stringify(path)} }, log: (l) => console.log(l),
      lossFn: () => {
        const t0 = Date.now();
        while (Date.now() - t0 < 5) {} // a step takes a few ms
        return { loss: autograd.sum(autograd.mul(w, w)), items: 1 };
      },
    });
    console.log('interrupted=' + res.interrupted + ' step=' + res.step);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let sent = false; // one Ctrl-C: a second one exits at once with 130
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!sent && out.includes('step 3/')) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((res) => child.on('close', res));
  assert.equal(code, 0, out);
  const m = /interrupted=true step=(\d+)/.exec(out);
  assert.ok(m, out);
  const w = param(Tensor.zeros([3]));
  const info = loadCheckpoint(path, { params: { w }, optimizer: new AdamW([w]), rng: new Rng(0) });
  assert.equal(info.step, Number(m[1]));
  assert.ok(w.value.data[2]! < 3 && w.value.data[2]! > 2.9);
});
