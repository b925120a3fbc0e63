import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFlipStormBench } from './FlipStormBench.ts';

describe('flip storm bench (tiny)', () => {
  it('counts GETs, fds and copies of every client, identically in every run', () => {
    const r = runFlipStormBench({ flips: 300, width: 64, height: 32, reps: 2 });
    assert.equal(r.countsStable, true);
    // 300 vblanks at 60 Hz = 5 s: a 16 ms timer fires 312 times (+1 initial refresh of ours).
    assert.equal(r.naive.refreshes, 312);
    assert.equal(r.ours.refreshes, 313);
    assert.equal(r.ours.gets, 2);
    assert.equal(r.ours.fdsOpened, 2);
    assert.equal(r.ours.bytesCopied, 0);
    assert.equal(r.triple.ours.gets, 3);
    assert.equal(r.naive.gets, 312);
    assert.equal(r.triple.naive.fdsOpened, 312);
    assert.equal(r.region.gets, 0);
    assert.equal(r.region.bytesCopied, r.region.refreshes * 64 * 4 * 32);
    for (const c of [r.ours, r.naive, r.region, r.triple.ours]) {
      assert.ok(c.cpuUsPerRefresh >= 0 && c.usPerRefresh > 0, JSON.stringify(c.spread));
      assert.equal(c.spread.usPerRefresh.runs, 2);
    }
    assert.equal(r.ratios.naiveOverOurs.runs, 2);
  });
});
