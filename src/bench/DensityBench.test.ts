import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runDensityBench } from './DensityBench.ts';

describe('density bench (tiny, guests in workers, real time)', () => {
  it('runs each VM count with every guest flipping and every VM refreshed', async () => {
    const r = await runDensityBench({
      steps: [2], windows: 2, windowMs: 200, settleMs: 50, width: 64, height: 32, maxMissRate: 1, controlTickers: 4,
    });
    assert.equal(r.steps.length, 1);
    const s = r.steps[0]!;
    assert.equal(s.vms, 2);
    assert.equal(s.spread.cpuPerVmPct.runs, 2);
    assert.ok(s.flipsPerVmPerSec > 0, 'the guests flipped');
    assert.ok(s.cpuPerVmPct > 0);
    assert.ok(!(s.hostPreemptionsPerSec < 0), 'preemptions are a count (NaN off Linux)');
    // With every miss allowed the count passes, and is the result.
    assert.equal(s.passed, true);
    assert.equal(r.vms, 2);
    assert.equal(r.stoppedBy, 'done');
    // The control ran first with no VM: deadlines were scheduled, nothing flipped.
    assert.equal(r.control?.vms, 0);
    assert.equal(r.control?.flipsPerVmPerSec, 0);
    assert.ok(r.control !== undefined && r.control.spread.missRate.runs === 2);
  });
});
