import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RealClock, VirtualClock } from '../base/Clock.ts';
import { Errno } from '../base/Errno.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import {
  VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_QUERY_GFX_PLANE,
  VFIO_GFX_PLANE_TYPE_PROBE,
} from '../vfio/Abi.ts';
import { EmulatedHost, type Vgpu } from '../vfio/EmulatedHost.ts';
import type { Sys } from '../vfio/Sys.ts';
import { dispiOffset, DISPI, DISPI_ENABLE } from '../vgpu/bochs/BochsRegisters.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { PLANE_FORMAT, PLANE_TILING } from '../vgpu/gvt/GvtRegisters.ts';
import type { CursorPosition, CursorShape, DisplayStatus } from './DisplayConsole.ts';
import type { DisplayBuffer, Rect } from './DisplayBuffer.ts';
import { emulatedPageResolver } from './EmulatedPages.ts';
import { FaultSys } from '../testkit/FaultSys.ts';
import { GvtGuest, type GuestBuffer } from '../testkit/GvtGuest.ts';
import { VfioDisplay, type VfioDisplayOptions } from './VfioDisplay.ts';

interface Log {
  scanouts: DisplayBuffer[];
  updates: (readonly Rect[])[];
  statuses: DisplayStatus[];
  releases: DisplayBuffer[];
  cursors: CursorShape[];
  moves: CursorPosition[];
  resizes: { width: number; height: number }[];
}

interface Rig {
  host: EmulatedHost;
  vgpu: Vgpu;
  guest: GvtGuest;
  clock: VirtualClock;
  display: VfioDisplay;
  fd: number;
  log: Log;
  sys: Sys;
}

function watch(display: VfioDisplay): Log {
  const log: Log = { scanouts: [], updates: [], statuses: [], releases: [], cursors: [], moves: [], resizes: [] };
  const c = display.console;
  c.onScanout((b) => log.scanouts.push(b));
  c.onUpdate((r) => log.updates.push(r));
  c.onStatus((s) => log.statuses.push(s));
  c.onRelease((b) => log.releases.push(b));
  c.onCursorDefine((s) => log.cursors.push(s));
  c.onCursorMove((p) => log.moves.push(p));
  c.onResize((s) => log.resizes.push(s));
  return log;
}

function gvtRig(opts: Partial<VfioDisplayOptions> = {}, wrap?: (s: Sys) => Sys): Rig {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu('gvt', { ramBytes: 16 * 1024 * 1024 });
  const guest = new GvtGuest(vgpu);
  const fd = host.openDevice(vgpu.uuid);
  assert.ok(fd >= 0);
  const clock = new VirtualClock();
  const sys = wrap ? wrap(host.kernel) : host.kernel;
  const display = new VfioDisplay(sys, fd, { clock, ...opts });
  return { host, vgpu, guest, clock, display, fd, log: watch(display), sys };
}

/** Two buffers, the first shown and latched. */
function doubleBuffered(r: Rig, w = 64, h = 32): [GuestBuffer, GuestBuffer] {
  const a = r.guest.alloc({ width: w, height: h });
  const b = r.guest.alloc({ width: w, height: h });
  r.guest.showPrimary(a);
  r.guest.vblank();
  return [a, b];
}

function dmabufFds(host: EmulatedHost): number {
  return host.kernel.fds.countByKind()['dmabuf'] ?? 0;
}

describe('VfioDisplay dma-buf cache', () => {
  it('600 flips between 2 buffers cost exactly 2 GETs and copy nothing', () => {
    const r = gvtRig({ policy: 'timer', intervalMs: 16 });
    const [a, b] = doubleBuffered(r);
    r.display.start();
    for (let i = 0; i < 600; i++) {
      r.guest.flip(i % 2 === 0 ? b : a);
      r.guest.vblank();
      r.clock.advance(16);
    }
    const s = r.display.stats;
    assert.equal(s.mode, 'dmabuf');
    assert.equal(s.gets, 2);
    assert.equal(r.vgpu.mdev.stats.gets, 2, 'the device saw 2 GETs');
    assert.equal(s.fdsOpened, 2);
    assert.equal(s.bytesCopied, 0);
    assert.equal(s.refreshes, 601);
    assert.equal(r.log.scanouts.length, 601, 'every flip reached scanout');
    assert.equal(dmabufFds(r.host), 2);
    assert.deepEqual(new Set(r.log.scanouts.map((x) => x.id)).size, 2);
  });

  it('a third buffer appearing costs exactly one more GET', () => {
    const r = gvtRig();
    const [a, b] = doubleBuffered(r);
    r.display.start();
    for (let i = 0; i < 100; i++) {
      r.guest.flip(i % 2 === 0 ? b : a);
      r.guest.vblank();
      r.clock.advance(16);
    }
    assert.equal(r.display.stats.gets, 2);
    const c = r.guest.alloc({ width: 64, height: 32 });
    for (let i = 0; i < 90; i++) {
      r.guest.flip([a, b, c][i % 3]!);
      r.guest.vblank();
      r.clock.advance(16);
    }
    assert.equal(r.display.stats.gets, 3);
    assert.equal(r.vgpu.mdev.stats.gets, 3);
    assert.equal(r.display.stats.cacheEntries, 3);
  });

  it('evicts least recently used buffers beyond the bound, never the shown one', () => {
    const r = gvtRig({ cacheSize: 2 });
    const bufs = Array.from({ length: 5 }, () => r.guest.alloc({ width: 64, height: 32 }));
    r.guest.showPrimary(bufs[0]!);
    r.guest.vblank();
    r.display.start();
    r.display.console.onRelease((b) => {
      assert.notEqual(b, r.display.console.scanout, 'released the shown buffer');
      // Release order: the fd is closed before the renderer hears about it.
      assert.equal(r.host.kernel.fds.get(b.fd), undefined, 'fd still open at onRelease');
    });
    for (let i = 1; i < 40; i++) {
      r.guest.flip(bufs[i % 5]!);
      r.guest.vblank();
      r.display.refresh();
      const shown = r.display.console.scanout!;
      assert.ok(r.host.kernel.fds.get(shown.fd), 'shown buffer fd open');
      assert.ok(dmabufFds(r.host) <= 2, `at most 2 dma-bufs held, got ${dmabufFds(r.host)}`);
    }
    const s = r.display.stats;
    assert.ok(s.evictions > 30);
    assert.equal(s.fdsOpened - s.fdsClosed, 2);
    assert.equal(r.log.releases.length, s.evictions);
  });

  it('keeps the last frame through eviction pressure while the plane is off', () => {
    // The kept frame is the least recently used entry: the cursor churns, the primary is not queried.
    const r = gvtRig({ cacheSize: 2 });
    const [a] = doubleBuffered(r);
    r.display.start();
    const frame = r.display.console.scanout!;
    assert.equal(frame.id, r.display.cacheEntries()[0]!.id);
    r.guest.disablePrimary();
    const cursors = Array.from({ length: 6 }, () => r.guest.alloc({ width: 64, height: 64 }));
    for (const c of cursors) {
      r.guest.showCursor(c, 10, 10);
      r.guest.vblank();
      r.display.refresh();
      assert.equal(r.display.console.scanout, frame);
      assert.ok(r.host.kernel.fds.get(frame.fd), 'kept frame fd closed');
    }
    assert.ok(!r.log.releases.includes(frame));
    assert.ok(r.display.stats.evictions >= 4);
    assert.equal(r.display.console.status.reason, 'plane-disabled');
    void a;
  });

  it('hands out zero-copy mappings: one chunk when contiguous, one per page run when scattered', () => {
    const r = gvtRig();
    const a = r.guest.alloc({ width: 64, height: 64 });
    const s = r.guest.alloc({ width: 64, height: 64, scatter: true });
    r.guest.fillRect(a, 0, 0, 64, 64, 0xff112233, false);
    r.guest.fillRect(s, 0, 0, 64, 64, 0xff445566, false);
    r.guest.showPrimary(a);
    r.guest.vblank();
    r.display.start();
    const ba = r.display.console.scanout!;
    assert.equal(ba.mapping.chunks.length, 1);
    assert.equal(ba.mapping.chunks[0]!.buffer, r.vgpu.memory.buffer, 'a view of guest memory');
    r.guest.flip(s);
    r.guest.vblank();
    r.display.refresh();
    const bs = r.display.console.scanout!;
    assert.equal(bs.mapping.chunks.length, 4, '4 pages in reverse order: 4 runs');
    assert.equal(bs.mapping.chunks[3]![0], 0x66, 'last page reads guest pixels');
    assert.equal(r.display.stats.bytesCopied, 0);
  });
});

describe('VfioDisplay refresh policies', () => {
  it('event: a latched flip reaches scanout without waiting for a timer tick', () => {
    const r = gvtRig({ policy: 'event', intervalMs: 1000 });
    const [, b] = doubleBuffered(r);
    r.display.start();
    assert.equal(r.display.policy, 'event');
    assert.equal(r.log.scanouts.length, 1);
    const queries = r.vgpu.mdev.stats.queries;
    r.clock.advance(5000);
    assert.equal(r.vgpu.mdev.stats.queries, queries, 'no polling while nothing happens');
    r.guest.flip(b);
    r.clock.advance(0);
    assert.equal(r.log.scanouts.length, 1, 'an armed flip is not shown before vblank');
    const t = r.clock.now();
    r.guest.vblank();
    r.clock.advance(0);
    assert.equal(r.clock.now(), t, 'virtual time did not move');
    assert.equal(r.log.scanouts.length, 2);
    assert.equal(r.log.scanouts[1]!.id, r.display.console.scanout!.id);
    assert.ok(r.display.stats.irqWakeups >= 1);
  });

  it('event, real time: the refresh runs at the end of the task that took the IRQ, once per burst', async () => {
    const clock = new RealClock();
    const r = gvtRig({ policy: 'event', intervalMs: 1000, clock });
    const [, b] = doubleBuffered(r);
    r.display.start();
    const queries = r.vgpu.mdev.stats.queries;
    r.guest.flip(b);
    r.guest.vblank();
    r.guest.vblank();
    r.guest.vblank();
    assert.equal(r.vgpu.mdev.stats.queries, queries, 'not inside the device\'s vblank dispatch');
    await Promise.resolve();
    assert.equal(r.log.scanouts.length, 2, 'shown by the end of the task, before any timer or I/O');
    assert.equal(r.vgpu.mdev.stats.queries - queries, 2, 'three IRQs, one refresh (primary + cursor QUERY)');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.vgpu.mdev.stats.queries - queries, 2, 'nothing else was armed for it');
    r.display.dispose();
  });

  it('event: a scanout carries the time of the vblank IRQ that latched it, not of the refresh', () => {
    // The first QUERY after the IRQ answers -EAGAIN (mbochs' "later"): the refresh that finds the
    // flip runs a retry interval after the IRQ, and the console still says when the IRQ came.
    let later = false;
    const r = gvtRig({ policy: 'event', intervalMs: 16 }, (s) => {
      const f = new FaultSys(s);
      f.fault = (_fd, req) => {
        if (req !== VFIO_DEVICE_QUERY_GFX_PLANE || !later) return undefined;
        later = false;
        return -Errno.EAGAIN;
      };
      return f;
    });
    const [, b] = doubleBuffered(r);
    const seen: Array<number | undefined> = [];
    r.display.console.onScanout(() => seen.push(r.display.console.vblankAt));
    r.display.start();
    assert.deepEqual(seen, [undefined], 'the first look (no IRQ yet) does not know a vblank time');
    r.clock.advance(100);
    r.guest.flip(b);
    later = true;
    r.guest.vblank();
    const irqAt = r.clock.now();
    r.clock.advance(40);
    assert.equal(r.display.stats.retries, 1, 'the refresh after the IRQ was told "later"');
    assert.equal(seen.length, 2);
    assert.equal(seen[1], irqAt, 'the IRQ time (100), not the refresh that found the flip (116)');
    assert.equal(r.log.scanouts[1]!.id, r.display.console.scanout!.id);
  });

  it('timer: a polled scanout does not claim a vblank time', () => {
    const r = gvtRig({ policy: 'timer', intervalMs: 16 });
    const [, b] = doubleBuffered(r);
    const seen: Array<number | undefined> = [];
    r.display.console.onScanout(() => seen.push(r.display.console.vblankAt));
    r.display.start();
    r.guest.flip(b);
    r.guest.vblank();
    r.clock.advance(16);
    assert.deepEqual(seen, [undefined, undefined]);
  });

  it('event: falls back to the timer when the device has no display IRQ (real kernels)', () => {
    const r = gvtRig({ policy: 'event', intervalMs: 30 }, (s) => {
      const f = new FaultSys(s);
      f.fault = (_fd, req) => (req === VFIO_DEVICE_GET_IRQ_INFO ? -Errno.EINVAL : undefined);
      return f;
    });
    const [, b] = doubleBuffered(r);
    r.display.start();
    assert.equal(r.display.policy, 'timer');
    assert.match(r.display.stats.policyNote, /no display IRQ/);
    assert.equal(r.log.statuses[0]!.reason, 'policy-fallback');
    r.guest.flip(b);
    r.guest.vblank();
    r.clock.advance(0);
    assert.equal(r.log.scanouts.length, 1, 'timer: waits for the tick');
    r.clock.advance(30);
    assert.equal(r.log.scanouts.length, 2);
  });

  it('dirty: one character typed on fbcon damages only that glyph cell rows, with no ioctl', () => {
    const r = gvtRig({ policy: 'dirty', intervalMs: 16 });
    r.display.dispose();
    const display = new VfioDisplay(r.host.kernel, r.fd, {
      clock: r.clock, policy: 'dirty', intervalMs: 16, dirtyLog: r.vgpu.dirtyLog,
      pageResolver: emulatedPageResolver(r.host.kernel),
    });
    const log = watch(display);
    // 1024 px of XRGB: a stride of exactly one page, so page rows are pixel rows.
    const fb = r.guest.alloc({ width: 1024, height: 768, scatter: true });
    r.guest.showPrimary(fb);
    r.guest.vblank();
    display.start();
    assert.equal(display.policy, 'dirty');
    assert.equal(log.scanouts.length, 1);
    assert.deepEqual(log.updates, [], 'the scanout says what was written: no full update after it');
    r.clock.advance(160);
    assert.equal(log.updates.length, 0, 'an idle console causes no update');
    const queries = r.vgpu.mdev.stats.queries;
    const pages = display.stats.dirtyPages;
    r.guest.drawGlyphCell(fb, 10, 3);
    r.clock.advance(16);
    assert.deepEqual(log.updates[0], [{ x: 0, y: 48, width: 1024, height: 16 }]);
    assert.deepEqual(display.console.written, [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63],
      'the update names the buffer pages written: one per pixel row');
    assert.equal(r.vgpu.mdev.stats.queries, queries, 'damage came from the dirty log, not QUERY');
    assert.equal(display.stats.dirtyPages - pages, 16);
    r.clock.advance(64);
    assert.equal(log.updates.length, 1);
    // An event that changes no pixels (a cursor move) re-queries but damages nothing.
    const wakeups = display.stats.irqWakeups;
    r.guest.moveCursor(3, 3);
    r.clock.advance(0);
    assert.equal(display.stats.irqWakeups, wakeups + 1);
    assert.equal(log.updates.length, 1);
    assert.equal(display.stats.bytesCopied, 0);
    display.dispose();
  });

  it('dirty: on an X-tiled buffer a glyph damages its tiles only', () => {
    const r = gvtRig();
    r.display.dispose();
    const display = new VfioDisplay(r.host.kernel, r.fd, {
      clock: r.clock, policy: 'dirty', dirtyLog: r.vgpu.dirtyLog, pageResolver: emulatedPageResolver(r.host.kernel),
    });
    const log = watch(display);
    const fb = r.guest.alloc({ width: 640, height: 480, tiling: 'x' });
    r.guest.showPrimary(fb);
    r.guest.vblank();
    display.start();
    r.guest.drawGlyphCell(fb, 20, 5); // x 160..167, y 80..95: tile column 1, tile rows 10..11
    r.clock.advance(16);
    assert.deepEqual(log.updates[0], [{ x: 128, y: 80, width: 128, height: 16 }]);
    // 640 px X-tiled: 5 tiles (pages) per tile row; tile column 1 of tile rows 10 and 11.
    assert.deepEqual(display.console.written, [51, 56]);
    display.dispose();
  });

  it('dirty: a flip is found through the event channel and says which pages of the buffer were drawn', () => {
    const r = gvtRig();
    r.display.dispose();
    const display = new VfioDisplay(r.host.kernel, r.fd, {
      clock: r.clock, policy: 'dirty', intervalMs: 16, dirtyLog: r.vgpu.dirtyLog,
      pageResolver: emulatedPageResolver(r.host.kernel),
    });
    const log = watch(display);
    const [a, b] = doubleBuffered(r, 256, 64);
    display.start();
    r.guest.fillRect(b, 0, 0, 256, 16, 0xff00ff00); // drawn into the back buffer: 16 rows of 1 KiB
    r.guest.flip(b);
    r.guest.vblank();
    r.clock.advance(0);
    assert.equal(log.scanouts.length, 2);
    assert.deepEqual(display.console.written, [0, 1, 2, 3], 'the pages drawn while it was off screen');
    assert.equal(log.updates.length, 0, 'the scanout covers the new buffer: no full damage');
    r.clock.advance(16);
    assert.equal(log.updates.length, 0, 'back-buffer drawing is not damage twice');
    // Drawn into the old front while the new one shows: reported when it is shown again.
    r.guest.fillRect(a, 0, 40, 4, 1, 0xffff0000); // row 40: page 10
    r.guest.flip(a);
    r.guest.vblank();
    r.clock.advance(0);
    assert.equal(log.scanouts.length, 3);
    assert.deepEqual(display.console.written, [10]);
    display.dispose();
  });

  it('dirty without a dirty log degrades to event', () => {
    const r = gvtRig({ policy: 'dirty' });
    doubleBuffered(r);
    r.display.start();
    assert.equal(r.display.policy, 'event');
    assert.match(r.display.policyNote, /dirty log/);
  });
});

describe('VfioDisplay failures keep the last frame', () => {
  it('plane disabled → status, last frame kept, shown again when it comes back', () => {
    const r = gvtRig({ policy: 'event' });
    const [a] = doubleBuffered(r);
    r.display.start();
    const frame = r.display.console.scanout!;
    const updates = r.log.updates.length;
    r.guest.disablePrimary();
    r.clock.advance(0);
    assert.equal(r.display.console.status.reason, 'plane-disabled');
    assert.equal(r.display.console.scanout, frame, 'last frame kept');
    assert.equal(r.log.releases.length, 0);
    assert.equal(r.log.updates.length, updates, 'no update while off');
    r.guest.showPrimary(a);
    r.clock.advance(0);
    assert.equal(r.display.console.status.reason, 'ok');
    assert.equal(r.log.scanouts.length, 2, 'resubmitted although the id is the same');
    assert.equal(r.log.scanouts[1], frame);
    assert.equal(r.display.stats.gets, 1);
  });

  it('unsupported format → status, no GET, last frame kept', () => {
    const r = gvtRig();
    const [a] = doubleBuffered(r);
    r.display.start();
    const frame = r.display.console.scanout!;
    // Yf tiling: GVT exports it, but nothing here can address Yf.
    r.guest.setPrimaryFormat(PLANE_FORMAT.XRGB_8888, PLANE_TILING.YF);
    r.display.refresh();
    assert.equal(r.display.console.status.reason, 'unsupported-format');
    assert.match(r.display.console.status.message, /I915_Yf_TILED/);
    assert.equal(r.display.stats.gets, 1);
    assert.equal(r.display.console.scanout, frame);
    r.guest.showPrimary(a);
    r.display.refresh();
    assert.equal(r.display.console.status.reason, 'ok');
  });

  it('device error → status with errno, last frame kept; the device refuses what the guest got wrong', () => {
    const r = gvtRig();
    const [a] = doubleBuffered(r);
    r.display.start();
    const frame = r.display.console.scanout!;
    r.guest.flipToAddress(0x100000000 - 4096); // outside the vGPU's graphics memory
    r.guest.vblank();
    r.display.refresh();
    const st = r.display.console.status;
    assert.equal(st.reason, 'device-error');
    assert.equal(st.errno, Errno.EINVAL);
    assert.equal(r.display.console.scanout, frame);
    assert.equal(r.log.releases.length, 0);
    r.guest.setPrimaryFormat(PLANE_FORMAT.NV12); // GVT: -EINVAL as well
    r.display.refresh();
    assert.equal(r.display.console.status.reason, 'device-error');
    r.guest.showPrimary(a);
    r.guest.vblank();
    r.display.refresh();
    assert.equal(r.display.console.status.reason, 'ok');
    assert.ok(r.display.stats.errors >= 2);
  });

  it('ENOMEM on the first query after a mode change is retried, not reported (real mbochs)', () => {
    let failNext = 1;
    const r = gvtRig({ policy: 'event', intervalMs: 16 }, (s) => {
      const f = new FaultSys(s);
      f.fault = (_fd, req, arg) => {
        if (req !== VFIO_DEVICE_QUERY_GFX_PLANE) return undefined;
        const flags = new DataView(arg.buffer, arg.byteOffset).getUint32(4, true);
        if ((flags & VFIO_GFX_PLANE_TYPE_PROBE) === 0 && failNext > 0) {
          failNext--;
          return -Errno.ENOMEM;
        }
        return undefined;
      };
      return f;
    });
    doubleBuffered(r);
    r.display.start();
    assert.equal(r.log.scanouts.length, 0);
    assert.equal(r.display.stats.retries, 1);
    assert.ok(!r.log.statuses.some((s) => s.reason === 'device-error'));
    r.clock.advance(16); // event policy: one retry timer, no event needed
    assert.equal(r.log.scanouts.length, 1);
    assert.equal(r.display.console.status.reason, 'ok');
  });

  it('a failing GET reports a device error and retries on EAGAIN', () => {
    let mode: 'eagain' | 'eio' | 'ok' = 'eagain';
    const r = gvtRig({ policy: 'timer' }, (s) => {
      const f = new FaultSys(s);
      f.fault = (_fd, req) => {
        if (req !== VFIO_DEVICE_GET_GFX_DMABUF || mode === 'ok') return undefined;
        return mode === 'eagain' ? -Errno.EAGAIN : -Errno.EIO;
      };
      return f;
    });
    doubleBuffered(r);
    r.display.start();
    assert.equal(r.display.stats.retries, 1);
    mode = 'eio';
    r.clock.advance(16);
    assert.equal(r.display.console.status.reason, 'device-error');
    assert.equal(r.display.console.status.errno, Errno.EIO);
    mode = 'ok';
    r.clock.advance(16);
    assert.equal(r.display.console.status.reason, 'ok');
    assert.equal(r.log.scanouts.length, 1);
  });

  it('EMFILE on GET under the event policy: reported, retried without a device event, no fd leaked', () => {
    const r = gvtRig({ policy: 'event', intervalMs: 16 });
    const [, b] = doubleBuffered(r);
    r.display.start();
    const k = r.host.kernel;
    const limit = k.fds.limit;
    k.fds.limit = k.fds.openCount + 3; // full: the next fd is refused
    const open = k.fds.openCount;
    r.guest.flip(b);
    r.guest.vblank(); // the one event; the guest is idle afterwards
    r.clock.advance(0);
    assert.equal(r.display.console.status.reason, 'device-error');
    assert.equal(r.display.console.status.errno, Errno.EMFILE);
    assert.equal(r.log.scanouts.length, 1, 'the last frame stays');
    r.clock.advance(160);
    assert.equal(k.fds.openCount, open, 'no fd leaked by the failing GETs');
    const gets = r.display.stats.gets;
    assert.ok(gets >= 5, `retried while the table was full (${gets} GETs)`);
    k.fds.limit = limit;
    r.clock.advance(16);
    assert.equal(r.display.console.status.reason, 'ok');
    assert.equal(r.log.scanouts.length, 2);
    r.clock.advance(160);
    assert.equal(r.display.stats.gets, gets + 1, 'retries stop once it worked');
  });

  it('halt: the last frame stays with status vm-stopped, nothing touches the device any more', () => {
    for (const policy of ['timer', 'event', 'dirty'] as const) {
      const r = gvtRig({ policy, intervalMs: 16, dirtyLog: undefined });
      const [a, b] = doubleBuffered(r);
      r.display.start();
      const shown = r.display.console.scanout;
      r.display.halt('vm1: guest crashed');
      assert.equal(r.display.halted, true);
      assert.deepEqual(r.display.console.status, { reason: 'vm-stopped', message: 'vm1: guest crashed', errno: 0 });
      const queries = r.vgpu.mdev.stats.queries;
      r.guest.flip(b);
      r.guest.vblank();
      r.guest.flip(a);
      r.guest.vblank();
      r.display.refresh();
      r.clock.advance(1000);
      assert.equal(r.vgpu.mdev.stats.queries, queries, `${policy}: no QUERY after halt`);
      assert.equal(r.display.console.scanout, shown, `${policy}: the last frame is kept`);
      assert.equal(r.display.console.status.reason, 'vm-stopped');
      assert.equal(r.vgpu.mdev.stats.displayIrqs, 0, `${policy}: the display IRQ was disarmed`);
      r.display.dispose();
      assert.equal(dmabufFds(r.host), 0, `${policy}: dispose still releases every buffer`);
      assert.equal(r.host.kernel.fds.openCount, 1, `${policy}: only the device fd is left`);
    }
  });
});

describe('VfioDisplay cursor and resize', () => {
  it('tracks shape, hotspot (unknown = 0xFFFFFFFF) and signed positions without new GETs', () => {
    const r = gvtRig();
    doubleBuffered(r);
    const cur = r.guest.alloc({ width: 64, height: 64 });
    r.guest.showCursor(cur, 100, 50);
    r.guest.vblank();
    r.display.start();
    assert.equal(r.log.cursors.length, 1);
    const c0 = r.log.cursors[0]!;
    assert.ok(c0.buffer);
    assert.equal(c0.buffer.drmFormat, DRM_FORMAT.ARGB8888);
    assert.equal(c0.hotKnown, false);
    assert.equal(c0.hotX, 0xffffffff);
    assert.deepEqual(r.log.moves, [{ x: 100, y: 50 }]);
    r.guest.setHotspot(5, 7);
    r.display.refresh();
    assert.equal(r.log.cursors.length, 2);
    assert.deepEqual([r.log.cursors[1]!.hotX, r.log.cursors[1]!.hotY, r.log.cursors[1]!.hotKnown], [5, 7, true]);
    r.guest.moveCursor(-5, -3);
    r.display.refresh();
    assert.deepEqual(r.log.moves.at(-1), { x: -5, y: -3 });
    r.display.refresh();
    assert.equal(r.log.moves.length, 2, 'no move event without a move');
    assert.equal(r.display.stats.gets, 2, 'primary + cursor, moves cost no GET');
    r.guest.hideCursor();
    r.display.refresh();
    assert.equal(r.log.cursors.at(-1)!.buffer, null);
    assert.equal(r.display.planeInfo(PlaneType.CURSOR).drmFormat, 0);
  });

  it('resize: a flip to a buffer of another size resizes before the scanout', () => {
    const r = gvtRig();
    const small = r.guest.alloc({ width: 64, height: 32 });
    const big = r.guest.alloc({ width: 128, height: 96 });
    r.guest.showPrimary(small);
    r.guest.vblank();
    r.display.start();
    const order: string[] = [];
    r.display.console.onResize((s) => order.push(`resize ${s.width}x${s.height}`));
    r.display.console.onScanout((b) => order.push(`scanout ${b.width}x${b.height}`));
    r.guest.showPrimary(big);
    r.guest.vblank();
    r.display.refresh();
    assert.deepEqual(order, ['resize 128x96', 'scanout 128x96']);
    assert.deepEqual(r.display.console.size, { width: 128, height: 96 });
    assert.deepEqual(r.log.updates.at(-1), [{ x: 0, y: 0, width: 128, height: 96 }]);
  });

  it('dispose closes every fd it opened and disarms the event channel', () => {
    const r = gvtRig({ policy: 'event' });
    const [, b] = doubleBuffered(r);
    r.display.start();
    r.guest.flip(b);
    r.guest.vblank();
    r.clock.advance(0);
    assert.equal(dmabufFds(r.host), 2);
    assert.equal(r.host.kernel.fds.countByKind()['eventfd'], 1);
    r.display.dispose();
    assert.equal(dmabufFds(r.host), 0);
    assert.equal(r.host.kernel.fds.countByKind()['eventfd'] ?? 0, 0);
    assert.equal(r.log.releases.length, 2);
    r.guest.flip(b);
    r.guest.vblank();
    r.clock.advance(100);
    assert.equal(r.vgpu.mdev.stats.displayIrqs, 1, 'the device no longer signals');
  });
});

describe('VfioDisplay on other devices', () => {
  it('bochs: DMABUF probe, a pan is a flip to another id', () => {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('bochs');
    const dev = vgpu.device as BochsDevice;
    const fd = host.openDevice(vgpu.uuid);
    const clock = new VirtualClock();
    const display = new VfioDisplay(host.kernel, fd, { clock, policy: 'event' });
    const log = watch(display);
    const set = (i: number, v: number): void => dev.mmioWrite(dispiOffset(i), 2, v);
    set(DISPI.XRES, 640);
    set(DISPI.YRES, 480);
    set(DISPI.BPP, 32);
    set(DISPI.VIRT_HEIGHT, 960);
    set(DISPI.ENABLE, DISPI_ENABLE.ENABLED);
    display.start();
    assert.equal(display.mode, 'dmabuf');
    assert.equal(log.scanouts.length, 1);
    set(DISPI.Y_OFFSET, 480);
    clock.advance(0);
    set(DISPI.Y_OFFSET, 0);
    clock.advance(0);
    assert.equal(log.scanouts.length, 3);
    assert.notEqual(log.scanouts[1]!.id, log.scanouts[0]!.id);
    assert.equal(log.scanouts[2]!.id, log.scanouts[0]!.id);
    assert.equal(display.stats.gets, 2);
    assert.equal(display.stats.bytesCopied, 0);
    assert.equal(log.scanouts[0]!.modifier, DRM_FORMAT_MOD.LINEAR);
    display.dispose();
  });

  it('region (mdpy): REGION probe, every refresh copies the frame and counts it', () => {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('mdpy-vga');
    const fd = host.openDevice(vgpu.uuid);
    const clock = new VirtualClock();
    const display = new VfioDisplay(host.kernel, fd, { clock, policy: 'event', intervalMs: 20 });
    const log = watch(display);
    display.start();
    assert.equal(display.mode, 'region');
    assert.equal(display.policy, 'timer', 'the region path polls');
    assert.match(display.policyNote, /region/);
    const b = log.scanouts[0]!;
    assert.equal(b.kind, 'region');
    assert.equal(b.fd, -1);
    assert.deepEqual([b.width, b.height, b.stride], [640, 480, 2560]);
    const frame = 2560 * 480;
    assert.equal(display.stats.bytesCopied, frame);
    // The staging copy follows the guest: write a pixel, refresh, see it.
    vgpu.memory.bytes[vgpu.layout.fbFirstPage! * 4096 + 2560 * 10] = 0xab;
    clock.advance(20);
    assert.equal(b.mapping.chunks[0]![2560 * 10], 0xab);
    assert.notEqual(b.mapping.chunks[0]!.buffer, vgpu.memory.buffer, 'a copy, not a view');
    clock.advance(80);
    assert.equal(display.stats.bytesCopied, frame * 6);
    assert.equal(display.stats.gets, 0);
    assert.equal(log.scanouts.length, 1);
    assert.equal(log.updates.length, 6);
    display.dispose();
  });
});
