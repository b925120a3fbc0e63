import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchReads, type LoopbackFloor, type PolicyLatency } from './LatencyBench.ts';
import { latencySection } from './sections/LatencySection.ts';
import { tinyContext } from './sections/testing.ts';

describe('latency bench (tiny, guest in a worker, real time)', () => {
  it('samples flip → scanout and flip → wire for every policy', async () => {
    const out = await latencySection.run(tinyContext());
    const { loopback, ...l } = out.json.latencyMs as Record<string, PolicyLatency & {
      immediateClock?: PolicyLatency; sameThreadClient?: PolicyLatency;
    }> & { loopback: LoopbackFloor };
    assert.deepEqual(Object.keys(l), ['timer30', 'timer16', 'event', 'dirty']);
    for (const [name, x] of Object.entries(l)) {
      assert.ok(x.samples > 0, `${name}: no flip reached scanout`);
      assert.ok(x.p50 >= 0 && x.p99 >= x.p50, `${name}: p50 ${x.p50} p99 ${x.p99}`);
      // A write returns before the client thread it wakes can read (same clock, same process).
      assert.ok(x.wireP50 > 0 && x.readP50 > 0, `${name}: wire ${x.wireP50} read ${x.readP50}`);
      assert.equal((x.virtual?.samples ?? 0) + (x.virtual?.dropped ?? 0), 100, `${name}: virtual-time figures`);
      assert.ok(Number.isFinite(x.hostTimerLateP99), `${name}: host timer lateness`);
    }
    // Event-driven policies show every flip: asserted in virtual time, where no scheduling noise
    // can coalesce two flips (in real time a loaded host may, and `dropped` reports it).
    assert.equal(l.event!.virtual!.dropped, 0);
    assert.equal(l.dirty!.virtual!.dropped, 0);
    assert.ok(l.timer30!.virtual!.dropped > 0, 'a 30 ms timer misses flips at 60 Hz (the check can fail)');
    // The event case also carries the setImmediate variant.
    assert.ok(l.event!.immediateClock !== undefined && l.event!.immediateClock.samples > 0);
    // The dirty case also carries the same flips read by a client on the server's thread.
    const same = l.dirty!.sameThreadClient;
    assert.ok(same !== undefined && same.samples > 0 && same.readP50 > 0, 'the same-thread client figures');
    // The floor: 60 bare sends (a starved client thread may read two in one go: one sample).
    assert.ok(loopback.samples > 0 && loopback.samples <= 60, `floor samples ${loopback.samples}`);
    assert.ok(loopback.writtenP50 > 0 && loopback.readP50 > 0, `floor ${JSON.stringify(loopback)}`);
    assert.equal(out.summary.length, 3);
    const wire = out.summary.find((r) => r.metric.startsWith('Dirty policy flip → first byte on the wire'));
    assert.ok(wire !== undefined && wire.measured.startsWith(`${l.dirty!.wireP50.toFixed(2)} ms (`), 'the dirty wire p50 target row');
  });
});

describe('latency bench: matching reads to flips', () => {
  it('a read answers the newest unanswered latch before it; a flip overtaken before any read has no sample', () => {
    // Latches at 0, 16, 20 (overtakes 16), 40; reads at 0.3 (flip 0), 1 (a second read of the same
    // update: no latch left), 20.4 (flip 20), 41 (flip 40); a read before any latch is ignored.
    assert.deepEqual(matchReads([0, 16, 20, 40], [41, -1, 0.3, 1, 20.4]).map((x) => Math.round(x * 10) / 10), [0.3, 0.4, 1]);
    assert.deepEqual(matchReads([5], []), []);
  });
});
