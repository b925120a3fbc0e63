import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDisplayBench, runDisplayBench } from './DisplayBench.ts';

describe('display bench (tiny)', () => {
  it('flip storm: our client GETs twice and copies nothing; naive GETs every refresh; region copies frames', () => {
    const r = runDisplayBench({ flips: 600, width: 64, height: 32, latencyFlips: 200 });
    const f = r.flipStorm;
    assert.equal(f.flips, 600);
    assert.equal(f.ours.gets, 2);
    assert.equal(f.ours.fdsOpened, 2);
    assert.equal(f.ours.bytesCopied, 0);
    // 600 vblanks at 60 Hz = 10 s; a 16 ms timer refreshes 625 times (+1 initial refresh for ours).
    assert.equal(f.naive.refreshes, 625);
    assert.equal(f.naive.gets, 625);
    assert.equal(f.naive.fdsOpened, 625);
    assert.equal(f.ours.refreshes, 626);
    assert.equal(f.region.gets, 0);
    assert.equal(f.region.bytesCopied, f.region.refreshes * 64 * 4 * 32);
    assert.ok(f.ours.usPerRefresh > 0 && f.naive.usPerRefresh > 0);
    const l = r.latencyMs;
    assert.equal(l.event.p99, 0, 'event: no timer in the path');
    assert.equal(l.dirty.p99, 0);
    assert.ok(l.timer30.p99 <= 30 && l.timer30.p99 > 16, `timer30 p99 ${l.timer30.p99}`);
    assert.ok(l.timer16.p99 <= 16 && l.timer16.p50 > 0, `timer16 ${JSON.stringify(l.timer16)}`);
    assert.ok(l.timer30.p50 > l.timer16.p50);
    assert.equal(l.event.samples, 200);
    assert.match(formatDisplayBench(r), /naive\s+625/);
  });
});
