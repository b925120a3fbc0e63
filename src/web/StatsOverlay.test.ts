import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rate } from './StatsOverlay.ts';

test('Rate: counts per second between samples', () => {
  const r = new Rate();
  r.sample(10, 1000);
  assert.equal(r.value, 0, 'one sample is no rate yet');
  r.sample(40, 1500);
  assert.equal(r.value, 60);
});

test('Rate: a counter below its last sample (another session) never gives a negative rate', () => {
  const r = new Rate();
  r.sample(500, 1000);
  r.sample(560, 2000);
  assert.equal(r.value, 60);
  r.sample(3, 3000); // the overlay now shows a session with fewer presents
  assert.ok(r.value >= 0, `rate ${r.value}`);
  r.sample(33, 4000);
  assert.equal(r.value, 30, 'the new counter is the baseline');
});

test('Rate: reset forgets the baseline', () => {
  const r = new Rate();
  r.sample(100, 1000);
  r.sample(160, 2000);
  r.reset();
  assert.equal(r.value, 0);
  r.sample(5, 3000);
  assert.equal(r.value, 0, 'the first sample after a reset is a baseline');
  r.sample(15, 3500);
  assert.equal(r.value, 20);
});
