import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimit } from './RateLimit.ts';

describe('RateLimit', () => {
  it('allows the burst at once, then the rate', () => {
    const r = new RateLimit(4, 8, 0);
    let n = 0;
    for (let i = 0; i < 100; i++) if (r.take(0)) n++;
    assert.equal(n, 8, 'the burst');
    assert.equal(r.take(100), false, '0.4 of a token after 100 ms');
    assert.equal(r.take(250), true, 'one token after 250 ms');
    n = 0;
    for (let t = 250; t <= 10_250; t += 10) if (r.take(t)) n++;
    assert.ok(n >= 39 && n <= 41, `~4 per second over 10 s: ${n}`);
  });

  it('refuses a bad configuration', () => {
    assert.throws(() => new RateLimit(0, 1, 0), RangeError);
    assert.throws(() => new RateLimit(1, 0.5, 0), RangeError);
  });
});
