import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fallbackPolicy, opKey, register, registeredOps, resolve, setFallbackPolicy } from './dispatch.js';

test('dispatch: a key registered twice throws', () => {
  register('test_twice', ['dense'], 'reference', () => 1);
  assert.throws(() => register('test_twice', ['dense'], 'reference', () => 2), /registered twice/);
});

test('dispatch: fast path wins; a missing fast path follows the policy', () => {
  register('test_op', ['csr'], 'reference', () => 'ref');
  register('test_op', ['dense'], 'reference', () => 'ref');
  register('test_op', ['dense'], 'fast', () => 'fast');
  assert.equal(resolve<() => string>('test_op', ['dense'])(), 'fast');
  setFallbackPolicy('throw');
  assert.throws(() => resolve('test_op', ['csr']), /no fast kernel for test_op\(csr\)/);
  setFallbackPolicy('warn');
  assert.equal(fallbackPolicy(), 'warn');
  assert.equal(resolve<() => string>('test_op', ['csr'])(), 'ref');
  assert.throws(() => resolve('test_op', ['bsr']), /no implementation of test_op\(bsr\)/);
  assert.throws(() => setFallbackPolicy('loud' as 'warn'), /expected "warn" or "throw"/);
  assert.ok(registeredOps().some((o) => o.key === opKey('test_op', ['dense']) && o.fast && o.reference));
});

test('dispatch: the default policy warns once per op, not per call', () => {
  const dispatch = fileURLToPath(new URL('./dispatch.js', import.meta.url));
  const script = `
    const d = await import(${JSON.stringify(dispatch)});
    d.register('slow_op', ['coo'], 'reference', () => 0);
    for (let i = 0; i < 5; i++) d.resolve('slow_op', ['coo'])();
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.split('\n').filter((l) => l.includes('no fast kernel for slow_op(coo)')).length, 1);
});
