import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeRandomLlama } from '../src/cli/demo-model.js';
import { QUALITY_METHODS, type QualitySuiteOptions, runQualitySuite } from './quality.js';
import { benchmarksMarkdown, qualityClaims } from './report.js';

const root = mkdtempSync(join(tmpdir(), 'sparsekit-bench-quality-'));
after(() => rmSync(root, { recursive: true, force: true }));

const model = join(root, 'tiny-llama');
writeRandomLlama(model, {
  hiddenSize: 32,
  intermediateSize: 64,
  layers: 2,
  heads: 2,
  kvHeads: 1,
  maxPositions: 64,
});
const grid = { settings: ['0.5', '2:4'], calibCount: 2, calibLength: 32, maxTokens: 192 };
const methods = QUALITY_METHODS.filter((m) => ['magnitude', 'wanda', 'wanda + OWL'].includes(m.label));
/** The suite on the tiny model with the tiny grid; `over` sets methods and cache. */
const suite = (over: Partial<QualitySuiteOptions>) =>
  runQualitySuite({ quick: true, command: 'test', quiet: true, models: [model], grid, methods, ...over });

test('quality suite: every method × setting row, exact counted sparsity, a cache that makes a rerun identical', async () => {
  const cache = join(root, 'rows.jsonl');
  const r = await suite({ cache });
  const run = r.quality!;
  assert.equal(r.suite, 'quality');
  assert.deepEqual(
    run.rows.map((x) => `${x.method} ${x.setting}`),
    ['dense 0', 'magnitude 0.5', 'magnitude 2:4', 'wanda 0.5', 'wanda 2:4', 'wanda + OWL 0.5'],
    'OWL has no N:M row',
  );
  assert.equal(run.models[0]!.calibLength, 32);
  assert.equal(run.models[0]!.testTokens, 192);
  for (const row of run.rows) {
    assert.ok(Number.isFinite(row.ppl) && row.ppl > 1, JSON.stringify(row));
    assert.equal(row.tokens, 3 * 63, 'three disjoint windows of 64 tokens, each scoring all but its first');
    assert.equal(row.cached, undefined);
  }
  for (const row of run.rows.filter((x) => x.method !== 'dense')) {
    // OWL's per-block budgets average 50%; magnitude's threshold also prunes weights tied with it (as the reference).
    if (row.method.includes('OWL') || (row.method === 'magnitude' && row.setting === '0.5'))
      assert.ok(row.sparsity >= 0.5 - 0.02 && row.sparsity < 0.52, `${row.method}: ${row.sparsity}`);
    else assert.equal(row.sparsity, 0.5, `${row.method} ${row.setting}`);
  }
  const dense = run.rows[0]!.ppl;
  assert.ok(
    run.rows.some((x) => x.ppl !== dense),
    'pruning changes the perplexity',
  );
  assert.equal(readFileSync(cache, 'utf8').trim().split('\n').length, 6);

  const again = await suite({ cache });
  assert.deepEqual(
    again.quality!.rows.map((x) => [x.ppl, x.cached]),
    run.rows.map((x) => [x.ppl, true]),
  );
  // A method whose code changed (a higher revision) runs again; the others still come from the cache.
  const revised = methods.map((m) => (m.label === 'wanda' ? { ...m, revision: 2 } : m));
  const rerun = await suite({ methods: revised, cache });
  assert.deepEqual(
    rerun.quality!.rows.map((x) => `${x.method} ${x.setting} ${x.cached ? 'cached' : 'run'}`),
    [
      'dense 0 cached',
      'magnitude 0.5 cached',
      'magnitude 2:4 cached',
      'wanda 0.5 run',
      'wanda 2:4 run',
      'wanda + OWL 0.5 cached',
    ],
  );
  // Without the cache the rows are computed again, and pruning is deterministic.
  const fresh = await suite({ methods: methods.slice(1, 2), cache: null });
  assert.deepEqual(
    fresh.quality!.rows.map((x) => x.ppl),
    run.rows.filter((x) => x.method === 'dense' || x.method === 'wanda').map((x) => x.ppl),
  );

  const md = benchmarksMarkdown([r]);
  assert.match(md, /## quality: quick run/);
  assert.match(md, /### tiny-llama/);
  assert.match(md, /\| method +\| +50% \| +2:4 \|/);
  assert.match(md, /\| wanda \+ OWL +\| +[\d.]+ \| +— \|/);
  assert.match(md, /Wanda beats magnitude from 50% on +\| (holds|\*\*does not hold\*\*)/);
});

test('quality claims compare the named rows setting by setting', () => {
  const row = (method: string, setting: string, ppl: number) => ({
    model: 'm',
    method,
    setting,
    ppl,
    nllSum: 0,
    tokens: 1,
    sparsity: 0,
    pruneSeconds: 0,
    evalSeconds: 0,
  });
  const claims = qualityClaims([
    row('magnitude', '0.5', 40),
    row('magnitude', '0.7', 90),
    row('wanda', '0.5', 30),
    row('wanda', '0.7', 95),
    row('wanda + OWL', '0.7', 70),
  ]);
  assert.deepEqual(
    claims.map((c) => [c.claim, c.holds]),
    [
      ['Wanda beats magnitude from 50% on', false],
      ['OWL improves uniform Wanda at ≥ 70%', true],
    ],
  );
  assert.equal(claims[0]!.detail, '50%: 30.0 vs 40.0; 70%: 95.0 vs 90.0');
});
