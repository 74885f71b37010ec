/**
 * Tokenizers from a Hugging Face `tokenizer.json` (+ optional `tokenizer_config.json`), through
 * @huggingface/tokenizers (Hugging Face's pure-JavaScript port of the `tokenizers` pipeline: normalizer,
 * pre-tokenizer, BPE / WordPiece / Unigram model, post-processor, decoder).
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { IoError } from './errors.js';
import { isJsonObject, type JsonObject } from './fields.js';

/**
 * The part of @huggingface/tokenizers' Tokenizer this file uses. Its published .d.ts files import each
 * other without extensions, which NodeNext resolution cannot follow (the class would type as `any`), so
 * the surface is written out here and checked by the tests.
 */
interface HfTokenizerApi {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
  get_added_tokens_decoder(): Map<number, { special?: boolean }>;
}

/** Options for `encode`. */
export interface EncodeOptions {
  /** Add the special tokens the post-processor defines (e.g. Llama's `<s>`, BERT's `[CLS]`…`[SEP]`); default true. */
  addSpecialTokens?: boolean;
}

/** Options for `decode`. */
export interface DecodeOptions {
  /** Drop special tokens (bos, eos, pad…) from the text; default false. */
  skipSpecialTokens?: boolean;
}

/** Fallback special-token ids, used when tokenizer_config.json does not name them. */
export interface SpecialTokenIds {
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  padTokenId?: number | null;
}

/** Turns generated ids into text pieces as they arrive (never splits a UTF-8 character). */
export interface TextStream {
  /** Add one id; returns the new text it completes ('' while a character is still partial). */
  push(id: number): string;
  /** Whatever is still held back (an incomplete byte sequence decodes to U+FFFD here). */
  flush(): string;
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isJsonObject(v) && typeof v.content === 'string') return v.content; // AddedToken dict form
  return undefined;
}

function parseJsonText(text: string, file: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new IoError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (!isJsonObject(v)) throw new IoError(file, 'must be a JSON object');
  return v;
}

/**
 * A loaded tokenizer. Keeps the source texts (`json`, `configJson`) so a folder can be written back
 * byte for byte.
 *
 * @example
 * const tok = loadTokenizer('models/gpt2');
 * tok.encode('Hello world'); // [15496, 995]
 * tok.decode([15496, 995]); // 'Hello world'
 */
export class Tokenizer {
  /** The tokenizer.json text. */
  readonly json: string;
  /** The tokenizer_config.json text, if there was one. */
  readonly configJson: string | undefined;
  /** One more than the largest id the tokenizer can produce (model vocabulary + added tokens). */
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  /** Ids of all special added tokens (what `skipSpecialTokens` drops). */
  readonly specialIds: ReadonlySet<number>;
  private readonly impl: HfTokenizerApi;

  constructor(json: string, configJson?: string, fallback: SpecialTokenIds = {}, file = 'tokenizer.json') {
    const tokenizerJson = parseJsonText(json, file);
    if (!isJsonObject(tokenizerJson.model))
      throw new IoError(file, 'has no "model" object; not a tokenizer.json?');
    const config: Record<string, unknown> = configJson
      ? { ...parseJsonText(configJson, join(dirname(file), 'tokenizer_config.json')) }
      : {};
    // transformers ≥ 4.45 defaults clean_up_tokenization_spaces to false; the JS library defaults to true,
    // which would turn "a ." into "a." and break decode(encode(x)) === x.
    config.clean_up_tokenization_spaces ??= false;
    try {
      this.impl = new HfTokenizer(tokenizerJson, config) as HfTokenizerApi;
    } catch (e) {
      throw new IoError(file, `cannot be loaded: ${(e as Error).message}`);
    }
    this.json = json;
    this.configJson = configJson;
    const vocab = this.impl.get_vocab(true);
    let max = -1;
    for (const id of vocab.values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    const special = new Set<number>();
    for (const [id, t] of this.impl.get_added_tokens_decoder()) if (t.special) special.add(id);
    this.specialIds = special;
    const idOf = (key: string, fb: number | null | undefined): number | undefined => {
      const content = tokenContent(config[key]);
      const id = content === undefined ? undefined : this.impl.token_to_id(content);
      return id ?? fb ?? undefined;
    };
    this.bosId = idOf('bos_token', fallback.bosTokenId);
    this.eosId = idOf('eos_token', fallback.eosTokenId);
    this.padId = idOf('pad_token', fallback.padTokenId);
  }

  /** Token ids of `text` (with the post-processor's special tokens unless `addSpecialTokens: false`). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.impl.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** Text of `ids`. Throws RangeError for an id outside [0, vocabSize). */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`Tokenizer.decode: id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    if (ids.length === 0) return '';
    return this.impl.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The id of a token string (as it appears in the vocabulary, e.g. 'Ġworld' or '▁world'). */
  tokenToId(token: string): number | undefined {
    return this.impl.token_to_id(token);
  }

  /** The vocabulary string of an id. */
  idToToken(id: number): string | undefined {
    return this.impl.id_to_token(id);
  }

  /**
   * A streaming decoder for generation: `push` returns each new piece of text as soon as it is complete.
   * It decodes a small window of recent ids twice (with and without the newest) and returns the
   * difference, so decoders that depend on context (SentencePiece's leading-space strip, byte fallback,
   * byte-level BPE) give the same text as decoding everything at once.
   */
  stream(options: DecodeOptions = {}): TextStream {
    const ids: number[] = [];
    let prefix = 0; // start of the context window
    let read = 0; // ids[prefix, read) are already emitted
    const piece = (from: number, to: number) => this.decode(ids.slice(from, to), options);
    const emit = (final: boolean): string => {
      const before = piece(prefix, read);
      const after = piece(prefix, ids.length);
      if (after.length <= before.length || (!final && after.endsWith('\uFFFD'))) return '';
      prefix = read;
      read = ids.length;
      return after.slice(before.length);
    };
    return {
      push: (id: number) => {
        ids.push(id);
        return emit(false);
      },
      flush: () => (read < ids.length ? emit(true) : ''),
    };
  }
}

/** A tokenizer from tokenizer.json text or object (and optionally tokenizer_config.json text or object). */
export function tokenizerFromJson(
  json: string | object,
  config?: string | object,
  fallback?: SpecialTokenIds,
): Tokenizer {
  const text = (v: string | object) => (typeof v === 'string' ? v : JSON.stringify(v));
  return new Tokenizer(text(json), config === undefined ? undefined : text(config), fallback);
}

/**
 * Load a tokenizer from a model folder (its tokenizer.json and, if present, tokenizer_config.json) or
 * from the path of a tokenizer.json (tokenizer_config.json beside it is read too).
 */
export function loadTokenizer(pathOrDir: string, fallback?: SpecialTokenIds): Tokenizer {
  const isDir = existsSync(pathOrDir) && statSync(pathOrDir).isDirectory();
  const file = isDir ? join(pathOrDir, 'tokenizer.json') : pathOrDir;
  if (!existsSync(file)) {
    const hint =
      isDir && ['vocab.json', 'tokenizer.model', 'vocab.txt'].some((f) => existsSync(join(pathOrDir, f)))
        ? ' (the folder has a slow-tokenizer vocabulary; sparsekit reads tokenizer.json only)'
        : '';
    throw new IoError(file, `does not exist${hint}`);
  }
  const configPath = join(dirname(file), 'tokenizer_config.json');
  const configJson = existsSync(configPath) ? readFileSync(configPath, 'utf8') : undefined;
  return new Tokenizer(readFileSync(file, 'utf8'), configJson, fallback, file);
}
