import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from './Rng.ts';

describe('Rng (xoshiro128** seeded by splitmix32)', () => {
  it('matches the xoshiro128** reference sequence for the state {1, 2, 3, 4}', () => {
    const r = Rng.fromState(1, 2, 3, 4);
    assert.deepEqual([r.u32(), r.u32(), r.u32(), r.u32()], [11520, 0, 5927040, 70819200]);
  });

  it('is a pure function of the seed and the derivation keys', () => {
    const take = (r: Rng): number[] => Array.from({ length: 8 }, () => r.u32());
    assert.deepEqual(take(Rng.derive(42, 'abi', 7)), take(Rng.derive(42, 'abi', 7)));
    assert.notDeepEqual(take(Rng.derive(42, 'abi', 7)), take(Rng.derive(42, 'abi', 8)));
    assert.notDeepEqual(take(Rng.derive(42, 'abi', 7)), take(Rng.derive(42, 'guest', 7)));
    assert.notDeepEqual(take(Rng.derive(42, 'abi', 7)), take(Rng.derive(43, 'abi', 7)));
  });

  it('int(n) stays in range and is close to uniform', () => {
    const r = new Rng(9);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 20000; i++) {
      const x = r.int(10);
      assert.ok(Number.isInteger(x) && x >= 0 && x < 10);
      buckets[x]!++;
    }
    for (const b of buckets) assert.ok(b > 1700 && b < 2300, `bucket ${b}`);
  });

  it('range, size, float, bytes and weighted keep their contracts', () => {
    const r = new Rng(3);
    for (let i = 0; i < 2000; i++) {
      const x = r.range(-5, 5);
      assert.ok(x >= -5 && x <= 5);
      const s = r.size(1000);
      assert.ok(s >= 0 && s <= 1000);
      const f = r.float();
      assert.ok(f >= 0 && f < 1);
      assert.equal(r.weighted([[0, 'never'], [1, 'always']]), 'always');
    }
    assert.equal(r.bytes(7).byteLength, 7);
    assert.ok(r.range(0, 2 ** 40) <= 2 ** 40);
  });
});
