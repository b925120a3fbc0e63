import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GuestMemory, PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { MemoryWatch } from './MemoryWatch.ts';
import { canaryWord, fillCanary, findCanaryDamage } from './CanaryFuzzer.ts';

describe('MemoryWatch (instrumented host accesses)', () => {
  it('records an access to another VM while the host acts for one', () => {
    const a = new GuestMemory(4 * PAGE_SIZE);
    const b = new GuestMemory(4 * PAGE_SIZE);
    const w = new MemoryWatch();
    w.watch('a', a);
    w.watch('b', b);
    w.as('a', () => { a.pages(0, 2); a.view(100, 10); });
    assert.equal(w.violations.length, 0);
    w.as('a', () => b.pages(1, 1));
    w.as('b', () => a.view(0, 4));
    assert.deepEqual(w.violations.map((v) => [v.owner, v.actingFor, v.how]), [['b', 'a', 'pages'], ['a', 'b', 'view']]);
    assert.equal(w.accesses.get('a'), 3);
  });

  it('records out-of-range attempts before the memory refuses them, and can be removed', () => {
    const a = new GuestMemory(2 * PAGE_SIZE);
    const w = new MemoryWatch();
    w.watch('a', a);
    assert.throws(() => w.as('a', () => a.view(PAGE_SIZE, 2 * PAGE_SIZE)), RangeError);
    assert.equal(w.violations.length, 1);
    assert.match(w.violations[0]!.reason, /outside/);
    w.dispose();
    a.view(0, 1);
    assert.equal(a.accessProbe, undefined);
    assert.equal(w.accesses.get('a'), 1);
  });

  it('canary fill and damage detection', () => {
    const m = new GuestMemory(3 * PAGE_SIZE);
    fillCanary(m, 2);
    assert.equal(findCanaryDamage(m, 2), -1);
    assert.equal(new Uint32Array(m.buffer)[1024], canaryWord(2, 1));
    m.bytes[2 * PAGE_SIZE + 77] ^= 1;
    assert.equal(findCanaryDamage(m, 2), 2);
  });
});
