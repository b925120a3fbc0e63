import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../base/Emitter.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import {
  decodeClientMessage, encodeBufferCreate, encodeBufferData, encodeCursorDefine, encodeCursorMove,
  encodeFrame, encodeHello, encodeId, encodePong, encodeScanout, Msg,
} from '../protocol/RemoteProtocol.ts';
import type { RemoteBuffer } from './BufferStore.ts';
import type { CursorState, IRenderer } from './IRenderer.ts';
import { checkPlane, isPlaneProblem } from './PlaneCheck.ts';
import { Session } from './Session.ts';
import { FakeSocket, fakeFactory } from '../testkit/web/FakeSocket.ts';

/** Records what the session asks of a renderer. */
class FakeRenderer implements IRenderer {
  public readonly kind = 'canvas';
  public readonly canvas = undefined as unknown as HTMLCanvasElement;
  public readonly timings = { upload: 0, decode: 0, present: 0 };
  public readonly onContextLoss = new Emitter<void>().event;
  public log: string[] = [];
  public frameWidth = 0;
  public frameHeight = 0;
  public updateBuffer(b: RemoteBuffer, lo: number, hi: number): void { this.log.push(`update ${b.id} ${lo}-${hi}`); }
  public removeBuffer(b: RemoteBuffer): void { this.log.push(`remove ${b.id}`); }
  public setPrimary(b: RemoteBuffer | null) {
    const p = b === null ? undefined : checkPlane(b);
    if (p !== undefined && isPlaneProblem(p)) return p;
    this.log.push(`primary ${b?.id ?? null}`);
    return undefined;
  }
  public setCursor(c: CursorState | null) {
    this.log.push(c === null ? 'cursor off' : `cursor ${c.buffer.id} ${c.x},${c.y}`);
    return undefined;
  }
  public reset(): void { this.log.push('reset'); }
  public render(): void {}
  public snapshot() { return null; }
  public readScreen(): [number, number, number, number] { return [0, 0, 0, 0]; }
  public dispose(): void {}
}

const buf = (id: number) => encodeBufferCreate({ id, drmFormat: DRM_FORMAT.XRGB8888, modifier: 0n, width: 4,
  height: 2, stride: 16, size: 32 });

test('HELLO → ATTACH of the first VM; buffers, flips, cursor and acks reach the renderer', () => {
  FakeSocket.made = [];
  const r = new FakeRenderer();
  const s = new Session('ws://x/ws', undefined, r, fakeFactory);
  const vms: string[][] = [];
  s.onVms((v) => vms.push(v));
  s.start();
  const ws = FakeSocket.made[0]!;
  ws.open();
  for (const m of [encodeHello({ vms: [{ name: 'a' }, 'b'] }), buf(1), encodeBufferData(1, 8, new Uint8Array(8)),
    encodeScanout(1, 1, 0), buf(2), encodeCursorDefine(2, 1, 1), encodeCursorMove(-3, 4), encodeFrame(9, [])]) {
    ws.message(m);
  }
  assert.equal(s.vm, 'a');
  assert.deepEqual(vms, [['a', 'b']]);
  const sent = ws.sent.map((b) => decodeClientMessage(b));
  assert.deepEqual(sent.filter((m) => !('type' in m) || m.type !== Msg.PING), [{ type: Msg.ATTACH, vm: 'a' }]);
  assert.equal(sent.filter((m) => 'type' in m && m.type === Msg.PING).length, 1, 'a clock probe on open');
  assert.deepEqual(r.log, ['reset', 'update 1 8-16', 'primary 1', 'cursor 2 0,0', 'cursor 2 -3,4']);
  assert.deepEqual([s.primaryId, s.counters.flips, s.counters.frames, s.cursor?.hotX], [1, 1, 1, 1]);
  s.presented();
  assert.deepEqual(decodeClientMessage(ws.sent.at(-1)!), { type: Msg.ACK, seq: 9 });
  s.dispose();
});

test('bad references are protocol errors that change nothing; a new connection starts empty', () => {
  FakeSocket.made = [];
  const r = new FakeRenderer();
  const s = new Session('ws://x/ws', 'vm9', r, fakeFactory);
  s.start();
  const ws = FakeSocket.made[0]!;
  ws.open();
  ws.message(encodeHello({ vms: [] }));
  ws.message(buf(1));
  ws.message(encodeScanout(1, 1, 0));
  for (const m of [encodeScanout(5, 5, 0), encodeBufferData(3, 0, Uint8Array.of(1)), encodeId(Msg.BUFFER_RELEASE, 4),
    encodeCursorDefine(8, 0, 0)]) ws.message(m);
  assert.equal(s.counters.errors, 4);
  assert.match(s.lastError!, /^Protocol error: CURSOR_DEFINE of unknown buffer 8/);
  assert.equal(s.primaryId, 1);
  assert.deepEqual(decodeClientMessage(ws.sent[1]!), { type: Msg.ATTACH, vm: 'vm9' });
  // An unsupported primary is reported in words.
  ws.message(encodeBufferCreate({ id: 2, drmFormat: 0x3231564e, modifier: 0n, width: 4, height: 2, stride: 16, size: 32 }));
  ws.message(encodeScanout(2, 2, 0));
  assert.match(s.planeProblem!, /^Unsupported pixel format: pixel format 'NV12'/);
  ws.drop('gone');
  s.connection.retryNow();
  FakeSocket.made.at(-1)!.open();
  assert.deepEqual([s.store.size, s.primaryId, s.planeProblem], [0, null, undefined]);
  assert.equal(r.log.filter((l) => l === 'reset').length, 2);
  s.dispose();
});

test('flip → present: PONGs give the host clock offset, SCANOUT its vblank time, presents the samples', () => {
  FakeSocket.made = [];
  const r = new FakeRenderer();
  const s = new Session('ws://x/ws', 'a', r, fakeFactory);
  s.start();
  const ws = FakeSocket.made[0]!;
  ws.open();
  ws.message(encodeHello({ vms: [{ name: 'a', input: { resize: true } }] }));
  assert.equal(s.canResize, true);
  // Answer the probes as a host whose clock runs 1000 ms ahead; each PONG asks for the next.
  for (let i = 0; i < 8; i++) {
    const ping = ws.sent.map((b) => decodeClientMessage(b)).filter((m) => 'type' in m && m.type === Msg.PING).at(-1);
    assert.ok(ping !== undefined && 'clientMs' in ping, `probe ${i}`);
    ws.message(encodePong(ping.seq, ping.clientMs, ping.clientMs + 1000));
  }
  const offset = s.clock.offset!;
  assert.ok(offset > 999 && offset <= 1000, `offset ${offset}`);
  ws.message(buf(1));
  const now = performance.timeOrigin + performance.now();
  ws.message(encodeScanout(1, 7, now + 1000 - 4)); // latched 4 ms ago on the host's clock
  assert.equal(s.flipLatency.drawn(), true);
  s.flipPresented(performance.timeOrigin + performance.now());
  const p50 = s.flipLatency.quantile(0.5)!;
  assert.ok(p50 >= 4 && p50 < 1000, `flip → present ${p50} ms`);
  assert.equal(s.activity.get('flips received')?.count, 1);
  s.dispose();
});
