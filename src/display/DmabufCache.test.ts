import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DisplayBuffer } from './DisplayBuffer.ts';
import { DmabufCache, type CacheEntry } from './DmabufCache.ts';

function entry(id: number): CacheEntry {
  const buffer = { id, fd: 100 + id } as unknown as DisplayBuffer;
  return { id, buffer, full: [], pages: undefined, hits: 0 };
}

describe('DmabufCache', () => {
  it('is keyed by id and most recently used first', () => {
    const c = new DmabufCache(8);
    for (const id of [1, 2, 3]) c.insert(entry(id));
    assert.equal(c.lookup(1)!.id, 1);
    assert.deepEqual(c.entries().map((e) => e.id), [1, 3, 2]);
    assert.equal(c.lookup(9), undefined);
    assert.equal(c.lookup(1)!.hits, 2);
  });

  it('evicts the least recently used beyond capacity, skipping shown entries', () => {
    const c = new DmabufCache(2);
    for (const id of [1, 2, 3, 4]) c.insert(entry(id));
    const shown = new Set([1]);
    const gone = c.evict((e) => shown.has(e.id));
    assert.deepEqual(gone.map((e) => e.id), [2, 3]);
    assert.deepEqual(c.entries().map((e) => e.id), [4, 1]);
    // Everything shown: nothing can go, the bound is exceeded rather than breaking the display.
    c.insert(entry(5));
    assert.deepEqual(c.evict(() => true), []);
    assert.equal(c.size, 3);
  });

  it('rejects a bound that cannot hold a primary and a cursor', () => {
    assert.throws(() => new DmabufCache(1), RangeError);
    assert.throws(() => new DmabufCache(2.5), RangeError);
  });
});
