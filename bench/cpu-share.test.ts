import assert from 'node:assert/strict';
import { test } from 'node:test';
import { busySeconds, otherCpuShare } from './cpu-share.js';

test('/proc/stat busy time counts user, nice, system, irq, softirq and steal', () => {
  const stat = 'cpu  100 20 30 1000 50 5 5 10 0 0\ncpu0 50 10 15 500 25 2 3 5 0 0\n';
  assert.equal(busySeconds(stat), (100 + 20 + 30 + 5 + 5 + 10) / 100);
  assert.equal(busySeconds('intr 1 2 3\n'), null);
});

test("other processes' share is the machine's busy time minus our own, over all cores", () => {
  const a = { wall: 0, machineBusy: 10, own: 1 };
  // 10 s on 2 cores; the machine was busy 12 s, 8 of them ours → others 4 / 20
  assert.equal(otherCpuShare(a, { wall: 10, machineBusy: 22, own: 9 }, 2), 0.2);
  assert.equal(otherCpuShare(a, { wall: 10, machineBusy: 15, own: 9 }, 2), 0, 'clamped at 0');
  assert.equal(otherCpuShare(a, { wall: 10, machineBusy: null, own: 9 }, 2), null);
});
