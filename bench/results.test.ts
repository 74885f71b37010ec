import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readResults, resultFile, writeAtomic } from './results.js';

test('full, quick and partial runs write different files', () => {
  assert.equal(resultFile('r', 'kernels', 'full'), join('r', 'kernels.json'));
  assert.equal(resultFile('r', 'kernels', 'quick'), join('r', 'kernels-quick.json'));
  assert.equal(resultFile('r', 'kernels', 'partial'), join('r', 'kernels-partial.json'));
});

test('writeAtomic replaces a file whole and leaves no temp file; readResults reports bad JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsekit-results-'));
  try {
    const file = join(dir, 'kernels.json');
    writeFileSync(file, 'old');
    writeAtomic(file, JSON.stringify({ suite: 'kernels', cases: [] }));
    assert.deepEqual(readdirSync(dir), ['kernels.json']);
    assert.match(readFileSync(file, 'utf8'), /"suite":"kernels"/);
    writeFileSync(join(dir, 'broken.json'), '{"suite": "kern');
    const { results, problems } = readResults(dir);
    assert.equal(results.length, 1);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^broken.json: /);
    assert.throws(() => writeAtomic(join(dir, 'missing', 'x.json'), 'x'), /ENOENT/);
    assert.deepEqual(readdirSync(dir).sort(), ['broken.json', 'kernels.json']);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
