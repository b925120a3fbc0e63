import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../base/Clock.ts';
import { LogLimiter, MAX_PEER_TEXT, peerText } from './LogLimiter.ts';

describe('LogLimiter', () => {
  it('writes a bounded number of lines under a flood and summarizes the rest', () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    const log = new LogLimiter((l) => lines.push(l), { clock, linesPerWindow: 5 });
    let built = 0;
    for (let i = 0; i < 10_000; i++) {
      log.write('upgrade', 'refused upgrades', () => { built++; return `refused upgrade ${i}`; });
    }
    assert.equal(lines.length, 5);
    assert.equal(built, 5, 'suppressed lines are never built');
    assert.equal(log.suppressed, 9_995);
    clock.advance(60_000);
    assert.deepEqual(lines.slice(5), ['… 9,995 more refused upgrades in the last minute']);
    // A new window writes again.
    log.write('upgrade', 'refused upgrades', () => 'again');
    assert.equal(lines.at(-1), 'again');
  });

  it('keeps kinds apart and writes open summaries on dispose', () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    const log = new LogLimiter((l) => lines.push(l), { clock, linesPerWindow: 1 });
    for (let i = 0; i < 3; i++) log.write('a', 'As', () => 'a');
    for (let i = 0; i < 4; i++) log.write('b', 'Bs', () => 'b');
    assert.deepEqual(lines, ['a', 'b']);
    log.dispose();
    assert.deepEqual(lines.slice(2).sort(), ['… 2 more As in the last minute', '… 3 more Bs in the last minute']);
  });

  it('escapes control characters and caps peer text', () => {
    assert.equal(peerText('http://a\r\nInjected: 1'), 'http://a\\x0d\\x0aInjected: 1');
    const long = peerText('x'.repeat(100_000));
    assert.ok(long.length < MAX_PEER_TEXT + 20, `capped: ${long.length}`);
    assert.equal(peerText(undefined), '?');
  });
});
