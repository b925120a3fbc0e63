import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { encodeScanout, encodeStatus, Msg, StatusCode } from '../protocol/RemoteProtocol.ts';
import type { ServerMessage } from '../protocol/RemoteProtocol.ts';
import { Connection } from './Connection.ts';
import type { ConnectionStatus } from './Connection.ts';
import { closeText, countdownText, reconnectDelay } from './Backoff.ts';
import { FakeSocket, fakeFactory } from '../testkit/web/FakeSocket.ts';

test('backoff: 0.5 s doubling to a 3 s cap', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 50].map(reconnectDelay), [500, 1000, 2000, 3000, 3000, 3000, 3000]);
  assert.equal(reconnectDelay(0), 500);
});

test('after a 12 s outage the viewer is back within 3 s of the server, whenever it returns', () => {
  // Attempt times during the outage, then the worst case: the server returns just after one.
  let t = 0;
  const attempts: number[] = [];
  for (let n = 1; t < 20_000; n++) attempts.push(t += reconnectDelay(n));
  for (let back = 12_000; back < 15_000; back += 50) {
    const next = attempts.find((a) => a >= back)!;
    assert.ok(next - back <= 3000, `server back at ${back} ms, next attempt at ${next} ms`);
  }
});

test('countdown and close reasons read as words', () => {
  assert.deepEqual([500, 499, 1, 0, 1000, 1001, 2600].map(countdownText),
    ['0.5 s', '0.5 s', '0.1 s', '0.0 s', '1 s', '2 s', '3 s']);
  assert.equal(closeText(1006, ''), 'the connection to the server was lost');
  assert.equal(closeText(1001, ''), 'the server went away (stopped or restarting)');
  assert.equal(closeText(1008, 'bad token'), 'bad token');
  assert.doesNotMatch(closeText(4321, ''), /\d/);
});

test('reconnects with backoff until open, then resets; cancel stops; dispose is terminal', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    FakeSocket.made = [];
    const c = new Connection('ws://x/ws', fakeFactory);
    const states: ConnectionStatus[] = [];
    c.onStatus((s) => states.push(s));
    c.retryNow();
    assert.equal(FakeSocket.made.length, 1);
    assert.equal(FakeSocket.made[0]!.binaryType, 'arraybuffer');
    for (const [n, delay] of [[1, 500], [2, 1000], [3, 2000]] as const) {
      FakeSocket.made.at(-1)!.drop('refused');
      assert.deepEqual([c.status.state, c.status.attempt, c.status.retryInMs], ['waiting', n, delay]);
      mock.timers.tick(delay - 1);
      assert.equal(FakeSocket.made.length, n);
      mock.timers.tick(1);
      assert.equal(FakeSocket.made.length, n + 1);
    }
    FakeSocket.made.at(-1)!.open();
    assert.deepEqual([c.status.state, c.status.attempt], ['open', 0]);
    assert.equal(c.send(Uint8Array.of(1)), true);
    FakeSocket.made.at(-1)!.drop('server restart');
    assert.deepEqual([c.status.state, c.status.reason, c.status.retryInMs], ['waiting', 'server restart', 500]);
    c.cancel();
    mock.timers.tick(60_000);
    assert.equal(FakeSocket.made.length, 4, 'no attempt after cancel');
    assert.equal(c.status.state, 'cancelled');
    assert.equal(c.send(Uint8Array.of(1)), false);
    c.retryNow();
    assert.equal(FakeSocket.made.length, 5);
    c.dispose();
    assert.equal(FakeSocket.made[4]!.closed, true);
    c.retryNow();
    assert.equal(FakeSocket.made.length, 5);
    assert.deepEqual(states.map((s) => s.state).slice(0, 3), ['connecting', 'waiting', 'connecting']);
  } finally {
    mock.timers.reset();
  }
});

test('decodes messages; malformed ones are reported and the connection stays open', () => {
  FakeSocket.made = [];
  const c = new Connection('ws://x/ws', fakeFactory);
  const got: ServerMessage[] = [];
  const errors: string[] = [];
  c.onMessage((m) => got.push(m));
  c.onProtocolError((e) => errors.push(e));
  c.retryNow();
  const ws = FakeSocket.made[0]!;
  ws.open();
  ws.message(encodeScanout(7, 1, 0));
  ws.message(Uint8Array.of(0x13, 1));
  ws.message('text');
  ws.message(encodeStatus(StatusCode.PLANE_DISABLED, 'off'));
  assert.deepEqual(got.map((m) => m.type), [Msg.SCANOUT, Msg.STATUS]);
  assert.deepEqual(errors, ['SCANOUT: expected 17 bytes, got 2', 'text frame (the protocol is binary)']);
  assert.equal(c.status.state, 'open');
  assert.equal(c.bytesReceived, 17 + 2 + 5);
  c.dispose();
});
