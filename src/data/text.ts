/** Text sources for evaluation: a UTF-8 text file, or a named corpus (`brown`, `brown:train`, …). */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { BROWN_SPLITS, type BrownSplit, brownText } from './brown.js';

/**
 * Read a UTF-8 text file. Throws, naming the path, when it is missing, a folder, empty, or not text
 * (a NUL byte or bytes that are not valid UTF-8). A leading byte-order mark is dropped.
 */
export function readTextFile(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} does not exist; give the path of a UTF-8 text file`);
  if (statSync(path).isDirectory())
    throw new Error(`${path} is a folder; give the path of a UTF-8 text file`);
  const bytes = readFileSync(path);
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new Error(`${path} is not a text file (byte ${nul} is NUL); give a UTF-8 text file`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${path} is not valid UTF-8; convert it first (e.g. iconv -t UTF-8)`);
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  if (!text.trim()) throw new Error(`${path} is empty; give a file with some text`);
  return text;
}

/** What a data spec names: a Brown split or a file. */
export type TextSource = { kind: 'brown'; split: BrownSplit } | { kind: 'file'; path: string };

/** Parse a data spec: `brown` (= `brown:test`, the held-out split), `brown:<split>`, or a file path. */
export function parseTextSource(spec: string): TextSource {
  const m = /^brown(?::(.*))?$/.exec(spec);
  if (!m) return { kind: 'file', path: spec };
  const split = (m[1] ?? 'test') as BrownSplit;
  if (!BROWN_SPLITS.includes(split))
    throw new RangeError(
      `data: "${spec}" names no Brown split; use brown, ${BROWN_SPLITS.map((s) => `brown:${s}`).join(', ')}`,
    );
  return { kind: 'brown', split };
}

/** The text a data spec names, with a short description for reports (e.g. 'Brown corpus, test split'). */
export function loadText(spec: string): { text: string; name: string } {
  const src = parseTextSource(spec);
  if (src.kind === 'file') return { text: readTextFile(src.path), name: src.path };
  return { text: brownText(src.split), name: `Brown corpus, ${src.split} split` };
}
