import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mean, median, quantile, round, slope, spread } from './Stats.ts';

describe('bench statistics', () => {
  it('median, nearest-rank quantiles and spread', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(xs, 0.5), 50);
    assert.equal(quantile(xs, 0.99), 99);
    assert.equal(quantile(xs, 1), 100);
    assert.equal(quantile([7], 0.99), 7);
    assert.deepEqual(spread([5, 1, 9]), { median: 5, min: 1, max: 9, runs: 3 });
    assert.equal(mean([1, 2, 3, 6]), 3);
    assert.equal(round(1.23456, 3), 1.235);
  });

  it('least-squares slope', () => {
    assert.equal(slope([0, 1, 2, 3], [10, 12, 14, 16]), 2);
    assert.equal(slope([0, 1, 2, 3], [5, 5, 5, 5]), 0);
    assert.ok(Number.isNaN(slope([1, 1], [2, 3])));
    assert.ok(Math.abs(slope([0, 1, 2], [0, 1.1, 1.9]) - 0.95) < 1e-12);
  });
});
