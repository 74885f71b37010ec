/**
 * generation_config.json → GenerationConfig, with the defaults of transformers' GenerationConfig
 * (generation/configuration_utils.py: max_length=20, max_new_tokens=None, do_sample=False,
 * temperature=1.0, top_k=50, top_p=1.0, repetition_penalty=1.0, bos/eos/pad None).
 */

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type ModelConfig, readJsonFile } from './config.js';
import { IoError } from './errors.js';
import { Fields, isJsonObject, type JsonObject } from './fields.js';

/** Decoding defaults a checkpoint ships. */
export interface GenerationConfig {
  readonly bosTokenId: number | null;
  /** `eos_token_id` as a list: generation stops at any of them. */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
  /** `max_new_tokens`, or null (then `maxLength` bounds prompt + output). */
  readonly maxNewTokens: number | null;
  readonly maxLength: number;
  /** Sample (true) or greedy (false). */
  readonly doSample: boolean;
  readonly temperature: number;
  /** Keep the k most likely tokens; 0 disables. */
  readonly topK: number;
  /** Keep the smallest set whose probability reaches p; 1 disables. */
  readonly topP: number;
  readonly repetitionPenalty: number;
  /** The parsed file exactly as read ({} when derived from config.json). */
  readonly raw: JsonObject;
}

/** Parse a generation_config.json object; `file` names it in errors. */
export function parseGenerationConfig(raw: unknown, file = 'generation_config.json'): GenerationConfig {
  if (!isJsonObject(raw)) throw new IoError(file, 'must be a JSON object');
  const f = new Fields(file, raw);
  const temperature = f.range('temperature', 1, 0, Number.MAX_VALUE);
  const doSample = f.bool('do_sample', false);
  if (doSample && temperature === 0) f.fail('temperature', 'a number > 0 when "do_sample" is true');
  return {
    bosTokenId: f.tokenId('bos_token_id', null),
    eosTokenIds: f.tokenIds('eos_token_id', []),
    padTokenId: f.tokenId('pad_token_id', null),
    maxNewTokens: f.optInt('max_new_tokens', 0),
    maxLength: f.int('max_length', 20, 0),
    doSample,
    temperature,
    topK: f.int('top_k', 50, 0),
    topP: f.range('top_p', 1, Number.MIN_VALUE, 1),
    repetitionPenalty: f.positive('repetition_penalty', 1),
    raw,
  };
}

/**
 * The generation config transformers derives when a folder has no generation_config.json
 * (`GenerationConfig.from_model_config`): defaults plus the model config's bos/eos/pad ids.
 */
export function generationConfigFromModel(config: ModelConfig): GenerationConfig {
  return {
    ...parseGenerationConfig({}),
    bosTokenId: config.bosTokenId,
    eosTokenIds: config.eosTokenIds,
    padTokenId: config.padTokenId,
  };
}

/** Load generation_config.json from a model folder (or a file path). */
export function loadGenerationConfig(pathOrDir: string): GenerationConfig {
  const path = statSync(pathOrDir).isDirectory() ? join(pathOrDir, 'generation_config.json') : pathOrDir;
  return parseGenerationConfig(readJsonFile(path), path);
}
