/**
 * Training a byte-level BPE tokenizer (GPT-2's scheme: Radford et al. 2019, as Hugging Face `tokenizers`
 * trains it) and writing it as a standard `tokenizer.json` that any tokenizers library loads.
 *
 * Text is split by GPT-2's pre-tokenization pattern, each piece's UTF-8 bytes are mapped to printable
 * characters (GPT-2's bytes_to_unicode table, so "Ġ" is a space), and merges are learned greedily: the most
 * frequent adjacent pair of symbols, summed over distinct pieces weighted by their counts, becomes a new
 * symbol, until the vocabulary holds `vocabSize` entries. Ties go to the pair whose merged string sorts
 * first, so training is deterministic. Special tokens take the first ids, then the 256 byte symbols.
 *
 * Written by hand because the JavaScript tokenizers library reads tokenizer.json but cannot train one.
 */

import type { JsonObject } from '../io/fields.js';

/** GPT-2's pre-tokenization pattern (contractions, letters, numbers, other runs, whitespace). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's bytes_to_unicode: byte → a printable character (printable Latin-1 bytes map to themselves). */
export function byteToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const table = new Array<string>(256);
  const kept = new Set(keep);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(kept.has(b) ? b : 256 + extra++);
  return table;
}

/** Options of {@link trainBpe}. */
export interface BpeTrainOptions {
  /** Vocabulary size including the special tokens and the 256 byte symbols. */
  vocabSize: number;
  /** A pair must occur at least this often to be merged (default 2). */
  minFrequency?: number;
  /** Special tokens, given the first ids in this order (default ['<|endoftext|>']). */
  specialTokens?: readonly string[];
  /** Called after every 100 merges with (merges done, merges wanted). */
  onProgress?: (done: number, total: number) => void;
}

/** A trained tokenizer: its vocabulary, merges in rank order and the tokenizer.json object. */
export interface TrainedBpe {
  readonly vocab: ReadonlyMap<string, number>;
  readonly merges: readonly [string, string][];
  readonly json: JsonObject;
}

/** Binary max-heap of pair candidates ordered by count, then by merged string (smaller first). */
class PairHeap {
  private readonly items: { count: number; key: string; a: number; b: number }[] = [];
  constructor(private readonly text: (a: number, b: number) => string) {}
  get size(): number {
    return this.items.length;
  }
  private before(i: number, j: number): boolean {
    const x = this.items[i]!;
    const y = this.items[j]!;
    if (x.count !== y.count) return x.count > y.count;
    const sx = this.text(x.a, x.b);
    const sy = this.text(y.a, y.b);
    return sx < sy || (sx === sy && x.key < y.key);
  }
  private swap(i: number, j: number): void {
    const t = this.items[i]!;
    this.items[i] = this.items[j]!;
    this.items[j] = t;
  }
  push(count: number, key: string, a: number, b: number): void {
    this.items.push({ count, key, a, b });
    let i = this.items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): { count: number; key: string; a: number; b: number } | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length && last) {
      this.items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.items.length && this.before(l, m)) m = l;
        if (r < this.items.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Count the pre-tokenized, byte-mapped pieces of `texts`. */
export function countPieces(texts: Iterable<string>): Map<string, number> {
  const bytesToChars = byteToUnicode();
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_SPLIT)) {
      let piece = '';
      for (const b of encoder.encode(m[0])) piece += bytesToChars[b]!;
      counts.set(piece, (counts.get(piece) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * Learn a byte-level BPE vocabulary from `texts`.
 * @example const tok = trainBpe(brownTrainDocs, { vocabSize: 8192 }); writeFileSync('tokenizer.json', JSON.stringify(tok.json));
 */
export function trainBpe(texts: Iterable<string>, opts: BpeTrainOptions): TrainedBpe {
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  const minFrequency = opts.minFrequency ?? 2;
  const base = specials.length + 256;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < base) {
    throw new RangeError(
      `trainBpe: vocabSize must be an integer ≥ ${base} (${specials.length} special tokens + 256 bytes), got ${opts.vocabSize}`,
    );
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new RangeError(`trainBpe: minFrequency must be an integer ≥ 1, got ${minFrequency}`);
  }
  if (new Set(specials).size !== specials.length)
    throw new RangeError('trainBpe: specialTokens has duplicates');

  const symbols: string[] = [...specials, ...byteToUnicode()];
  const idOf = new Map<string, number>();
  symbols.forEach((s, i) => {
    if (!idOf.has(s)) idOf.set(s, i);
  });
  const counts = countPieces(texts);
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [piece, n] of counts) {
    words.push([...piece].map((ch) => idOf.get(ch)!));
    freq.push(n);
  }

  // Pair statistics: count and the words that contain the pair.
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const key = (a: number, b: number) => `${a},${b}`;
  const addPairs = (w: number, sign: number) => {
    const s = words[w]!;
    for (let i = 0; i + 1 < s.length; i++) {
      const k = key(s[i]!, s[i + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freq[w]!);
      if (sign > 0) {
        const set = pairWords.get(k);
        if (set) set.add(w);
        else pairWords.set(k, new Set([w]));
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);

  const heap = new PairHeap((a, b) => symbols[a]! + symbols[b]!);
  for (const [k, c] of pairCount) {
    const [a, b] = k.split(',').map(Number) as [number, number];
    heap.push(c, k, a, b);
  }

  const merges: [string, string][] = [];
  const wanted = opts.vocabSize - base;
  while (symbols.length < opts.vocabSize && heap.size) {
    const top = heap.pop()!;
    const current = pairCount.get(top.key) ?? 0;
    if (current !== top.count) {
      if (current > 0) heap.push(current, top.key, top.a, top.b); // stale entry: requeue at its true count
      continue;
    }
    if (current < minFrequency) break;
    const merged = symbols[top.a]! + symbols[top.b]!;
    let id = idOf.get(merged);
    if (id === undefined || id < specials.length) {
      id = symbols.length;
      symbols.push(merged);
      idOf.set(merged, id);
    }
    merges.push([symbols[top.a]!, symbols[top.b]!]);
    const touched = new Set<string>();
    for (const w of pairWords.get(top.key) ?? []) {
      const s = words[w]!;
      let has = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === top.a && s[i + 1] === top.b) has = true;
      if (!has) continue;
      addPairs(w, -1);
      const next: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === top.a && s[i + 1] === top.b) {
          next.push(id);
          i++;
        } else next.push(s[i]!);
      }
      words[w] = next;
      addPairs(w, 1);
      for (let i = 0; i + 1 < next.length; i++) touched.add(key(next[i]!, next[i + 1]!));
    }
    pairCount.delete(top.key);
    for (const k of touched) {
      const c = pairCount.get(k) ?? 0;
      if (c > 0) {
        const [a, b] = k.split(',').map(Number) as [number, number];
        heap.push(c, k, a, b);
      }
    }
    if (merges.length % 100 === 0) opts.onProgress?.(merges.length, wanted);
  }
  opts.onProgress?.(merges.length, wanted);

  const vocab = new Map<string, number>();
  for (let i = 0; i < symbols.length; i++) vocab.set(symbols[i]!, i);
  return {
    vocab,
    merges,
    json: byteLevelBpeJson(
      vocab,
      merges,
      specials.map((content, id) => ({ id, content })),
    ),
  };
}

/** A special token of a byte-level BPE tokenizer.json. */
export interface AddedToken {
  id: number;
  content: string;
  /** Whether the normalizer sees it (GPT-2's hub file says true; tokenizers' trainer writes false). */
  normalized?: boolean;
}

/**
 * A GPT-2-style byte-level BPE tokenizer.json (ByteLevel pre-tokenizer, post-processor and decoder, no
 * normalizer) for a vocabulary, a merge list in rank order ("a b" strings or pairs) and special tokens.
 */
export function byteLevelBpeJson(
  vocab: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
  merges: readonly (string | readonly [string, string])[],
  added: readonly AddedToken[],
): JsonObject {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map(({ id, content, normalized = false }) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocab instanceof Map ? Object.fromEntries(vocab) : { ...vocab },
      merges: merges.map((m) => (typeof m === 'string' ? m : `${m[0]} ${m[1]}`)),
    },
  };
}
