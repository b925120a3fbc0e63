import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errno } from '../../base/Errno.ts';
import { DirtyLog } from '../../gpu/DirtyLog.ts';
import { Ggtt } from '../../gpu/Ggtt.ts';
import { GuestMemory, PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { PageAllocator } from '../../gpu/PageAllocator.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import { LINEAR, X_TILED, layoutForModifier } from '../../kms/Tiling.ts';
import { buildEdid } from '../../vgpu/Edid.ts';
import { GvtDevice } from '../../vgpu/gvt/GvtDevice.ts';
import type { DecodedPlane } from '../../vgpu/Plane.ts';
import { GuestOs } from './GuestOs.ts';
import { GvtDriver } from './GvtDriver.ts';
import { GVT_EDID_WINDOW, GVT_EDID_WINDOW_SIZE, GVT_HOTPLUG_COUNT } from './GvtEdidWindow.ts';
import type { RegisterWindow } from './RegisterWindow.ts';
import { PROMPT } from './Shell.ts';
import { Surface } from './Surface.ts';
import { surfaceText } from './TextOcr.ts';

const MiB = 1 << 20;

/** Register window straight onto the device (writes applied at once), plus the lab EDID window. */
class DirectWindow implements RegisterWindow {
  public writeSeq = 0;
  public edid: Uint8Array;
  public hotplugs = 0;
  public constructor(private readonly _dev: GvtDevice, edid: Uint8Array) {
    this.edid = edid;
  }
  public read(offset: number, size: 1 | 2 | 4): number {
    if (offset >= GVT_EDID_WINDOW && offset < GVT_EDID_WINDOW + GVT_EDID_WINDOW_SIZE && size === 4) {
      return new DataView(this.edid.buffer, this.edid.byteOffset).getUint32(offset - GVT_EDID_WINDOW, true);
    }
    if (offset === GVT_HOTPLUG_COUNT) return this.hotplugs;
    return size === 4 ? this._dev.mmioRead32(offset) : 0;
  }
  public write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.writeSeq++;
    if (size === 4) this._dev.mmioWrite32(offset, value);
  }
  public read64(offset: number): bigint {
    return this._dev.mmioRead64(offset);
  }
  public write64(offset: number, value: bigint): void {
    this.writeSeq++;
    this._dev.mmioWrite64(offset, value);
  }
}

function machine(w = 640, h = 480) {
  const ggtt = new Ggtt(1 << 16);
  const memory = new GuestMemory(32 * MiB);
  // A neighbour VM first, so our slices do not start at GMA 0.
  ggtt.allocate(1, 16 * MiB, 16 * MiB, 256);
  ggtt.allocate(2, 32 * MiB, 32 * MiB, memory.pageCount);
  const dev = new GvtDevice({ memory, ggtt, vmId: 2 });
  const regs = new DirectWindow(dev, buildEdid({ width: w, height: h }));
  const dirty = new DirtyLog(memory.pageCount);
  const allocator = new PageAllocator(256, memory.pageCount - 256);
  const driver = new GvtDriver({ memory, dirty, allocator, regs });
  const os = new GuestOs({ driver, memory, now: () => Date.UTC(2024, 0, 1) });
  let seq = 0;
  const vblank = (n = 1): void => {
    for (let i = 0; i < n; i++) {
      dev.vblank();
      os.vblank({ seq: ++seq, writesApplied: regs.writeSeq });
    }
  };
  return { ggtt, memory, dev, regs, driver, os, vblank };
}

function primary(dev: GvtDevice, type: number = PlaneType.PRIMARY): DecodedPlane {
  const p = dev.decodePlane(type);
  assert.ok(p && typeof p === 'object', `plane ${type}: ${String(p)}`);
  return p;
}

function planeText(m: ReturnType<typeof machine>): string[] {
  const p = primary(m.dev);
  const s = new Surface(m.memory, undefined, {
    pages: p.pages, width: p.width, height: p.height, stride: p.stride, format: p.drmFormat,
    tiling: layoutForModifier(p.modifier)!,
  });
  return surfaceText(s);
}

test('init reads PV-info; boot maps fbcon in the aperture slice and programs pipe A', () => {
  const m = machine(640, 480);
  assert.equal(m.os.boot(), 0);
  m.vblank();
  const p = primary(m.dev);
  const fb = m.os.fbcon.surface!;
  assert.deepEqual([p.width, p.height, p.drmFormat, p.modifier, p.stride],
    [640, 480, DRM_FORMAT.XRGB8888, DRM_FORMAT_MOD.LINEAR, 2560]);
  assert.equal(p.start, fb.address);
  assert.deepEqual([...p.pages], [...fb.pages]);
  const ap = m.dev.aperture;
  assert.ok(fb.address >= ap.base && fb.address + fb.size <= ap.base + ap.size, 'fbcon GMA in the aperture slice');
  const text = planeText(m);
  assert.ok(text.some((l) => l.includes('display: gvt, EDID preferred 640x480@')), text.join('\n'));
  assert.equal(text.filter((l) => l).at(-1), PROMPT.trimEnd());
  // Every PTE it wrote was its own and named its own memory.
  assert.deepEqual(m.ggtt.counters(2), { droppedWrites: 0, invalidPtes: 0 });
  assert.deepEqual(m.ggtt.counters(1), { droppedWrites: 0, invalidPtes: 0 });
  assert.ok(m.driver.info().some((l) => /gvt: PIPECONF=0x[c8]0000000 PLANE_CTL=0x84000000/.test(l)), m.driver.info().join('\n'));
});

test('a device without the PV-info magic is refused', () => {
  const m = machine();
  const regs: RegisterWindow = { ...m.regs, read: () => 0, read64: () => 0n, write() {}, write64() {}, writeSeq: 0 };
  const d = new GvtDriver({ memory: m.memory, dirty: undefined, allocator: new PageAllocator(256, 16), regs });
  assert.equal(d.init(), -Errno.ENODEV);
  assert.equal(d.setMode({ width: 640, height: 480, format: DRM_FORMAT.XRGB8888, tiling: LINEAR }), -Errno.ENODEV);
});

test('show() arms PLANE_SURF: the plane and the driver flip only at the vblank after the writes', () => {
  const m = machine();
  m.os.boot();
  m.vblank();
  const mode = m.driver.mode!;
  const s = m.driver.allocSurface({ ...mode, purpose: 'scanout' }) as Surface;
  assert.ok(typeof s === 'object', `allocSurface: ${String(s)}`);
  const before = primary(m.dev).start;
  assert.equal(m.driver.show(s), 0);
  assert.equal(primary(m.dev).start, before, 'not latched before the vblank');
  assert.equal(m.driver.pending, s);
  m.vblank();
  assert.equal(primary(m.dev).start, s.address);
  assert.equal(m.driver.front, s);
  // The old fbcon buffer is freed while not shown: its GGTT entries are invalidated.
  const fb = m.os.fbcon.surface!;
  assert.equal(m.driver.show(fb), 0);
  m.driver.freeSurface(s);
  assert.ok(m.ggtt.translate(2, s.address) >= 0, 'still mapped: deferred until the flip latched');
  m.vblank();
  assert.equal(m.ggtt.translate(2, s.address), -1);
});

test('formats and tilings: PLANE_CTL and PLANE_STRIDE decode back to what was asked', () => {
  const m = machine(800, 600);
  m.os.boot();
  const cases: Array<[string, number, bigint, number]> = [
    ['mode 800x600@XRGB8888+xtiled', DRM_FORMAT.XRGB8888, DRM_FORMAT_MOD.I915_X_TILED, 3584],
    ['mode 640x480@RGB565', DRM_FORMAT.RGB565, DRM_FORMAT_MOD.LINEAR, 1280],
    ['mode 640x480@XBGR8888+xtiled', DRM_FORMAT.XBGR8888, DRM_FORMAT_MOD.I915_X_TILED, 2560],
    ['mode 800x600@XRGB2101010', DRM_FORMAT.XRGB2101010, DRM_FORMAT_MOD.LINEAR, 3200],
    ['mode 800x600@ARGB8888', DRM_FORMAT.ARGB8888, DRM_FORMAT_MOD.LINEAR, 3200],
  ];
  for (const [cmd, fmt, mod, stride] of cases) {
    m.os.shells[0]!.run(cmd);
    m.vblank(2);
    const p = primary(m.dev);
    assert.deepEqual([p.drmFormat, p.modifier, p.stride], [fmt, mod, stride], cmd);
    const want = `mode: ${cmd.slice(5, 12)}`;
    assert.ok(planeText(m).some((l) => l.includes(want)), `${cmd}: console readable`);
  }
  const y = m.os.setDisplayMode(640, 480, DRM_FORMAT.XRGB8888, { name: 'y', tileWidth: 128, tileHeight: 32 });
  assert.equal(y, undefined);
  m.vblank();
  assert.equal(primary(m.dev).modifier, DRM_FORMAT_MOD.I915_Y_TILED);
  assert.match(m.os.setDisplayMode(640, 480, DRM_FORMAT.C8) ?? '', /format C8 not supported/);
  assert.match(m.os.setDisplayMode(10, 10) ?? '', /invalid size 10x10/);
  assert.equal(primary(m.dev).width, 640, 'a refused mode leaves the pipe alone');
  assert.deepEqual(m.ggtt.counters(2), { droppedWrites: 0, invalidPtes: 0 });
});

test('cursor plane: 64x64 ARGB at CURBASE, signed CURPOS, PV-info hotspot', () => {
  const m = machine();
  m.os.boot();
  assert.equal(m.os.startSession(), undefined);
  m.vblank(2);
  const c = primary(m.dev, PlaneType.CURSOR);
  assert.deepEqual([c.width, c.height, c.drmFormat, c.stride], [64, 64, DRM_FORMAT.ARGB8888, 256]);
  assert.deepEqual([c.xHot, c.yHot], [0, 0]);
  m.driver.moveCursor(-5, -7);
  const c2 = primary(m.dev, PlaneType.CURSOR);
  assert.deepEqual([c2.xPos | 0, c2.yPos | 0], [-5, -7]);
  m.os.switchVt(1);
  m.vblank();
  assert.equal(m.dev.decodePlane(PlaneType.CURSOR), null, 'fbcon has no cursor');
});

test('hotplug: a new EDID and counter bump re-mode-set to the new preferred mode', () => {
  const m = machine(640, 480);
  m.os.boot();
  m.vblank(5);
  m.regs.edid = buildEdid({ width: 800, height: 600 });
  m.regs.hotplugs++;
  m.vblank(40);
  const p = primary(m.dev);
  assert.deepEqual([p.width, p.height], [800, 600]);
  assert.equal(m.driver.modes()[0]?.width, 800);
});

test('buffers may be scattered: each page goes through its own PTE', () => {
  const m = machine();
  m.os.boot();
  m.vblank();
  // Fragment the allocator so the next buffer cannot be contiguous.
  const alloc = (m.driver as unknown as { _allocator: PageAllocator })._allocator;
  const all = alloc.allocScattered(alloc.freePages)!;
  const rest = all.filter((_, i) => i % 2 === 1);
  alloc.free(all.filter((_, i) => i % 2 === 0));
  const s = m.driver.allocSurface({ width: 256, height: 256, format: DRM_FORMAT.XRGB8888, tiling: X_TILED, purpose: 'scanout' });
  assert.ok(typeof s === 'object', `allocSurface: ${String(s)}`);
  assert.ok(s.pages.some((p, i) => i > 0 && p !== s.pages[i - 1]! + 1), 'scattered');
  for (let i = 0; i < s.pages.length; i++) assert.equal(m.ggtt.translate(2, s.address + i * PAGE_SIZE), s.pages[i]);
  alloc.free(rest);
});
