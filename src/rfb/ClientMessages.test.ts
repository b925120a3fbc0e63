import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseClientMessage, type ClientMessage } from './ClientMessages.ts';
import { SERVER_PIXEL_FORMAT, encodePixelFormat } from './PixelFormat.ts';

function bytes(...parts: Array<number[] | Uint8Array>): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}
const u16 = (v: number): number[] => [v >> 8, v & 255];
const u32 = (v: number): number[] => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

/** Each message as real clients send it, with what it must parse to. */
const CASES: Array<[string, Uint8Array, Partial<ClientMessage> & { type: ClientMessage['type'] }]> = [
  ['SetPixelFormat', bytes([0, 0, 0, 0], encodePixelFormat(SERVER_PIXEL_FORMAT)), { type: 'set-pixel-format' }],
  ['SetEncodings (noVNC order head)', bytes([2, 0], u16(3), u32(7), u32(16), u32(-239 >>> 0)), { type: 'set-encodings' }],
  ['SetEncodings with none', bytes([2, 0], u16(0)), { type: 'set-encodings' }],
  ['FramebufferUpdateRequest', bytes([3, 1], u16(1), u16(2), u16(3), u16(4)), { type: 'update-request', incremental: true, x: 1, y: 2, w: 3, h: 4 }],
  ['KeyEvent', bytes([4, 1, 0, 0], u32(0xff0d)), { type: 'key', down: true, keysym: 0xff0d }],
  ['PointerEvent', bytes([5, 5], u16(10), u16(20)), { type: 'pointer', mask: 5, x: 10, y: 20 }],
  ['ClientCutText', bytes([6, 0, 0, 0], u32(3), [65, 66, 67]), { type: 'cut-text', length: 3 }],
  ['EnableContinuousUpdates', bytes([150, 1], u16(0), u16(0), u16(640), u16(480)), { type: 'continuous-updates', enable: true, w: 640, h: 480 }],
  ['Fence', bytes([248, 0, 0, 0], u32(0x80000000), [2, 9, 9]), { type: 'fence', flags: 0x80000000 }],
  ['xvp', bytes([250, 0, 1, 4]), { type: 'xvp', version: 1, code: 4 }],
  ['SetDesktopSize', bytes([251, 0], u16(800), u16(600), [1, 0], u32(0), u16(0), u16(0), u16(800), u16(600), u32(0)), { type: 'set-desktop-size', width: 800, height: 600 }],
  ['QEMU extended key', bytes([255, 0], u16(1), u32(0x61), u32(0x1e)), { type: 'qemu-key', down: true, keysym: 0x61, keycode: 0x1e }],
  ['QEMU audio enable', bytes([255, 1], u16(0)), { type: 'qemu-audio', op: 0 }],
  ['QEMU audio format', bytes([255, 1], u16(2), [3, 2], u32(44100)), { type: 'qemu-audio', op: 2 }],
];

describe('RFB client messages', () => {
  it('parse every message type, and ask for more at every truncation', () => {
    for (const [name, wire, want] of CASES) {
      for (let cut = 0; cut < wire.length; cut++) {
        assert.equal(parseClientMessage(wire, 0, cut).kind, 'need-more', `${name} cut at ${cut}`);
      }
      const r = parseClientMessage(wire, 0, wire.length);
      assert.equal(r.kind, 'message', name);
      if (r.kind !== 'message') continue;
      assert.equal(r.size, wire.length, `${name} size`);
      for (const [k, v] of Object.entries(want)) {
        assert.equal((r.message as unknown as Record<string, unknown>)[k], v, `${name}.${k}`);
      }
    }
  });

  it('parses messages back to back from an offset', () => {
    const all = bytes(...CASES.map((c) => c[1]));
    let at = 0;
    for (const [name] of CASES) {
      const r = parseClientMessage(all, at, all.length);
      assert.equal(r.kind, 'message', name);
      if (r.kind === 'message') at += r.size;
    }
    assert.equal(at, all.length);
  });

  it('takes 10,000 encodings (and any U16 count)', () => {
    const n = 10_000;
    const wire = new Uint8Array(4 + 4 * n);
    wire.set([2, 0, n >> 8, n & 255]);
    const r = parseClientMessage(wire, 0, wire.length);
    assert.ok(r.kind === 'message' && r.message.type === 'set-encodings' && r.message.encodings.length === n);
  });

  it('reads the extended mouse byte only after the -316 ack', () => {
    const wire = bytes([5, 0x81], u16(1), u16(2), [2]);
    const plain = parseClientMessage(wire, 0, wire.length, false);
    assert.ok(plain.kind === 'message' && plain.size === 6 && plain.message.type === 'pointer' && plain.message.mask === 0x81);
    const ext = parseClientMessage(wire, 0, wire.length, true);
    assert.ok(ext.kind === 'message' && ext.size === 7 && ext.message.type === 'pointer' && ext.message.mask === (1 | (2 << 7)));
  });

  it('refuses unknown types, oversized cut text and fences, and empty SetDesktopSize with a reason', () => {
    const bad: Array<[Uint8Array, RegExp]> = [
      [bytes([7]), /type 7 is unknown/],
      [bytes([1, 0, 0, 0]), /type 1 is unknown/],
      [bytes([6, 0, 0, 0], u32(2 << 20)), /exceeds/],
      [bytes([6, 0, 0, 0], u32(-(2 << 20) >>> 0)), /exceeds/],
      [bytes([248, 0, 0, 0], u32(0), [65]), /exceeds 64/],
      [bytes([251, 0], u16(1), u16(1), [0, 0]), /no screens/],
      [bytes([255, 9]), /subtype 9/],
      [bytes([255, 1], u16(7)), /operation 7/],
    ];
    for (const [wire, why] of bad) {
      const r = parseClientMessage(wire, 0, wire.length);
      assert.ok(r.kind === 'error' && why.test(r.reason), `${[...wire]} → ${JSON.stringify(r)}`);
    }
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (b, ext) => {
      const r = parseClientMessage(b, 0, b.length, ext);
      if (r.kind === 'message') assert.ok(r.size >= 1 && r.size <= b.length);
    }), { numRuns: 2000 });
  });
});
