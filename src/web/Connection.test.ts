import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { encodeId, encodeStatus, Msg, StatusCode } from '../protocol/RemoteProtocol.ts';
import type { ServerMessage } from '../protocol/RemoteProtocol.ts';
import { Connection } from './Connection.ts';
import type { ConnectionStatus } from './Connection.ts';
import { reconnectDelay } from './Backoff.ts';
import { FakeSocket, fakeFactory } from '../testkit/web/FakeSocket.ts';

test('backoff: 0.5 s doubling to an 8 s cap', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 50].map(reconnectDelay), [500, 1000, 2000, 4000, 8000, 8000, 8000]);
  assert.equal(reconnectDelay(0), 500);
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
  ws.message(encodeId(Msg.SCANOUT, 7));
  ws.message(Uint8Array.of(0x13, 1));
  ws.message('text');
  ws.message(encodeStatus(StatusCode.PLANE_DISABLED, 'off'));
  assert.deepEqual(got.map((m) => m.type), [Msg.SCANOUT, Msg.STATUS]);
  assert.deepEqual(errors, ['id message: expected 5 bytes, got 2', 'text frame (the protocol is binary)']);
  assert.equal(c.status.state, 'open');
  assert.equal(c.bytesReceived, 5 + 2 + 5);
  c.dispose();
});
