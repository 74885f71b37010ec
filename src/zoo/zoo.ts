/**
 * The model zoo on disk: where it lives (`zoo/` at the package root, or SPARSEKIT_ZOO), what a built model
 * records about its training (`training.json`, rendered as TRAINING.md), listing, and `zoo/SHA256SUMS`.
 *
 * Layout: zoo/<name>/ is a model folder (config.json, model.safetensors, tokenizer.json for LMs) plus
 * training.json and TRAINING.md; zoo/.work/<name>/ holds an unfinished build's checkpoint (not committed).
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAll, writeFileAtomic } from '../io/atomic.js';

/** The zoo folder: $SPARSEKIT_ZOO if set, else `zoo/` beside package.json. */
export function zooDir(): string {
  if (process.env.SPARSEKIT_ZOO) return process.env.SPARSEKIT_ZOO;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'zoo');
    dir = dirname(dir);
  }
  throw new Error(
    'zoo: cannot find the sparsekit package root (no package.json above this module); set SPARSEKIT_ZOO',
  );
}

/** Scratch folder of an unfinished build (checkpoints), created on demand. */
export function zooWorkDir(root: string, name: string): string {
  const dir = join(root, '.work', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** One evaluation point of a training curve. */
export interface CurvePoint {
  step: number;
  /** Samples or tokens seen so far. */
  seen: number;
  /** Mean training loss over the steps since the previous point. */
  trainLoss: number;
  /** Held-out metrics at this step (e.g. valLoss, valAcc, valPpl). */
  metrics: Record<string, number>;
}

/** What a built model records about how it was made (training.json; rendered as TRAINING.md). */
export interface TrainingRecord {
  name: string;
  description: string;
  /** The command that builds it. */
  command: string;
  /** Every hyperparameter, exactly as used. */
  hyperparameters: Record<string, unknown>;
  /** Final metrics (test accuracy, perplexity, …), with their meaning in `metricNotes`. */
  metrics: Record<string, number>;
  metricNotes: Record<string, string>;
  curve: CurvePoint[];
  parameters: number;
  steps: number;
  /** Wall seconds of training, summed over resumed segments. */
  seconds: number;
  /** Samples or tokens per second over the training. */
  rate: number;
  itemName: string;
  /** Node, machine and git commit the build ran on. */
  environment: Record<string, string>;
  date: string;
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** TRAINING.md of a record: command, hyperparameters, final metrics and the curve as a table. */
export function trainingMarkdown(r: TrainingRecord): string {
  const lines = [
    `# ${r.name}: how it was trained`,
    '',
    r.description,
    '',
    '## Command',
    '',
    '```sh',
    r.command,
    '```',
    '',
    `Trained with sparsekit's own autograd and training loop (\`src/zoo\`), ${r.steps} optimizer steps, ` +
      `${r.parameters.toLocaleString('en-US')} parameters, ${(r.seconds / 60).toFixed(1)} min wall time ` +
      `(${r.rate.toFixed(0)} ${r.itemName}/s), ${r.date.slice(0, 10)}.`,
    '',
    '## Hyperparameters',
    '',
    '| name | value |',
    '|---|---|',
    ...Object.entries(r.hyperparameters).map(([k, v]) => `| ${k} | \`${fmt(v)}\` |`),
    '',
    '## Final metrics',
    '',
    '| metric | value | meaning |',
    '|---|---|---|',
    ...Object.entries(r.metrics).map(([k, v]) => `| ${k} | ${fmt(v)} | ${r.metricNotes[k] ?? ''} |`),
    '',
    '## Training curve',
    '',
  ];
  const keys = [...new Set(r.curve.flatMap((p) => Object.keys(p.metrics)))];
  lines.push(`| step | ${r.itemName} seen | train loss | ${keys.join(' | ')} |`);
  lines.push(`|---|---|---|${keys.map(() => '---|').join('')}`);
  for (const p of r.curve) {
    lines.push(
      `| ${p.step} | ${p.seen} | ${p.trainLoss.toFixed(4)} | ${keys.map((k) => fmt(p.metrics[k] ?? Number.NaN)).join(' | ')} |`,
    );
  }
  lines.push('', '## Environment', '', ...Object.entries(r.environment).map(([k, v]) => `- ${k}: ${v}`), '');
  return lines.join('\n');
}

/** The files a record adds to a model folder. */
export function recordFiles(r: TrainingRecord): Record<string, string> {
  return { 'training.json': `${JSON.stringify(r, null, 2)}\n`, 'TRAINING.md': trainingMarkdown(r) };
}

/** Built models in the zoo: folder name and its training record (null if it has none). */
export function listZoo(
  root = zooDir(),
): Array<{ name: string; record: TrainingRecord | null; bytes: number }> {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => !n.startsWith('.') && existsSync(join(root, n, 'config.json')))
    .sort()
    .map((name) => {
      const dir = join(root, name);
      const file = join(dir, 'training.json');
      let record: TrainingRecord | null = null;
      try {
        if (existsSync(file)) record = JSON.parse(readFileSync(file, 'utf8')) as TrainingRecord;
      } catch {
        record = null;
      }
      const bytes = readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
      return { name, record, bytes };
    });
}

/** Every built zoo language model's folder (a built model with a tokenizer.json), sorted by name. */
export function zooLanguageModels(root = zooDir()): string[] {
  return listZoo(root)
    .map((m) => join(root, m.name))
    .filter((dir) => existsSync(join(dir, 'tokenizer.json')));
}

/** `zoo/SHA256SUMS` text (`sha256sum -c` format) over every file of every built model, sorted by path. */
export function zooChecksums(root = zooDir()): string {
  const lines: string[] = [];
  for (const { name } of listZoo(root)) {
    for (const f of readdirSync(join(root, name)).sort()) {
      const path = join(root, name, f);
      if (!statSync(path).isFile()) continue;
      const hex = createHash('sha256').update(readFileSync(path)).digest('hex');
      lines.push(`${hex}  ${name}/${f}`);
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Rewrite `zoo/SHA256SUMS` atomically from the folders present. */
export function writeZooChecksums(root = zooDir()): void {
  const text = zooChecksums(root);
  writeFileAtomic(join(root, 'SHA256SUMS'), (fd) => writeAll(fd, new TextEncoder().encode(text)));
}

/** Where the build ran (for training.json). */
export function buildEnvironment(threads: number): Record<string, string> {
  let commit = 'unknown';
  try {
    const root = dirname(zooDir());
    const head = readFileSync(join(root, '.git', 'HEAD'), 'utf8').trim();
    commit = head.startsWith('ref: ') ? readFileSync(join(root, '.git', head.slice(5)), 'utf8').trim() : head;
  } catch {
    // not a git checkout
  }
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    threads: String(threads),
    'git commit (at start)': commit.slice(0, 12),
  };
}
