#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's own test runner.
// Usage: node scripts/run-tests.mjs [substring filter …]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

let files;
try {
  files = walk(dist, []).sort();
} catch {
  console.error('run-tests: dist/ is missing; run `npm run build` first (npm test does it for you)');
  process.exit(2);
}
const filters = process.argv.slice(2);
if (filters.length) files = files.filter((f) => filters.some((s) => relative(root, f).includes(s)));
if (!files.length) {
  console.error(`run-tests: no test files match ${filters.join(' ') || 'dist/**/*.test.js'}`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
