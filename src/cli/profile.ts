/**
 * `sparsekit profile <model-dir>`: where a causal LM's decode steps and prefill spend their time, kernel by kernel
 * (src/models/profile.ts), beside the memory roofline a bandwidth probe gives on this machine: how far a decode
 * step is from reading its weights at the probe's rate, and which part of the step makes up the difference.
 */

import { type Command, InvalidArgumentError } from 'commander';
import { BandwidthProber, dramProbeBytes } from '../backend/ops/probe.js';
import { runtime } from '../backend/wasm.js';
import type { WeightStorage } from '../models/checkpoint.js';
import { loadModel } from '../models/load.js';
import {
  type PhaseProfile,
  profileDecode,
  profilePrefill,
  STEP_PARTS,
  type StepPart,
} from '../models/profile.js';
import type { KVDType } from '../nn/kvcache.js';
import {
  addRunOptions,
  exitCodeAction,
  intFlag,
  languageModelDir,
  reportErrors,
  UsageError,
  useThreads,
} from './common.js';

/** Parsed options of `sparsekit profile`. */
export interface ProfileCliOptions {
  /** Decode contexts (cache lengths the profiled steps end at). */
  context: number[];
  /** Prompt tokens of the profiled prefill; 0 skips it. */
  prefill: number;
  steps: number;
  /** Measure read bandwidth for the roofline (--no-probe: false). */
  probe: boolean;
  json: boolean;
  weights?: WeightStorage;
  kvDtype?: KVDType;
  threads?: number;
}

/** `--context 128,2048` → [128, 2048]. */
export function parseContexts(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (!parts.length || parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1))
    throw new InvalidArgumentError(
      '--context takes positive token counts separated by commas, like --context 128,2048',
    );
  return parts.map(Number);
}

/** Add `profile` to the program. */
export function addProfileCommand(
  program: Command,
  run: (dir: string, opts: ProfileCliOptions) => Promise<number>,
): Command {
  return addRunOptions(
    program
      .command('profile')
      .description(
        'time a causal LM kernel by kernel: decode steps and a prefill, beside the memory roofline',
      )
      .argument(
        '<model-dir>',
        'Hugging Face model folder (config.json and safetensors weights) or a zoo model name',
      )
      .option(
        '--context <n,…>',
        'decode contexts to profile (cache length at the last step)',
        parseContexts,
        [128],
      )
      .option(
        '--prefill <tokens>',
        'prompt tokens of the profiled prefill (0: none)',
        intFlag('--prefill', 0, '512'),
        128,
      )
      .option(
        '--steps <n>',
        'plain and profiled steps each (decode; prefill runs 2 of each)',
        intFlag('--steps', 1, '8'),
        8,
      )
      .option('--no-probe', 'skip the read-bandwidth probe (and the roofline columns)')
      .option('--json', 'print the profile as JSON'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  sparsekit profile brown-llama\n  sparsekit profile models/SmolLM-135M --weights bf16 --context 128,2048 --threads 1\n',
    )
    .action(exitCodeAction(run));
}

/** Run `sparsekit profile`; returns the exit code (0 done, 2 usage error). */
export function runProfile(dir: string, opts: ProfileCliOptions): Promise<number> {
  return reportErrors('profile', async () => {
    useThreads(opts.threads);
    const path = languageModelDir(dir);
    const model = loadModel(path, {
      ...(opts.weights ? { weights: opts.weights } : {}),
      ...(opts.kvDtype ? { kvDtype: opts.kvDtype } : {}),
    });
    if (model.kind !== 'causal')
      throw new UsageError(
        `<model-dir> ${path} holds a ${model.config.modelType} model (a masked LM); profile times causal LMs (GPT-2, Llama, Qwen2, Mistral)`,
      );
    const minContext = 2 * opts.steps + 3;
    for (const c of opts.context) {
      if (c < minContext || c > model.maxPositions)
        throw new UsageError(
          `--context ${c} is out of range: with --steps ${opts.steps} it must be in [${minContext}, ${model.maxPositions}] (the model's positions)`,
        );
    }
    if (opts.prefill > model.maxPositions)
      throw new UsageError(
        `--prefill ${opts.prefill} exceeds the model's ${model.maxPositions} positions; use fewer tokens`,
      );
    const rt = runtime();
    const say = (line: string) => {
      if (!opts.json) process.stderr.write(`${line}\n`);
    };
    let readBytesPerSecond: number | undefined;
    if (opts.probe) {
      const bytes = dramProbeBytes();
      say(`probing read bandwidth (${(bytes / 2 ** 20).toFixed(0)} MiB, ${rt.threads} thread(s))…`);
      const prober = new BandwidthProber(bytes);
      try {
        readBytesPerSecond = prober.measure().bytesPerSecond;
      } finally {
        prober.free();
      }
    }
    const phases: PhaseProfile[] = [];
    for (const c of opts.context) {
      say(
        `decode at context ${c}: filling the cache, then ${opts.steps} plain and ${opts.steps} profiled steps…`,
      );
      phases.push(profileDecode(model, c, { steps: opts.steps }));
      if (!opts.json) process.stdout.write(`${formatPhase(phases.at(-1)!, readBytesPerSecond)}\n`);
    }
    if (opts.prefill > 0) {
      say(`prefill of ${opts.prefill} tokens: 2 plain and 2 profiled…`);
      phases.push(profilePrefill(model, opts.prefill));
      if (!opts.json) process.stdout.write(`${formatPhase(phases.at(-1)!, readBytesPerSecond)}\n`);
    }
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ model: path, threads: rt.threads, variant: rt.variant, readBytesPerSecond, phases })}\n`,
      );
    }
    return 0;
  });
}

const PART_LABEL: Record<StepPart, string> = {
  matmul: 'matmul',
  attention: 'attention',
  'norm+activation': 'norm + activation',
  other: 'other kernels',
  host: 'host (JavaScript)',
};

function ms(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(0)}%`;
}

function table(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) =>
    `  ${r.map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ')}`.trimEnd(),
  );
}

/**
 * A phase as text: the step time, the roofline when a bandwidth is given (decode), the split by part and the
 * kernels. Shares are of the profiled step.
 */
export function formatPhase(p: PhaseProfile, readBytesPerSecond?: number): string {
  const lines: string[] = [];
  const unit = p.phase === 'decode' ? 'step' : 'prefill';
  const perSecond = p.phase === 'decode' ? 1000 / p.stepMs : (1000 * p.tokens) / p.stepMs;
  const head =
    p.phase === 'decode'
      ? `decode at context ${p.tokens}, ${p.threads} thread(s): ${ms(p.stepMs)} ms/step (${perSecond.toFixed(1)} tokens/s)`
      : `prefill of ${p.tokens} tokens, ${p.threads} thread(s): ${ms(p.stepMs)} ms (${perSecond.toFixed(1)} tokens/s)`;
  lines.push(head);
  const mib = (b: number) =>
    b < 2 ** 20 ? `${(b / 2 ** 10).toFixed(1)} KiB` : `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (p.phase === 'decode') {
    lines.push(`  reads ${mib(p.weightBytes)} of weights and ${mib(p.kvBytes)} of keys and values per step`);
    if (readBytesPerSecond) {
      const roof = (1000 * p.weightBytes) / readBytesPerSecond;
      const roofKv = (1000 * (p.weightBytes + p.kvBytes)) / readBytesPerSecond;
      lines.push(
        `  roofline at ${(readBytesPerSecond / 1e9).toFixed(1)} GB/s (probe): weights ${ms(roof)} ms → ${pct(roof / p.stepMs)} of it; ` +
          `weights + KV ${ms(roofKv)} ms → ${pct(roofKv / p.stepMs)}`,
      );
    }
  }
  const rows = [['part', `ms/${unit}`, 'share', '']];
  for (const part of STEP_PARTS) {
    const t = p.parts[part];
    if (t === 0 && part === 'other') continue;
    let note = '';
    if (part === 'matmul' && p.phase === 'decode' && t > 0) {
      const rate = p.weightBytes / (t * 1e6);
      note = `weights read at ${rate.toFixed(1)} GB/s`;
      if (readBytesPerSecond) note += ` (${pct((rate * 1e9) / readBytesPerSecond)} of the probe)`;
    }
    if (part === 'attention' && p.phase === 'decode' && t > 0 && p.kvBytes > 0)
      note = `keys and values read at ${(p.kvBytes / (t * 1e6)).toFixed(1)} GB/s`;
    rows.push([PART_LABEL[part], ms(t), pct(t / p.profiledMs), note]);
  }
  lines.push(...table(rows, [false, true, true, false]));
  if (p.layers.length) {
    const lrows = [
      ['layer', `calls/${unit}`, `ms/${unit}`, 'share', 'weights', p.phase === 'decode' ? 'read at' : ''],
    ];
    for (const l of p.layers) {
      const rate =
        p.phase === 'decode' && l.msPerStep > 0
          ? `${(l.weightBytes / (l.msPerStep * 1e6)).toFixed(1)} GB/s`
          : '';
      lrows.push([
        l.layer,
        `${+l.callsPerStep.toFixed(1)}`,
        ms(l.msPerStep),
        pct(l.msPerStep / p.profiledMs),
        mib(l.weightBytes),
        rate,
      ]);
    }
    lines.push(...table(lrows, [false, true, true, true, true, true]));
  }
  const krows = [['kernel', `calls/${unit}`, `ms/${unit}`, 'share']];
  for (const k of p.kernels) {
    if (k.msPerStep < 0.0005 * p.profiledMs) continue; // under 0.05%: helpers such as *_scratch_bytes
    krows.push([k.kernel, `${+k.callsPerStep.toFixed(1)}`, ms(k.msPerStep), pct(k.msPerStep / p.profiledMs)]);
  }
  lines.push(...table(krows, [false, true, true, true]));
  return lines.join('\n');
}
