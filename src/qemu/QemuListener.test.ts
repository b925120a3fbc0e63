import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DisplayConsole } from '../display/DisplayConsole.ts';
import type { DisplayBuffer, Rect } from '../display/DisplayBuffer.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { libc, MFD_CLOEXEC } from '../linux/Libc.ts';
import { DbusConnection, DbusError, ERR } from './dbus/DbusConnection.ts';
import type { Variant } from './dbus/DbusWire.ts';
import { UnixSocket, socketPair } from './dbus/UnixSocket.ts';
import { DMABUF2_IFACE, LISTENER_IFACE, LISTENER_PATH, MAP_IFACE, QemuListener } from './QemuListener.ts';
import { waitFor } from '../testkit/node/QemuProcess.ts';
import { dmabufScenario } from '../testkit/node/DmabufScenario.ts';
import { memfdFramebuffers } from '../testkit/node/GuestFramebuffers.ts';
import { QemuDisplayDouble } from '../testkit/node/QemuDisplayDouble.ts';

const X8R8G8B8 = 0x20020888;
const openFds = (): number => readdirSync('/proc/self/fd').length;

/** A memfd of `size` bytes, every 32-bit pixel = `pixel`. */
function memfd(size: number, pixel: number): number {
  const c = libc();
  const fd = c.memfdCreate('frame', MFD_CLOEXEC);
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, pixel, true);
  for (let i = 4; i < size; i += 4) b.copyWithin(i, 0, 4);
  c.write(fd, b, size);
  return fd;
}

/**
 * A test double of QEMU's side: the SASL server on the listener socketpair, calling the listener
 * as QEMU's dbus-listener.c does (7.2 methods plus the newer Unix.Map and ScanoutDMABUF2).
 */
async function rig(): Promise<{ qemu: DbusConnection; listener: QemuListener; console: DisplayConsole; close(): void }> {
  const console = new DisplayConsole();
  const listener = new QemuListener(console);
  const [a, b] = socketPair();
  const [ours, qemu] = await Promise.all([
    DbusConnection.open(new UnixSocket(a), 'client', { setup: (c) => listener.serveOn(c) }),
    DbusConnection.open(new UnixSocket(b), 'server'),
  ]);
  return { qemu, listener, console, close: () => { qemu.close(); ours.close(); listener.dispose(); console.dispose(); } };
}

function call(c: DbusConnection, iface: string, member: string, signature: string, body: unknown[]): Promise<unknown> {
  return c.call({ path: LISTENER_PATH, interface: iface, member, signature, body });
}

describe('QemuListener (a QEMU test double on a socketpair)', () => {
  it('answers GetAll with its Interfaces, copies Scanout/Update once and counts it', async () => {
    const r = await rig();
    try {
      const all = await r.qemu.call({ path: LISTENER_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [LISTENER_IFACE] });
      const props = new Map((all.body[0] as [string, Variant][]).map(([k, v]) => [k, v.value]));
      assert.deepEqual(props.get('Interfaces'), [MAP_IFACE, DMABUF2_IFACE]);
      const px = new Uint8Array(8 * 4 * 4).fill(0x11);
      await call(r.qemu, LISTENER_IFACE, 'Scanout', 'uuuuay', [8, 4, 32, X8R8G8B8, px]);
      const b = r.console.scanout!;
      assert.deepEqual([b.width, b.height, b.stride, b.drmFormat, b.kind], [8, 4, 32, DRM_FORMAT.XRGB8888, 'region']);
      const rects: Rect[] = [];
      r.console.onUpdate((u) => rects.push(...u));
      await call(r.qemu, LISTENER_IFACE, 'Update', 'iiiiuuay', [2, 1, 2, 2, 8, X8R8G8B8, new Uint8Array(16).fill(0xee)]);
      assert.deepEqual(rects, [{ x: 2, y: 1, width: 2, height: 2 }]);
      const bytes = b.mapping.chunks[0]!;
      assert.equal(bytes[1 * 32 + 2 * 4], 0xee, 'the update landed in place');
      assert.equal(bytes[0], 0x11, 'the rest is the scanout');
      assert.equal(r.listener.stats.bytesCopied, 128 + 16);
    } finally {
      r.close();
    }
  });

  it('ScanoutMap maps the memfd (zero copy), deduplicates by inode, UpdateMap damages, release closes', async () => {
    const fds0 = openFds();
    const r = await rig();
    const released: DisplayBuffer[] = [];
    r.console.onRelease((b) => released.push(b));
    const size = 64 * 32 * 4;
    const fa = memfd(size, 0x00ff0000);
    const fb = memfd(size, 0x0000ff00);
    try {
      await call(r.qemu, MAP_IFACE, 'ScanoutMap', 'huuuuu', [fa, 0, 64, 32, 256, X8R8G8B8]);
      const a = r.console.scanout!;
      assert.equal(a.kind, 'dmabuf', 'shown in place');
      assert.equal(new DataView(a.mapping.chunks[0]!.buffer, a.mapping.chunks[0]!.byteOffset).getUint32(0, true), 0x00ff0000, 'reads the memfd');
      await call(r.qemu, MAP_IFACE, 'ScanoutMap', 'huuuuu', [fb, 0, 64, 32, 256, X8R8G8B8]);
      const dup = libc().fcntl(fa, 1030, 0);
      await call(r.qemu, MAP_IFACE, 'ScanoutMap', 'huuuuu', [dup, 0, 64, 32, 256, X8R8G8B8]);
      libc().close(dup);
      assert.equal(r.console.scanout, a, 'another fd of the same memfd is the same buffer: no new mapping');
      assert.deepEqual([r.listener.stats.sharedMapped, r.listener.stats.sharedReused, r.listener.stats.bytesCopied], [2, 1, 0]);
      // The guest writes, QEMU says where.
      libc().pwrite(fa, new Uint8Array([1, 2, 3, 4]), 4, 256 * 5);
      const rects: Rect[] = [];
      r.console.onUpdate((u) => rects.push(...u));
      await call(r.qemu, MAP_IFACE, 'UpdateMap', 'iiii', [0, 5, 1, 1]);
      assert.deepEqual(rects, [{ x: 0, y: 5, width: 1, height: 1 }]);
      assert.equal(a.mapping.chunks[0]![256 * 5], 1, 'a shared mapping sees the write');
      // Bottom-up dma-buf: flipped into a counted copy.
      const fc = memfd(size, 0x12345678);
      await call(r.qemu, LISTENER_IFACE, 'ScanoutDMABUF', 'huuuutb', [fc, 64, 32, 256, DRM_FORMAT.XRGB8888, 0n, false]);
      libc().close(fc);
      assert.equal(r.console.scanout!.kind, 'region');
      assert.equal(r.listener.stats.bytesCopied, size, 'the flip copy is counted');
      const fd2 = memfd(size, 0x01020304);
      await call(r.qemu, DMABUF2_IFACE, 'ScanoutDMABUF2', 'ahuuuuauauuuuutb', [[fd2], 0, 0, 64, 32, [0], [256], 1, DRM_FORMAT.XRGB8888, 64, 32, 0n, true]);
      libc().close(fd2);
      assert.equal(r.console.scanout!.kind, 'dmabuf');
    } finally {
      libc().close(fa);
      libc().close(fb);
      r.close();
    }
    assert.ok(released.length >= 3, `shared buffers released on dispose (${released.length})`);
    await waitFor(() => openFds() <= fds0, 'every fd and mapping closed', 10_000);
  });

  it('ScanoutDMABUF with memfds: dedup by inode, flips map nothing new, pixels through the mmap, Disable/new mode/disconnect release', async () => {
    // The same scenario runs with real dma-bufs (udmabuf) in the kernel suite's VM.
    await dmabufScenario(memfdFramebuffers, (cond, what) => assert.ok(cond, what));
  });

  it('a bottom-up dma-buf (y0_top false): its top-down copy follows UpdateDMABUF and a re-show, counted', async () => {
    const con = new DisplayConsole();
    const listener = new QemuListener(con);
    const qemu = await QemuDisplayDouble.connect(listener);
    const [w, h, stride] = [8, 4, 32];
    const a = memfdFramebuffers.create(4096);
    const b = memfdFramebuffers.create(4096);
    const row = (v: number): Uint8Array => new Uint8Array(stride).fill(v);
    const rows = (): number[] => [0, 1, 2, 3].map((r) => con.scanout!.mapping.chunks[0]![r * stride]!);
    try {
      for (let r = 0; r < h; r++) a.write(row(r + 1), r * stride); // memory rows 1, 2, 3, 4: bottom-up
      await qemu.scanoutDmabuf(a.fd, w, h, stride, DRM_FORMAT.XRGB8888, false);
      assert.deepEqual(rows(), [4, 3, 2, 1], 'shown top-down');
      assert.equal(listener.stats.bytesCopied, w * h * 4);
      a.write(row(9), 0); // the bottom screen row
      await qemu.updateDmabuf(0, 3, w, 1);
      assert.deepEqual(rows(), [4, 3, 2, 9], 'the damaged row is flipped again');
      assert.equal(listener.stats.bytesCopied, (h + 1) * stride, 'one more row copied, counted');
      await qemu.scanoutDmabuf(b.fd, w, h, stride, DRM_FORMAT.XRGB8888, false);
      a.write(row(7), 3 * stride); // the top screen row, while A is not shown
      await qemu.scanoutDmabuf(a.fd, w, h, stride, DRM_FORMAT.XRGB8888, false);
      assert.deepEqual(rows(), [7, 3, 2, 9], 'a re-show flips the whole buffer again');
      assert.equal(listener.stats.sharedMapped, 2, 'A was found, not mapped again');
    } finally {
      qemu.dispose();
      listener.dispose();
      con.dispose();
      a.close();
      b.close();
    }
  });

  it('refuses malformed calls from a hostile QEMU with D-Bus errors, closes stray fds, keeps serving', async () => {
    const fds0 = openFds();
    const r = await rig();
    try {
      const refused = async (p: Promise<unknown>, re: RegExp): Promise<void> => {
        await assert.rejects(p, (e: DbusError) => e.name === ERR.InvalidArgs && re.test(e.message));
      };
      await refused(call(r.qemu, LISTENER_IFACE, 'Scanout', 'uuuus', [8, 4, 32, X8R8G8B8, 'x']), /takes 'uuuuay'/);
      await refused(call(r.qemu, LISTENER_IFACE, 'Scanout', 'uuuuay', [8, 4, 32, X8R8G8B8, new Uint8Array(10)]), /short/);
      await refused(call(r.qemu, LISTENER_IFACE, 'Scanout', 'uuuuay', [100000, 100000, 400000, X8R8G8B8, new Uint8Array(4)]), /out of range/);
      await refused(call(r.qemu, LISTENER_IFACE, 'Scanout', 'uuuuay', [8, 4, 32, 0x12345678, new Uint8Array(128)]), /pixman format/);
      await refused(call(r.qemu, LISTENER_IFACE, 'CursorDefine', 'iiiiay', [4096, 4096, 0, 0, new Uint8Array(4)]), /cursor/);
      const small = memfd(4096, 0);
      await refused(call(r.qemu, MAP_IFACE, 'ScanoutMap', 'huuuuu', [small, 0, 640, 480, 2560, X8R8G8B8]), /short/);
      // An fd where none belongs: Update takes no fd.
      await assert.rejects(r.qemu.call({ path: LISTENER_PATH, interface: LISTENER_IFACE, member: 'Disable', signature: 'h', body: [small] }), (e: DbusError) => e.name === ERR.InvalidArgs);
      libc().close(small);
      // Update before any Scanout: not shown, reported as out of bounds (7.2's resize signal).
      let oob = 0;
      r.listener.onOutOfBounds(() => oob++);
      await call(r.qemu, LISTENER_IFACE, 'Update', 'iiiiuuay', [0, 0, 2, 2, 8, X8R8G8B8, new Uint8Array(16)]);
      assert.equal(oob, 1);
      assert.equal(r.console.scanout, undefined, 'nothing shown from bad calls');
      assert.equal(r.listener.stats.refused, 5, 'refusals are counted');
      await call(r.qemu, LISTENER_IFACE, 'Scanout', 'uuuuay', [8, 4, 32, X8R8G8B8, new Uint8Array(128)]);
      assert.ok(r.console.scanout, 'still serving after the garbage');
      // CursorDefine + MouseSet: ARGB cursor, position = pointer minus hotspot.
      await call(r.qemu, LISTENER_IFACE, 'CursorDefine', 'iiiiay', [16, 16, 3, 4, new Uint8Array(16 * 16 * 4).fill(0xff)]);
      await call(r.qemu, LISTENER_IFACE, 'MouseSet', 'iii', [100, 50, 1]);
      assert.deepEqual([r.console.cursor.buffer?.drmFormat, r.console.cursor.hotX, r.console.cursor.hotY], [DRM_FORMAT.ARGB8888, 3, 4]);
      assert.deepEqual(r.console.cursorPosition, { x: 97, y: 46 });
      await call(r.qemu, LISTENER_IFACE, 'MouseSet', 'iii', [100, 50, 0]);
      assert.equal(r.console.cursor.buffer, null, 'MouseSet on=0 hides the cursor');
      await call(r.qemu, LISTENER_IFACE, 'Disable', '', []);
      assert.equal(r.console.status.reason, 'plane-disabled');
    } finally {
      r.close();
    }
    await waitFor(() => openFds() <= fds0, 'no fd left behind', 10_000);
  });
});
