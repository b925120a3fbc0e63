import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../base/Clock.ts';
import { DisplayConsole } from '../display/DisplayConsole.ts';
import { emulatedPageResolver } from '../display/EmulatedPages.ts';
import { VfioDisplay } from '../display/VfioDisplay.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import type { DisplayBuffer } from '../display/DisplayBuffer.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { Msg, decodeServerMessage, isProtocolError, type ServerMessage } from '../protocol/RemoteProtocol.ts';
import { BLOCK_SIZE, BufferShadow } from './BufferShadow.ts';
import { RemoteMirror, type MirrorOptions } from './RemoteMirror.ts';
import { MAX_CHUNK_BYTES, NO_BUFFER, VmChannel } from './VmChannel.ts';
import type { LabVm } from './VmRegistry.ts';
import { GvtGuest, type GuestBuffer } from '../testkit/GvtGuest.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';

/** A buffer backed by a plain array (optionally split into chunks like a scattered dma-buf). */
function buffer(id: number, width: number, height: number, opts: { chunks?: number; modifier?: bigint; kind?: 'dmabuf' | 'region' } = {}): DisplayBuffer & { bytes: Uint8Array } {
  const stride = width * 4;
  const size = stride * height;
  const bytes = new Uint8Array(size);
  const n = opts.chunks ?? 1;
  const per = Math.ceil(size / n / BLOCK_SIZE) * BLOCK_SIZE;
  const chunks: Uint8Array[] = [];
  const chunkOffsets: number[] = [];
  for (let o = 0; o < size; o += per) {
    chunks.push(bytes.subarray(o, Math.min(size, o + per)));
    chunkOffsets.push(o);
  }
  return {
    id, fd: -1, kind: opts.kind ?? 'dmabuf', planeType: 1, drmFormat: DRM_FORMAT.XRGB8888,
    modifier: opts.modifier ?? DRM_FORMAT_MOD.LINEAR, width, height, stride, size, bytes,
    mapping: { length: size, chunks, chunkOffsets, unmap: () => {} },
  };
}

function vmOf(console: DisplayConsole): LabVm {
  return { name: 'vm', kind: 'test', display: { console } };
}

/** A transport that holds every message until the test says it was written. */
class HeldTransport {
  public readonly sent: ServerMessage[] = [];
  public readonly raw: Uint8Array[] = [];
  public readonly pending: Array<() => void> = [];
  public auto = true;

  public send(bytes: Uint8Array, done: () => void): void {
    const m = decodeServerMessage(bytes);
    if (isProtocolError(m)) assert.fail(`undecodable message: ${m.error}`);
    this.sent.push(m);
    this.raw.push(bytes);
    if (this.auto) queueMicrotask(done);
    else this.pending.push(done);
  }

  public drain(): void {
    for (const d of this.pending.splice(0)) d();
  }

  public types(from = 0): Msg[] {
    return this.sent.slice(from).map((m) => m.type);
  }
}

async function tick(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

function rig(options: MirrorOptions = {}): { console: DisplayConsole; channel: VmChannel; t: HeldTransport; mirror: RemoteMirror } {
  const console = new DisplayConsole();
  const channel = new VmChannel(vmOf(console));
  const t = new HeldTransport();
  const mirror = new RemoteMirror(t, options);
  return { console, channel, t, mirror };
}

describe('BufferShadow', () => {
  it('notices a one-word change in any block, and nothing when nothing changed', () => {
    const b = buffer(1, 64, 64, { chunks: 4 });
    const s = new BufferShadow(b, 1);
    assert.equal(s.scan(), s.blocks, 'first observation: every block is new');
    s.markAll();
    assert.equal(s.scan(), 0);
    for (const at of [0, 4, 4096 + 2, b.size - 1]) {
      b.bytes[at]! ^= 0x80;
      s.markAll();
      const before = [...s.version];
      assert.equal(s.scan(), 1, `change at ${at}`);
      const changed = before.flatMap((v, i) => (v !== s.version[i] ? [i] : []));
      assert.deepEqual(changed, [Math.floor(at / BLOCK_SIZE)]);
    }
  });

  it('a read observes the bytes it copies, so a write undone later is still resent', () => {
    const b = buffer(1, 1024, 2);
    const s = new BufferShadow(b, 1);
    s.scan();
    const v0 = s.version[0]!;
    b.bytes[10] = 7; // the guest writes after the scan...
    const dst = new Uint8Array(BLOCK_SIZE);
    s.read(0, 1, dst, 0); // ...the server sends those bytes...
    assert.equal(dst[10], 7);
    const v1 = s.version[0]!;
    assert.notEqual(v1, v0, 'the version moved with the bytes sent');
    b.bytes[10] = 0; // ...and the guest undoes the write
    s.markAll();
    assert.equal(s.scan(), 1, 'the undo differs from what was sent');
    assert.notEqual(s.version[0], v1);
  });

  it('hashes the same bytes the same whether read as words or bytes (unaligned chunks)', () => {
    const backing = new Uint8Array(2 * BLOCK_SIZE + 8);
    const view = backing.subarray(1, 1 + 2 * BLOCK_SIZE); // not word-aligned: the byte path
    for (let i = 0; i < view.length; i++) view[i] = (i * 7) & 0xff;
    const b = { ...buffer(3, 256, 8), mapping: { length: view.length, chunks: [view], chunkOffsets: [0], unmap: () => {} } };
    const s = new BufferShadow(b, 3);
    s.scan();
    const before = [...s.version];
    const dst = new Uint8Array(2 * BLOCK_SIZE); // aligned: the word path
    s.read(0, 2, dst, 0);
    assert.deepEqual([...s.version], before, 'same bytes, same hash, same version');
    assert.deepEqual(dst, view);
  });

  it('maps damage rectangles to rows (linear) and whole tile rows (X-tiled)', () => {
    const lin = new BufferShadow(buffer(1, 1024, 16), 1);
    lin.scan();
    lin.buffer.mapping.chunks[0]!.fill(1);
    lin.markRect({ x: 5, y: 3, width: 2, height: 2 });
    assert.equal(lin.scan(), 2, 'rows 3 and 4 only (one block each)');
    const x = new BufferShadow(buffer(2, 128, 32, { modifier: DRM_FORMAT_MOD.I915_X_TILED }), 2);
    x.scan();
    x.buffer.mapping.chunks[0]!.fill(1);
    x.markRect({ x: 0, y: 9, width: 1, height: 1 });
    assert.equal(x.scan(), 1, 'one X tile row of a 512-byte stride is one 4 KiB block');
  });
});

describe('RemoteMirror', () => {
  it('creates, fills and shows a buffer, sending no zero blocks', async () => {
    const r = rig();
    const b = buffer(7, 1024, 8);
    b.bytes.fill(9, 3 * 4096, 5 * 4096);
    r.console.showScanout(b);
    r.mirror.attach(r.channel);
    await tick();
    assert.deepEqual(r.t.types().filter((m) => m !== Msg.STATUS), [Msg.BUFFER_CREATE, Msg.BUFFER_DATA, Msg.SCANOUT]);
    const data = r.t.sent.find((m) => m.type === Msg.BUFFER_DATA)!;
    assert.ok(data.type === Msg.BUFFER_DATA);
    assert.deepEqual([data.offset, data.bytes.byteLength], [3 * 4096, 2 * 4096]);
  });

  it('never queues more than its bound, and coalesces damage while the client is stuck', async () => {
    const console = new DisplayConsole();
    const channel = new VmChannel(vmOf(console));
    const t = new HeldTransport();
    t.auto = false;
    const bound = 512 * 1024;
    const mirror = new RemoteMirror(t, { maxQueuedBytes: bound });
    const b = buffer(1, 1024, 768, { chunks: 3 });
    b.bytes.fill(1);
    console.showScanout(b);
    mirror.attach(channel);
    await tick();
    assert.ok(mirror.queuedBytes >= bound && mirror.queuedBytes <= bound + MAX_CHUNK_BYTES + 64, `${mirror.queuedBytes}`);
    const sentWhileStuck = t.sent.length;
    for (let i = 0; i < 50; i++) {
      b.bytes.fill(i + 2);
      console.update([{ x: 0, y: 0, width: 1024, height: 768 }]);
      await tick();
      assert.ok(mirror.queuedBytes <= bound + MAX_CHUNK_BYTES + 64);
    }
    assert.equal(t.sent.length, sentWhileStuck, 'nothing more was queued while stuck');
    // Unstick: the client ends with exactly the last content, not 50 frames of history.
    const client = new Uint8Array(b.size);
    for (let guard = 0; guard < 1000 && t.pending.length > 0; guard++) {
      t.drain();
      await tick();
    }
    for (const m of t.sent) if (m.type === Msg.BUFFER_DATA) client.set(m.bytes, m.offset);
    assert.deepEqual(client, b.bytes);
    const dataBytes = t.sent.reduce((n, m) => n + (m.type === Msg.BUFFER_DATA ? m.bytes.byteLength : 0), 0);
    assert.ok(dataBytes <= 3 * b.size, `sent ${dataBytes} bytes for 51 versions of a ${b.size}-byte buffer`);
  });

  it('gives a reused id a fresh remote id and releases the old one after the flip', async () => {
    const r = rig();
    const old = buffer(5, 64, 64, { kind: 'region' });
    old.bytes.fill(1);
    r.console.showScanout(old);
    r.mirror.attach(r.channel);
    await tick();
    const from = r.t.sent.length;
    const next = buffer(5, 128, 64, { kind: 'region' }); // a mode change: same region index
    next.bytes.fill(2);
    r.console.showScanout(next);
    r.console.release(old);
    await tick();
    const msgs = r.t.sent.slice(from).filter((m) => m.type !== Msg.STATUS);
    const create = msgs.find((m) => m.type === Msg.BUFFER_CREATE);
    assert.ok(create?.type === Msg.BUFFER_CREATE);
    assert.ok(create.id !== 5 && create.id !== NO_BUFFER, 'a fresh remote id: 5 is still held by the client');
    const order = msgs.map((m) => (m.type === Msg.BUFFER_DATA ? 'DATA' : m.type === Msg.SCANOUT ? `SCANOUT ${m.id}` : m.type === Msg.BUFFER_RELEASE ? `RELEASE ${m.id}` : m.type === Msg.BUFFER_CREATE ? 'CREATE' : String(m.type)));
    assert.deepEqual(order.filter((x) => x !== 'DATA'), ['CREATE', `SCANOUT ${create.id}`, 'RELEASE 5']);
    // A device id equal to NO_BUFFER (0) is never used as a remote id.
    const zero = buffer(NO_BUFFER, 64, 64);
    r.console.showScanout(zero);
    await tick();
    const z = r.t.sent.filter((m) => m.type === Msg.BUFFER_CREATE).at(-1)!;
    assert.ok(z.type === Msg.BUFFER_CREATE && z.id !== NO_BUFFER);
  });

  it('a switch to another VM parks the first: a switch back resends only what changed', async () => {
    const r = rig();
    const b = buffer(5, 64, 64);
    b.bytes.fill(3);
    r.console.showScanout(b);
    r.mirror.attach(r.channel);
    await tick();
    const other = new DisplayConsole();
    const b2 = buffer(6, 64, 64);
    b2.bytes.fill(4);
    other.showScanout(b2);
    const otherChannel = new VmChannel(vmOf(other));
    let from = r.t.sent.length;
    r.mirror.attach(otherChannel);
    await tick();
    assert.ok(!r.t.types(from).includes(Msg.BUFFER_RELEASE), 'the first VM\'s buffer stays on the client');
    const created = r.t.sent.slice(from).find((m) => m.type === Msg.BUFFER_CREATE);
    assert.ok(created !== undefined && created.id === 6);
    assert.equal(r.channel.clientCount, 1, 'the parked channel is kept');
    // Back: one row changed meanwhile; only that block and a SCANOUT go out.
    b.bytes.fill(9, 0, 64 * 4);
    r.console.update([{ x: 0, y: 0, width: 64, height: 1 }]);
    from = r.t.sent.length;
    r.mirror.attach(r.channel);
    await tick();
    const back = r.t.sent.slice(from);
    assert.ok(!back.some((m) => m.type === Msg.BUFFER_CREATE), 'nothing recreated');
    const data = back.filter((m) => m.type === Msg.BUFFER_DATA).reduce((n, m) => n + (m as { bytes: Uint8Array }).bytes.byteLength, 0);
    assert.ok(data <= 4096, `resent ${data} of ${b.bytes.byteLength} bytes`);
    assert.ok(back.some((m) => m.type === Msg.SCANOUT && m.id === 5));
    assert.equal(otherChannel.clientCount, 1, 'now the other one is parked');
    // A plain detach releases everything the client holds, parked or not.
    from = r.t.sent.length;
    r.mirror.detach();
    r.mirror.forgetVm(otherChannel.vm);
    await tick();
    const released = r.t.sent.slice(from).filter((m) => m.type === Msg.BUFFER_RELEASE).map((m) => m.id).sort();
    assert.deepEqual(released, [5, 6]);
    assert.equal(r.channel.clientCount, 0);
    assert.equal(otherChannel.clientCount, 0);
  });

  it('a parked buffer whose id the new VM uses is released before that id is created', async () => {
    const r = rig();
    r.console.showScanout(buffer(5, 64, 64));
    r.mirror.attach(r.channel);
    await tick();
    const other = new DisplayConsole();
    other.showScanout(buffer(5, 64, 64));
    const otherChannel = new VmChannel(vmOf(other));
    await tick();
    const from = r.t.sent.length;
    r.mirror.attach(otherChannel);
    await tick();
    const types = r.t.types(from).filter((m) => m !== Msg.STATUS);
    assert.deepEqual(types.slice(0, 2), [Msg.BUFFER_RELEASE, Msg.BUFFER_CREATE]);
    assert.equal(r.channel.clientCount, 0, 'nothing left to keep: the first VM is let go');
  });

  it('a parked VM expires: its buffers are released and its channel let go', async () => {
    const left: unknown[] = [];
    const r = rig({ parkMs: 20, left: (ch) => left.push(ch) });
    r.console.showScanout(buffer(5, 64, 64));
    r.mirror.attach(r.channel);
    await tick();
    const other = new DisplayConsole();
    other.showScanout(buffer(6, 64, 64));
    r.mirror.attach(new VmChannel(vmOf(other)));
    await tick();
    const from = r.t.sent.length;
    while (left.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(left, [r.channel]);
    await tick();
    assert.deepEqual(r.t.sent.slice(from).filter((m) => m.type === Msg.BUFFER_RELEASE).map((m) => m.id), [5]);
    assert.equal(r.channel.clientCount, 0);
  });

  it('cursor: bytes, then define; a hidden cursor is defined as NO_BUFFER', async () => {
    const r = rig();
    r.console.showScanout(buffer(1, 64, 64));
    const cur = buffer(2, 64, 64);
    cur.bytes.fill(0xff, 0, 256);
    r.console.defineCursor({ buffer: cur, hotX: 1, hotY: 2, hotKnown: true });
    r.console.moveCursor(5, 6);
    r.mirror.attach(r.channel);
    await tick();
    const types = r.t.types();
    const def = types.indexOf(Msg.CURSOR_DEFINE);
    assert.ok(types.indexOf(Msg.CURSOR_MOVE) < def, 'a move overtakes pixel data');
    const cursorData = r.t.sent.findIndex((m) => m.type === Msg.BUFFER_DATA && m.id === 2);
    assert.ok(cursorData >= 0 && cursorData < def);
    r.console.defineCursor({ buffer: null, hotX: 0, hotY: 0, hotKnown: false });
    await tick();
    const last = r.t.sent.at(-1)!;
    assert.ok(last.type === Msg.CURSOR_DEFINE && last.id === NO_BUFFER);
  });

  it('paces damage by ACK once the client acknowledges frames', async () => {
    const console = new DisplayConsole();
    const channel = new VmChannel(vmOf(console));
    const t = new HeldTransport();
    const mirror = new RemoteMirror(t, { ackWindow: 2 });
    const b = buffer(1, 1024, 4);
    console.showScanout(b);
    mirror.attach(channel);
    await tick();
    const frames = (): number => t.sent.filter((m) => m.type === Msg.FRAME).length;
    for (let i = 1; i <= 6; i++) {
      b.bytes[0] = i;
      console.update([{ x: 0, y: 0, width: 1, height: 1 }]);
      await tick();
      if (i === 1) assert.ok(mirror.ack(1));
    }
    assert.equal(frames(), 3, 'ack 1 + a window of 2');
    assert.equal(mirror.ack(99), false, 'an ACK for a frame never sent');
    assert.ok(mirror.ack(3));
    await tick();
    assert.equal(frames(), 4, 'the held damage went out as one FRAME');
    const lastData = t.sent.filter((m) => m.type === Msg.BUFFER_DATA).at(-1)!;
    assert.ok(lastData.type === Msg.BUFFER_DATA && lastData.bytes[0] === 6, 'with the latest bytes');
  });
});

describe('a flip under the dirty policy', () => {
  /** A gvt guest flipping two 1024×768 buffers, our display client (dirty policy), one mirror. */
  async function flipRig() {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('gvt', { ramBytes: 16 * 1024 * 1024 });
    const guest = new GvtGuest(vgpu);
    const fd = host.openDevice(vgpu.uuid);
    assert.ok(fd >= 0, `open: ${fd}`);
    const clock = new VirtualClock();
    const display = new VfioDisplay(host.kernel, fd, {
      clock, policy: 'dirty', intervalMs: 16, dirtyLog: vgpu.dirtyLog, pageResolver: emulatedPageResolver(host.kernel),
    });
    const a = guest.alloc({ width: 1024, height: 768 });
    const b = guest.alloc({ width: 1024, height: 768 });
    guest.fillRect(a, 0, 0, 1024, 768, 0xff102030);
    guest.fillRect(b, 0, 0, 1024, 768, 0xff405060);
    guest.showPrimary(a);
    guest.vblank();
    display.start();
    const channel = new VmChannel({ name: 'vm', kind: 'gvt', display });
    const t = new HeldTransport();
    const mirror = new RemoteMirror(t);
    mirror.attach(channel);
    await tick();
    const client = new Map<number, Uint8Array>();
    let shown = NO_BUFFER;
    let seen = 0;
    /** Apply what was sent since the last call to the client's buffers. */
    const receive = (): void => {
      for (const m of t.sent.slice(seen)) {
        if (m.type === Msg.BUFFER_CREATE) client.set(m.id, new Uint8Array(m.size));
        else if (m.type === Msg.BUFFER_DATA) client.get(m.id)!.set(m.bytes, m.offset);
        else if (m.type === Msg.SCANOUT) shown = m.id;
      }
      seen = t.sent.length;
    };
    const flipTo = async (buf: GuestBuffer): Promise<void> => {
      guest.flip(buf);
      guest.vblank();
      clock.advance(0); // the display IRQ's refresh
      await tick();
      receive();
    };
    const guestBytes = (buf: GuestBuffer): Uint8Array =>
      guest.memory.bytes.subarray(buf.pages[0]! * PAGE_SIZE, buf.pages[0]! * PAGE_SIZE + buf.size);
    receive();
    // Sync both buffers on the client: flip to b, then back to a.
    await flipTo(b);
    await flipTo(a);
    const idOf = (buf: GuestBuffer): number => {
      const id = [...client.keys()].find((k) => channel.shadow(k)?.buffer.mapping.chunks[0]?.byteOffset === buf.pages[0]! * PAGE_SIZE);
      assert.ok(id !== undefined, 'the client holds the buffer');
      return id;
    };
    return {
      guest, clock, display, channel, mirror, t, a, b, client, flipTo, guestBytes, idOf,
      shown: () => shown,
      sentSince: (from: number) => t.sent.slice(from),
      dispose: () => {
        mirror.close();
        channel.dispose();
        display.dispose();
        host.kernel.close(fd);
      },
    };
  }

  it('sends exactly the blocks the guest wrote into the back buffer, hashing nothing', async () => {
    const r = await flipRig();
    assert.equal(r.shown(), r.idOf(r.a));
    assert.deepEqual(r.client.get(r.idOf(r.b)), r.guestBytes(r.b), 'b is synced before the test');
    const idB = r.idOf(r.b);
    const hashed0 = r.channel.bytesHashed;
    const from = r.t.sent.length;
    // A typed character in the back buffer: rows 48..63, one 4 KiB block (page) per row.
    r.guest.drawGlyphCell(r.b, 10, 3);
    await r.flipTo(r.b);
    const msgs = r.sentSince(from);
    const data = msgs.filter((m) => m.type === Msg.BUFFER_DATA);
    const blocks = data.flatMap((m) => {
      assert.ok(m.type === Msg.BUFFER_DATA && m.id === idB);
      return Array.from({ length: m.bytes.byteLength / BLOCK_SIZE }, (_, k) => m.offset / BLOCK_SIZE + k);
    });
    assert.deepEqual(blocks, [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63], 'the written blocks, nothing else');
    assert.equal(msgs.at(-1)?.type, Msg.SCANOUT);
    assert.equal(r.shown(), idB);
    assert.equal(r.channel.bytesHashed - hashed0, 0, 'no block was hashed: no scan of the 3 MiB buffer');
    assert.deepEqual(r.client.get(idB), r.guestBytes(r.b), 'the client has exactly the guest\'s bytes');

    // A flip with nothing drawn: one SCANOUT, nothing read.
    const from2 = r.t.sent.length;
    await r.flipTo(r.a);
    assert.deepEqual(r.sentSince(from2).map((m) => m.type), [Msg.SCANOUT]);
    assert.equal(r.channel.bytesHashed - hashed0, 0);
    r.dispose();
  });

  it('sends a wholly redrawn buffer once, hashing it never; writes after the send come back', async () => {
    const r = await flipRig();
    const idB = r.idOf(r.b);
    const hashed0 = r.channel.bytesHashed;
    const sent0 = r.mirror.stats.dataBytes;
    r.guest.fillRect(r.b, 0, 0, 1024, 768, 0xff778899);
    await r.flipTo(r.b);
    assert.equal(r.shown(), idB);
    assert.equal(r.mirror.stats.dataBytes - sent0, 1024 * 768 * 4 + Math.ceil(768 / 64) * 9, 'every block once');
    assert.equal(r.channel.bytesHashed - hashed0, 0, 'sent without hashing');
    assert.deepEqual(r.client.get(idB), r.guestBytes(r.b));
    // The bytes went out unhashed; a write into the shown buffer is still seen (dirty tick).
    r.guest.fillRect(r.b, 5, 700, 1, 1, 0xff000001);
    r.clock.advance(16);
    await tick();
    const frames = r.t.sent.filter((m) => m.type === Msg.FRAME);
    assert.ok(frames.length > 0, 'the write became a FRAME');
    for (const m of r.t.sent) if (m.type === Msg.BUFFER_DATA && m.id === idB) r.client.get(idB)!.set(m.bytes, m.offset);
    assert.deepEqual(r.client.get(idB), r.guestBytes(r.b), 'the late write reached the client');
    // Hashes stay available for comparing blocks: taken lazily, one block costs one block.
    const s = r.channel.shadow(idB)!;
    assert.equal(s.hashed(0), false);
    const h = [s.hashLow(0), s.hashHigh(0)];
    assert.equal(r.channel.bytesHashed - hashed0, BLOCK_SIZE);
    assert.deepEqual([s.hashLow(1), s.hashHigh(1)], h, 'equal blocks (rows 0 and 1), equal hashes');
    assert.equal(r.channel.bytesHashed - hashed0, 2 * BLOCK_SIZE);
    assert.notDeepEqual([s.hashLow(700), s.hashHigh(700)], h, 'row 700 holds the late write');
    r.dispose();
  });
});
