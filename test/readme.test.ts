/**
 * The README's code blocks run as written: each ```ts block is executed against the built package (its
 * `from 'sparsekit'` import pointed at dist/src/index.js), so the tour cannot drift from the API.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = pathToFileURL(join(root, 'dist/src/index.js')).href;

/** The ```ts blocks of a markdown text. */
export function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

test('README: every TypeScript block runs against the built package', () => {
  const blocks = tsBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 1, 'README has a ```ts tour');
  const dir = mkdtempSync(join(tmpdir(), 'sparsekit-readme-'));
  try {
    blocks.forEach((code, i) => {
      assert.match(code, /from 'sparsekit'/, `block ${i + 1} imports from 'sparsekit'`);
      const file = join(dir, `block${i + 1}.mjs`);
      writeFileSync(file, code.replaceAll(`from 'sparsekit'`, `from '${entry}'`));
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', cwd: root, timeout: 120_000 });
      assert.equal(r.status, 0, `README block ${i + 1} failed:\n${r.stderr}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
