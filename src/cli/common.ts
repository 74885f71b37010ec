/**
 * What the model-running subcommands (generate, eval, demo) share: flag parsers whose errors name the flag,
 * opening a model folder with errors that say what is missing and how to fix it, --threads, and Ctrl-C.
 */

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { runtime } from '../backend/wasm.js';
import { IoError } from '../io/errors.js';
import { type GenerationConfig, generationConfigFromModel } from '../io/generation.js';
import { openHfFolder } from '../io/hf.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { WEIGHT_STORAGES, type WeightStorage } from '../models/checkpoint.js';
import { loadCausalLM } from '../models/load.js';
import type { CausalLM } from '../models/types.js';
import { KV_DTYPES, type KVDType } from '../nn/kvcache.js';
import { isVisionFolder } from '../zoo/vision.js';
import { zooDir } from '../zoo/zoo.js';

/** A mistake in the command line the user can fix; printed without a stack, exit code 2. */
export class UsageError extends Error {}

/** A parser for a whole number ≥ min, for commander (`--max-new-tokens 64`). */
export function intFlag(flag: string, min: number, example: string): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v.trim()) || Number(v) < min)
      throw new InvalidArgumentError(`${flag} takes a whole number ≥ ${min}, like ${flag} ${example}`);
    return Number(v);
  };
}

/** A parser for a number in [lo, hi] (`--top-p 0.9`). */
export function numberFlag(flag: string, lo: number, hi: number, example: string): (v: string) => number {
  return (v) => {
    const x = Number(v);
    if (!v.trim() || !Number.isFinite(x) || x < lo || x > hi)
      throw new InvalidArgumentError(`${flag} takes a number in [${lo}, ${hi}], like ${flag} ${example}`);
    return x;
  };
}

/** A parser for a flag that takes one of `choices`: an error naming the flag and the choices otherwise. */
function oneOf<T extends string>(flag: string, choices: readonly T[], example?: string): (v: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v)) {
      const like = example ? `, like ${flag} ${example}` : '';
      throw new InvalidArgumentError(`${flag} takes one of ${choices.join(', ')}${like}`);
    }
    return v as T;
  };
}

/** `--weights`: in-memory storage of the linear layers. */
export const weightsFlag = oneOf<WeightStorage>('--weights', WEIGHT_STORAGES);

/** `--weights <storage>`, the option every model-running command takes. */
export function weightsOption(): Option {
  return new Option(
    '--weights <storage>',
    'in-memory weights: f32, bf16, f16, or stored (the checkpoint dtype) (default: f32; a compact sparse checkpoint: stored)',
  ).argParser(weightsFlag);
}

/** `--kv-dtype`: storage of the KV cache. */
export const kvDtypeFlag = oneOf<KVDType>('--kv-dtype', KV_DTYPES, 'f32');

/** `--kv-dtype <dtype>`, the option of the commands that run a causal LM over a KV cache. */
export function kvDtypeOption(): Option {
  return new Option(
    '--kv-dtype <dtype>',
    'KV cache storage: f32, bf16 or f16 (default: the dtype the weights are held in, e.g. bf16 with --weights bf16)',
  ).argParser(kvDtypeFlag);
}

/** `--threads <n>`, the option every kernel-running command takes. */
export function threadsOption(): Option {
  return new Option('--threads <n>', 'kernel threads (default: all cores)').argParser(
    intFlag('--threads', 1, '2'),
  );
}

/** The options of every command that runs a causal LM: --weights, --kv-dtype and --threads. */
export function addRunOptions(cmd: Command): Command {
  return cmd.addOption(weightsOption()).addOption(kvDtypeOption()).addOption(threadsOption());
}

/** A commander action for `<arg> [options]` that runs `run` and sets the process exit code to what it returns. */
export function exitCodeAction<O>(
  run: (arg: string, opts: O) => Promise<number>,
): (arg: string, opts: O) => Promise<void> {
  return async (arg, opts) => {
    process.exitCode = await run(arg, opts);
  };
}

/** Set the kernel thread count (--threads); no flag keeps the runtime's default (the machine's cores). */
export function useThreads(threads: number | undefined): void {
  if (threads !== undefined) runtime().setThreads(threads);
}

/** A loaded causal model with what the commands need from its folder. */
export interface OpenedModel {
  model: CausalLM;
  tokenizer: Tokenizer;
  generation: GenerationConfig;
  /** Ids that end generation: generation_config's eos ids, else config.json's, else the tokenizer's eos. */
  eosIds: number[];
}

/**
 * A `<model-dir>` argument as a folder path: a name without a slash that is not a folder here but is a
 * built zoo model (`fmnist-mlp`, `brown-llama`) resolves to zoo/<name>; anything else is returned as is.
 */
export function resolveModelDir(arg: string): string {
  if (/[\\/]/.test(arg) || existsSync(arg)) return arg;
  let root: string;
  try {
    root = zooDir();
  } catch {
    return arg;
  }
  const dir = join(root, arg);
  return existsSync(join(dir, 'config.json')) ? dir : arg;
}

/**
 * `<model-dir>` as the folder of a language model (see {@link resolveModelDir}): it exists, is a folder, has
 * config.json and is not an image classifier; else a UsageError saying what to give instead.
 */
export function languageModelDir(arg: string): string {
  const dir = resolveModelDir(arg);
  if (!existsSync(dir))
    throw new UsageError(
      `<model-dir> ${dir} does not exist; give a Hugging Face model folder (config.json, model.safetensors, tokenizer.json)`,
    );
  if (!statSync(dir).isDirectory())
    throw new UsageError(
      `<model-dir> ${dir} is a file; give the folder that holds config.json and tokenizer.json`,
    );
  if (!existsSync(join(dir, 'config.json'))) {
    const has = readdirSync(dir).slice(0, 8).join(', ') || 'nothing';
    throw new UsageError(
      `<model-dir> ${dir} has no config.json (it has: ${has}); give a Hugging Face model folder`,
    );
  }
  if (isVisionFolder(dir))
    throw new UsageError(
      `<model-dir> ${arg} is an image classifier, not a language model; score it with sparsekit eval acc ${arg}`,
    );
  return dir;
}

/**
 * Open `<model-dir>` for a command: a folder with config.json, safetensors weights and tokenizer.json, or
 * the name of a built zoo model (see {@link resolveModelDir}). `weights` and `kvDtype` as LoadOptions' (default:
 * the loader's).
 */
export function openCausalModel(arg: string, weights?: WeightStorage, kvDtype?: KVDType): OpenedModel {
  const dir = languageModelDir(arg);
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    throw new UsageError(
      `<model-dir> ${dir} has no tokenizer.json; copy the tokenizer.json of the model's hub repository into it ` +
        '(sparsekit reads the fast-tokenizer file only)',
    );
  }
  const folder = openHfFolder(dir);
  try {
    const model = loadCausalLM(folder, { ...(weights ? { weights } : {}), ...(kvDtype ? { kvDtype } : {}) });
    const tokenizer = folder.tokenizer!;
    const generation = folder.generationConfig ?? generationConfigFromModel(folder.config);
    const eosIds = [...(generation.eosTokenIds.length ? generation.eosTokenIds : folder.config.eosTokenIds)];
    if (!eosIds.length && tokenizer.eosId !== undefined) eosIds.push(tokenizer.eosId);
    return { model, tokenizer, generation, eosIds };
  } finally {
    folder.close();
  }
}

/** Ctrl-C while a command runs: the first press asks it to stop after the current step, a second exits now. */
export function interruptible(command: string): { stopRequested: () => boolean; dispose: () => void } {
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write(
      `\nsparsekit ${command}: stopping after the current step (Ctrl-C again to quit now)\n`,
    );
  };
  process.on('SIGINT', onSigint);
  return { stopRequested: () => stop, dispose: () => process.off('SIGINT', onSigint) };
}

/**
 * Run a command body: usage errors print `sparsekit <command>: message` and return 2; a file sparsekit
 * refuses to read (IoError, naming the file and field) prints the same way and returns 1.
 */
export async function reportErrors(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError || e instanceof IoError) {
      process.stderr.write(`sparsekit ${command}: ${e.message}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
    throw e;
  }
}

/** Seconds or milliseconds, for humans. */
export function formatSeconds(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`;
}
