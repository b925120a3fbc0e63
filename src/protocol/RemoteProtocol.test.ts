import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  Msg, PROTOCOL_VERSION, StatusCode, decodeClientMessage, decodeServerMessage, encodeAck, encodePresented,
  encodeAttach, encodeBufferCreate, encodeBufferData, encodeCursorDefine, encodeCursorMove,
  encodeError, encodeFrame, encodeHello, encodeId, encodeJson, encodeKey, encodePing, encodePointerAbs,
  encodePointerRel, encodePong, encodeResize, encodeScanout, encodeStatus, isProtocolError,
} from './RemoteProtocol.ts';

describe('remote protocol', () => {
  it('round-trips every server message', () => {
    const cases = [
      [encodeHello({ vms: ['a'] }), { type: Msg.HELLO, version: PROTOCOL_VERSION, info: { vms: ['a'] } }],
      [encodeBufferCreate({ id: 7, drmFormat: 0x34325258, modifier: 0x0100000000000001n, width: 640, height: 480, stride: 2560, size: 1228800 }),
        { type: Msg.BUFFER_CREATE, id: 7, drmFormat: 0x34325258, modifier: 0x0100000000000001n, width: 640, height: 480, stride: 2560, size: 1228800 }],
      [encodeScanout(7, 41, 1765000000123.25), { type: Msg.SCANOUT, id: 7, flipSeq: 41, vblankMs: 1765000000123.25 }],
      [encodePong(3, 1765000000001.5, 1765000000002.75), { type: Msg.PONG, seq: 3, clientMs: 1765000000001.5, serverMs: 1765000000002.75 }],
      [encodeId(Msg.BUFFER_RELEASE, 9), { type: Msg.BUFFER_RELEASE, id: 9 }],
      [encodeCursorDefine(3, 0xffffffff, 4), { type: Msg.CURSOR_DEFINE, id: 3, hotX: 0xffffffff, hotY: 4 }],
      [encodeCursorMove(-5, 12), { type: Msg.CURSOR_MOVE, x: -5, y: 12 }],
      [encodeFrame(42, [{ x: 1, y: 2, width: 3, height: 4 }]), { type: Msg.FRAME, seq: 42, rects: [{ x: 1, y: 2, width: 3, height: 4 }] }],
      [encodeStatus(StatusCode.PLANE_DISABLED, 'plane disabled'), { type: Msg.STATUS, code: StatusCode.PLANE_DISABLED, text: 'plane disabled' }],
      [encodeJson(Msg.STATS, { fps: 60 }), { type: Msg.STATS, stats: { fps: 60 } }],
      [encodeError(400, 'bad'), { type: Msg.ERROR, code: 400, text: 'bad' }],
    ] as const;
    for (const [bytes, want] of cases) assert.deepEqual(decodeServerMessage(bytes), want);
    const d = decodeServerMessage(encodeBufferData(5, 4096, new Uint8Array([1, 2, 3])));
    assert.ok(!isProtocolError(d) && d.type === Msg.BUFFER_DATA);
    assert.deepEqual([d.id, d.offset, [...d.bytes]], [5, 4096, [1, 2, 3]]);
  });

  it('a flip between synced buffers is a 17-byte message: id, flip number, vblank time', () => {
    assert.equal(encodeScanout(123456, 1, 0).byteLength, 17);
  });

  it('refuses a SCANOUT or PONG whose times are not times (version 2 lengths only)', () => {
    const bad: Array<[Uint8Array, RegExp]> = [
      [encodeScanout(1, 1, Number.NaN), /vblank time/],
      [encodeScanout(1, 1, -1), /vblank time/],
      [new Uint8Array([Msg.SCANOUT, 1, 0, 0, 0]), /SCANOUT: expected 17/], // a version 1 SCANOUT
      [encodePong(1, Number.POSITIVE_INFINITY, 0), /not finite/],
      [encodePong(1, 0, 0).subarray(0, 13), /PONG: expected 21/],
    ];
    for (const [bytes, re] of bad) {
      const r = decodeServerMessage(bytes);
      assert.ok(isProtocolError(r), `accepted ${[...bytes.subarray(0, 4)]}`);
      assert.match(r.error, re);
    }
  });

  it('round-trips every client message', () => {
    assert.deepEqual(decodeClientMessage(encodeAttach('vm1')), { type: Msg.ATTACH, vm: 'vm1' });
    assert.deepEqual(decodeClientMessage(encodeKey(30, true)), { type: Msg.KEY, code: 30, down: true });
    assert.deepEqual(decodeClientMessage(encodePointerRel(-3, 4, 1)), { type: Msg.POINTER_REL, dx: -3, dy: 4, buttons: 1 });
    assert.deepEqual(decodeClientMessage(encodePointerAbs(100, 200, 0)), { type: Msg.POINTER_ABS, x: 100, y: 200, buttons: 0 });
    assert.deepEqual(decodeClientMessage(encodeResize(1280, 720)), { type: Msg.RESIZE, width: 1280, height: 720 });
    assert.deepEqual(decodeClientMessage(encodeAck(9)), { type: Msg.ACK, seq: 9 });
    assert.deepEqual(decodeClientMessage(encodePing(4, 1765000000000.5)), { type: Msg.PING, seq: 4, clientMs: 1765000000000.5 });
    assert.deepEqual(decodeClientMessage(encodePresented(0xfffffffe)), { type: Msg.PRESENTED, flipSeq: 0xfffffffe });
  });

  it('refuses malformed client messages with a reason', () => {
    const bad: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /empty/],
      [new Uint8Array([0x99]), /unknown message type/],
      [new Uint8Array([Msg.KEY, 30]), /KEY: expected 4/],
      [encodeKey(0, true), /not an evdev key code/],
      [new Uint8Array([Msg.KEY, 30, 0, 2]), /state must be 0 or 1/],
      [encodeResize(10, 10), /below 64x64/],
      [encodePing(1, Number.NaN), /PING: time/],
      [encodePing(1, 0).subarray(0, 9), /PING: expected 13/],
      [encodePresented(1).subarray(0, 3), /PRESENTED: expected 5/],
      [new Uint8Array([Msg.ATTACH, 0xff, 0xfe]), /UTF-8/],
      [new Uint8Array(5000).fill(Msg.ACK), /exceeds 4096/],
    ];
    for (const [bytes, re] of bad) {
      const r = decodeClientMessage(bytes);
      assert.ok(isProtocolError(r), `accepted ${[...bytes.subarray(0, 4)]}`);
      assert.match(r.error, re);
    }
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      decodeClientMessage(b);
      decodeServerMessage(b);
    }), { numRuns: 2000 });
  });
});
