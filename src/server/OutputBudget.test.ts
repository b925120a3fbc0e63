import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../base/Clock.ts';
import { OutputBudget, type BudgetAccount } from './OutputBudget.ts';

const KIB = 1024;

function client(budget: OutputBudget, name: string, log: string[]): BudgetAccount {
  return budget.register({ evict: (why) => log.push(`${name}: ${why}`), wake: () => log.push(`${name}: wake`) });
}

describe('OutputBudget', () => {
  it('keeps the total under the budget: a client may start a message only while one fits', () => {
    const clock = new VirtualClock();
    const b = new OutputBudget({ clock, maxBytes: 1024 * KIB, maxMessageBytes: 256 * KIB });
    const log: string[] = [];
    const a = client(b, 'a', log);
    let n = 0;
    while (a.mayQueue() && n < 100) {
      a.queued(256 * KIB);
      n++;
    }
    assert.equal(n, 4);
    assert.equal(b.queuedBytes, 1024 * KIB);
    assert.ok(b.stats.queuedPeak <= b.maxBytes);
    a.queued(-256 * KIB);
    assert.equal(a.mayQueue(), true);
    a.dispose();
    assert.equal(b.queuedBytes, 0, 'a gone client takes its bytes with it');
    b.dispose();
  });

  it('when tight, drops clients over their share, longest stuck first, and wakes the one that asked', () => {
    const clock = new VirtualClock();
    const b = new OutputBudget({ clock, maxBytes: 1024 * KIB, maxMessageBytes: 64 * KIB, stallMs: 60_000 });
    const log: string[] = [];
    const old = client(b, 'old', log);
    old.queued(400 * KIB);
    clock.advance(100);
    const young = client(b, 'young', log);
    young.queued(400 * KIB);
    clock.advance(100);
    const small = client(b, 'small', log);
    small.queued(200 * KIB);
    const fresh = client(b, 'fresh', log);
    // 1000 KiB queued: no room for a 64 KiB message. Share = 256 KiB: old and young are over it.
    assert.equal(fresh.mayQueue(), true);
    assert.equal(log.length, 1);
    assert.match(log[0]!, /^old: output budget full: 409600 bytes queued, over the 262144-byte share/);
    assert.equal(b.stats.evictedShare, 1);
    assert.equal(b.queuedBytes, 600 * KIB);
    // young keeps reading a little: its progress is newer, but it is still over its share.
    fresh.queued(400 * KIB);
    // Now share = 1024/3 KiB; young (stuck since t=100) goes before fresh (non-empty since t=200).
    assert.equal(small.mayQueue(), true, 'young over its share goes next');
    assert.equal(log.length, 2);
    assert.match(log[1]!, /^young: output budget full/);
    assert.equal(old.disposed && young.disposed, true);
    b.dispose();
  });

  it('a client that asked while nothing could be dropped is woken when room comes back', () => {
    const clock = new VirtualClock();
    const b = new OutputBudget({ clock, maxBytes: 512 * KIB, maxMessageBytes: 64 * KIB, stallMs: 60_000 });
    const log: string[] = [];
    const x = client(b, 'x', log);
    const y = client(b, 'y', log);
    x.queued(400 * KIB);
    y.queued(80 * KIB);
    const z = client(b, 'z', log);
    // Share 170 KiB: only x is over it, and x is the one asking: nobody is dropped.
    assert.equal(x.mayQueue(), false, 'the asking client is never its own victim');
    assert.deepEqual(log, []);
    x.queued(-100 * KIB);
    assert.deepEqual(log, [], 'wake comes after this turn');
    clock.advance(0);
    assert.deepEqual(log, ['x: wake']);
    assert.equal(z.mayQueue(), true);
    b.dispose();
  });

  it('drops a client whose queue made no progress for stallMs, not one that is merely idle', () => {
    const clock = new VirtualClock();
    const b = new OutputBudget({ clock, maxBytes: 64 * 1024 * KIB, stallMs: 10_000 });
    const log: string[] = [];
    const stuck = client(b, 'stuck', log);
    const reader = client(b, 'reader', log);
    const idle = client(b, 'idle', log);
    stuck.queued(100 * KIB);
    for (let t = 0; t < 12; t++) {
      reader.queued(50 * KIB);
      clock.advance(1000);
      reader.queued(-50 * KIB);
    }
    assert.equal(log.length, 1, log.join('\n'));
    assert.match(log[0]!, /^stuck: not reading: 102400 bytes queued, none written for 1\d s/);
    assert.equal(b.stats.evictedStalled, 1);
    assert.equal(idle.disposed || reader.disposed, false);
    assert.equal(b.queuedBytes, 0);
    b.dispose();
  });

  it('refuses a budget that cannot hold two messages', () => {
    assert.throws(() => new OutputBudget({ clock: new VirtualClock(), maxBytes: 1000 }), /at least/);
    assert.throws(() => new OutputBudget({ clock: new VirtualClock(), maxBytes: 1.5 * 1024 * 1024 * 1024 + 0.5 }), /integer/);
  });
});
