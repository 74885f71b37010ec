import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FORMAT_RULE } from '../src/formats/choose.js';
import { attachRatios, breakEven } from './analysis.js';
import type { SuiteResult } from './results.js';

const file = new URL('../../bench/results/kernels.json', import.meta.url);

test('FORMAT_RULE is the break-even table of bench/results/kernels.json (batch 1, worst row)', {
  skip: !existsSync(file),
}, () => {
  const r = JSON.parse(readFileSync(file, 'utf8')) as SuiteResult;
  const rows = breakEven(attachRatios(r.cases.map((c) => ({ ...c })))).filter((x) => x.N === 1);
  assert.ok(rows.length > 0, 'the full run has batch-1 rows');
  const worst = (format: string) =>
    Math.max(...rows.map((x) => x.cells[format]?.vsDense ?? Number.POSITIVE_INFINITY));
  assert.equal(worst('csr'), FORMAT_RULE.csrMinSparsity, 'csr vs dense');
  assert.equal(1 - worst('bsr4x4'), FORMAT_RULE.bsrMaxBlockDensity, 'bsr4x4 vs dense (block fill)');
  assert.equal(1 - worst('nm2:4'), FORMAT_RULE.nmMaxDensity, 'nm2:4 vs dense (N/M kept)');
  // bitmask and COO are never chosen: CSR breaks even at no higher sparsity in every batch-1 row
  for (const x of rows) {
    for (const f of ['bitmask', 'coo']) {
      assert.ok(
        (x.cells.csr?.vsDense ?? 1) <= (x.cells[f]?.vsDense ?? 1),
        `${f} ${x.M}×${x.K} t${x.threads}`,
      );
    }
  }
});
