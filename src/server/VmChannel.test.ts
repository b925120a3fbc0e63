import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DisplayBuffer } from '../display/DisplayBuffer.ts';
import { DisplayConsole } from '../display/DisplayConsole.ts';
import { DRM_FORMAT, formatInfo } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import type { DirectScanout } from '../protocol/InspectorData.ts';
import { readDirectScanout } from '../protocol/InspectorData.ts';
import { StatusCode } from '../protocol/RemoteProtocol.ts';
import { ScanoutModel } from '../render/ScanoutModel.ts';
import { VmChannel, type ChannelEvent } from './VmChannel.ts';

function buffer(id: number, p: { width?: number; height?: number; drmFormat?: number; modifier?: bigint; stride?: number } = {}): DisplayBuffer {
  const width = p.width ?? 1024;
  const height = p.height ?? 768;
  const drmFormat = p.drmFormat ?? DRM_FORMAT.XRGB8888;
  const stride = p.stride ?? width * (formatInfo(drmFormat)?.cpp ?? 4);
  const size = stride * height;
  const bytes = new Uint8Array(size);
  return {
    id, fd: -1, kind: 'dmabuf', planeType: 1, drmFormat, modifier: p.modifier ?? DRM_FORMAT_MOD.LINEAR,
    width, height, stride, size, mapping: { length: size, chunks: [bytes], chunkOffsets: [0], unmap: () => {} },
  };
}

function rig(model?: ScanoutModel): { console: DisplayConsole; channel: VmChannel; events: ChannelEvent[]; nows: { n: number } } {
  const console = new DisplayConsole();
  const nows = { n: 0 };
  const channel = new VmChannel({ name: 'vm', kind: 'test', display: { console } }, {
    scanoutModel: model, now: () => { nows.n++; return 1000; },
  });
  const events: ChannelEvent[] = [];
  return { console, channel, events, nows };
}

/** Read through a call: the primary changes under the test's feet (no narrowing). */
function primaryId(ch: VmChannel): number | undefined {
  return ch.primary?.remoteId;
}

/** The verdict as the viewer gets it: through JSON, read back by the protocol's reader. */
function overTheWire(v: DirectScanout | undefined): DirectScanout | undefined {
  return readDirectScanout(JSON.parse(JSON.stringify({ directScanout: v })));
}

describe('VmChannel direct scanout', () => {
  it('a linear XRGB8888 primary goes straight to a host plane', () => {
    const r = rig();
    r.channel.onInspect((e) => r.events.push(e));
    r.console.showScanout(buffer(3));
    const v = overTheWire(r.channel.directScanout);
    assert.ok(v !== undefined, 'a verdict once something is shown');
    assert.equal(v.direct, true);
    assert.equal(v.host, 'i915-like');
    assert.equal(v.plane, 31);
    assert.equal(v.code, undefined);
    assert.match(v.sentence, /^direct scanout: yes, host plane 31 \(primary\) of i915-like .*1024x768 XRGB8888 LINEAR/);
    // The scanout EVENT carries the verdict of that very scanout, and so does the VM's STATS part.
    const ev = r.events.find((e) => e.kind === 'scanout');
    assert.ok(ev?.kind === 'scanout');
    assert.deepEqual(ev.directScanout, r.channel.directScanout);
    assert.deepEqual(r.channel.vmStats().directScanout, r.channel.directScanout);
  });

  it('says why not: a Yf-tiled modifier, an unsupported format, a Y-tiled buffer on a simple host', () => {
    const r = rig();
    assert.equal(r.channel.directScanout, undefined, 'nothing shown, no verdict');
    r.console.showScanout(buffer(4, { modifier: DRM_FORMAT_MOD.I915_Yf_TILED }));
    const yf = r.channel.directScanout!;
    assert.deepEqual([yf.direct, yf.code, yf.plane], [false, 'modifier', undefined]);
    assert.match(yf.sentence, /^direct scanout: no, modifier I915_Yf_TILED not supported by plane 31 \(primary\); /);

    r.console.showScanout(buffer(5, { drmFormat: DRM_FORMAT.C8 }));
    const c8 = r.channel.directScanout!;
    assert.deepEqual([c8.direct, c8.code], [false, 'format']);
    assert.match(c8.sentence, /format C8 not supported/);

    const simple = rig(ScanoutModel.preset('simple'));
    simple.console.showScanout(buffer(6, { modifier: DRM_FORMAT_MOD.I915_Y_TILED }));
    const y = overTheWire(simple.channel.directScanout)!;
    assert.deepEqual([y.direct, y.host, y.code], [false, 'simple', 'modifier']);
    assert.match(y.sentence, /modifier I915_Y_TILED not supported by plane 31 \(primary\)/);
  });

  it('follows the cursor: a cursor no host cursor plane takes drags the primary into composition', () => {
    const r = rig();
    r.console.showScanout(buffer(7));
    const alone = r.channel.directScanout;
    assert.equal(alone?.direct, true);
    assert.equal(r.channel.directScanout, alone, 'asked again for the same planes: the same verdict object');
    r.console.defineCursor({ buffer: buffer(8, { width: 64, height: 64, drmFormat: DRM_FORMAT.XRGB8888 }), hotX: 0, hotY: 0, hotKnown: true });
    const v = r.channel.directScanout!;
    assert.deepEqual([v.direct, v.code], [false, 'with-cursor']);
    assert.match(v.sentence, /cursor is composed .*format XRGB8888 not supported by plane 49 \(cursor\)/);
    r.console.defineCursor({ buffer: buffer(9, { width: 64, height: 64, drmFormat: DRM_FORMAT.ARGB8888 }), hotX: 1, hotY: 2, hotKnown: true });
    assert.equal(r.channel.directScanout?.direct, true, 'an ARGB8888 64x64 cursor has its own plane');
  });

  it('a bad JSON verdict from the wire is refused by the reader', () => {
    assert.equal(readDirectScanout({ directScanout: { direct: 'yes', host: 'x', sentence: 's' } }), undefined);
    assert.equal(readDirectScanout({ directScanout: null }), undefined);
    assert.equal(readDirectScanout(7), undefined);
    assert.deepEqual(readDirectScanout({ directScanout: { direct: false, host: 'h', sentence: 's', code: 3 } }),
      { direct: false, host: 'h', sentence: 's', plane: undefined, code: undefined });
  });
});

describe('VmChannel state and events', () => {
  it('builds no inspector event while nobody listens', () => {
    const r = rig();
    r.console.showScanout(buffer(1));
    r.console.moveCursor(5, 5);
    r.console.setStatus('plane-disabled', 'off');
    assert.equal(r.nows.n, 0, 'no event was built');
    const sub = r.channel.onInspect((e) => r.events.push(e));
    r.console.setStatus('ok', '');
    assert.deepEqual(r.events.map((e) => [e.kind, e.t, e.vm]), [['status', 1000, 'vm']]);
    sub.dispose();
    r.console.setStatus('plane-disabled', 'off');
    assert.equal(r.events.length, 1);
  });

  it('hands out a new snapshot on every change and the same one otherwise', () => {
    const r = rig();
    const status0 = r.channel.status;
    assert.equal(status0.code, StatusCode.NO_PLANE_YET);
    r.console.showScanout(buffer(1));
    const status1 = r.channel.status;
    assert.notEqual(status1, status0);
    assert.equal(status1.code, StatusCode.OK);
    r.console.update([{ x: 0, y: 0, width: 4, height: 4 }]);
    assert.equal(r.channel.status, status1, 'damage does not touch the status');

    const p0 = r.channel.pointer;
    r.console.moveCursor(3, 4);
    assert.notEqual(r.channel.pointer, p0);
    assert.deepEqual({ ...r.channel.pointer }, { x: 3, y: 4 });

    const c0 = r.channel.cursor;
    assert.equal(c0.shadow, undefined);
    const shape = buffer(2, { width: 64, height: 64, drmFormat: DRM_FORMAT.ARGB8888 });
    r.console.defineCursor({ buffer: shape, hotX: 1, hotY: 2, hotKnown: true });
    const c1 = r.channel.cursor;
    assert.deepEqual([c1.shadow?.remoteId, c1.hotX, c1.hotY], [2, 1, 2]);
    r.console.defineCursor({ buffer: shape, hotX: 1, hotY: 2, hotKnown: true });
    assert.notEqual(r.channel.cursor, c1, 'a define of the same shape is still a define');
    r.console.release(shape);
    assert.equal(r.channel.cursor.shadow, undefined, 'a released cursor buffer is no cursor');
  });

  it('never gives a remote id a client still claims to another buffer, and reuses it once unclaimed', () => {
    const r = rig();
    const a = buffer(5);
    r.console.showScanout(a);
    assert.equal(r.channel.primary?.remoteId, 5);
    r.channel.claimId(5);
    r.channel.claimId(5); // two clients
    const released: number[] = [];
    r.channel.onRelease((s) => released.push(s.remoteId));
    r.console.release(a);
    assert.deepEqual(released, [5]);
    assert.equal(primaryId(r.channel), undefined);
    const b = buffer(5);
    r.console.showScanout(b);
    assert.notEqual(primaryId(r.channel), 5, 'id 5 is still held by two clients');
    assert.ok(primaryId(r.channel)! >= 0x80000000);
    r.channel.unclaimId(5);
    r.console.release(b);
    const c = buffer(5);
    r.console.showScanout(c);
    assert.notEqual(primaryId(r.channel), 5, 'one client still holds 5');
    r.channel.unclaimId(5);
    r.channel.unclaimId(5); // one too many: ignored
    r.console.release(c);
    r.console.showScanout(buffer(5));
    assert.equal(primaryId(r.channel), 5);
  });

  it('counts its clients by membership handles and fires onChange once per batch', async () => {
    const r = rig();
    const m1 = r.channel.join();
    const m2 = r.channel.join();
    assert.equal(r.channel.clientCount, 2);
    m1.dispose();
    m1.dispose();
    assert.equal(r.channel.clientCount, 1);
    m2.dispose();
    assert.equal(r.channel.clientCount, 0);
    let changes = 0;
    r.channel.onChange(() => changes++);
    r.console.showScanout(buffer(1));
    r.console.moveCursor(1, 1);
    r.console.update([{ x: 0, y: 0, width: 8, height: 8 }]);
    assert.equal(changes, 0, 'batched to the end of the microtask');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(changes, 1);
    assert.deepEqual(r.channel.stats, {
      clients: 0, buffers: 1, bytesHashed: r.channel.bytesHashed, chunkCache: { entries: 0, bytes: 0, hits: 0, misses: 0 },
    });
    assert.ok(r.channel.bytesHashed >= 1024 * 768 * 4, 'the first observation hashed the whole buffer');
  });

  it('sends a flip at once when the display knows which pages were written, and hashes nothing for it', async () => {
    const r = rig();
    const a = buffer(1);
    const b = buffer(2);
    r.console.showScanout(a);
    r.console.showScanout(b);
    await new Promise((resolve) => setImmediate(resolve));
    const hashed = r.channel.bytesHashed;
    let changes = 0;
    r.channel.onChange(() => changes++);
    // Back to a known buffer, nothing written into it meanwhile (the dirty policy says so).
    r.console.showScanout(a, []);
    assert.equal(changes, 1, 'flushed inside the scanout event, not at the end of the refresh');
    assert.equal(primaryId(r.channel), 1);
    // Unknown writes: the same flip waits for the refresh's damage, so one flush sees both.
    r.console.showScanout(b);
    assert.equal(changes, 1, 'no written pages: batched to the end of the microtask');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(changes, 2);
    assert.equal(r.channel.bytesHashed - hashed, 1024 * 768 * 4, 'only the flip without written pages was compared');
  });
});
