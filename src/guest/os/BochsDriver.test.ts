import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errno } from '../../base/Errno.ts';
import { DirtyLog } from '../../gpu/DirtyLog.ts';
import { GuestMemory, PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { PageAllocator } from '../../gpu/PageAllocator.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import { LINEAR } from '../../kms/Tiling.ts';
import { BochsDevice } from '../../vgpu/bochs/BochsDevice.ts';
import { DISPI, dispiOffset } from '../../vgpu/bochs/BochsRegisters.ts';
import { buildEdid } from '../../vgpu/Edid.ts';
import type { DecodedPlane } from '../../vgpu/Plane.ts';
import { BochsDriver } from './BochsDriver.ts';
import { GuestOs } from './GuestOs.ts';
import type { RegisterWindow } from './RegisterWindow.ts';
import { PROMPT } from './Shell.ts';
import { Surface } from './Surface.ts';
import { surfaceText } from './TextOcr.ts';

const MiB = 1 << 20;

/** Register window straight onto the device: writes are applied at once. */
class DirectWindow implements RegisterWindow {
  public writeSeq = 0;
  public constructor(private readonly _dev: BochsDevice) {}
  public read(offset: number, size: 1 | 2 | 4): number {
    return this._dev.mmioRead(offset, size);
  }
  public write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.writeSeq++;
    this._dev.mmioWrite(offset, size, value);
  }
  public read64(): bigint {
    return 0n;
  }
  public write64(): void {
    this.writeSeq++;
  }
}

function machine(w = 640, h = 480, vramMiB = 16) {
  const ramPages = (8 * MiB) / PAGE_SIZE;
  const vramPages = (vramMiB * MiB) / PAGE_SIZE;
  const memory = new GuestMemory((ramPages + vramPages) * PAGE_SIZE);
  const dev = new BochsDevice({ memory, vramFirstPage: ramPages, vramPages });
  dev.setEdid(buildEdid({ width: w, height: h }), true);
  const regs = new DirectWindow(dev);
  const dirty = new DirtyLog(memory.pageCount);
  const allocator = new PageAllocator(256, ramPages - 256);
  const driver = new BochsDriver({
    memory, dirty, allocator, regs, options: { fbFirstPage: ramPages, fbPages: vramPages },
  });
  const os = new GuestOs({ driver, memory, now: () => Date.UTC(2024, 0, 1) });
  let seq = 0;
  const vblank = (n = 1): void => {
    for (let i = 0; i < n; i++) {
      dev.vblank();
      os.vblank({ seq: ++seq, writesApplied: regs.writeSeq });
    }
  };
  return { memory, dev, regs, driver, os, vblank, ramPages, dirty };
}

function primary(dev: BochsDevice): DecodedPlane {
  const p = dev.decodePlane(PlaneType.PRIMARY);
  assert.ok(p && typeof p === 'object', `primary: ${String(p)}`);
  return p;
}

function planeText(m: ReturnType<typeof machine>): string[] {
  const p = primary(m.dev);
  const s = new Surface(m.memory, undefined, {
    pages: p.pages, width: p.width, height: p.height, stride: p.stride, format: p.drmFormat, tiling: LINEAR,
  });
  return surfaceText(s);
}

test('boot: DISPI mode from the EDID, fbcon in VRAM, readable prompt', () => {
  const m = machine(640, 480);
  assert.equal(m.os.boot(), 0);
  m.vblank();
  const p = primary(m.dev);
  const fb = m.os.fbcon.surface!;
  assert.deepEqual([p.width, p.height, p.stride, p.drmFormat], [640, 480, 2560, DRM_FORMAT.XRGB8888]);
  assert.equal(p.start, fb.address);
  assert.equal(fb.pages[0], m.ramPages + fb.address / PAGE_SIZE, 'the buffer is VRAM');
  assert.equal(m.dev.dispi(DISPI.VIRT_WIDTH), 640);
  const text = planeText(m);
  assert.ok(text.some((l) => l.includes('display: bochs, EDID preferred 640x480@')), text.join('\n'));
  assert.equal(text.filter((l) => l).at(-1), PROMPT.trimEnd());
});

test('the session pans between buffers stacked in VRAM; every offset is exportable', () => {
  const m = machine(800, 600);
  m.os.boot();
  assert.equal(m.os.startSession({ buffers: 3 }), undefined);
  m.os.session!.setAnimating(true);
  const offsets = new Set<number>();
  for (let i = 0; i < 12; i++) {
    m.vblank();
    const p = primary(m.dev);
    offsets.add(p.start);
    assert.equal(p.start % PAGE_SIZE, 0, 'page aligned: mbochs exports it');
    assert.equal(p.start % p.stride, 0, 'a whole row: Y_OFFSET reaches it');
    assert.equal(m.dev.dispi(DISPI.Y_OFFSET), p.start / p.stride);
  }
  assert.equal(offsets.size, 3);
  assert.ok(!offsets.has(m.os.fbcon.surface!.address), 'the session never scans out fbcon');
  assert.ok(m.driver.flipCount >= 10, `flips: ${m.driver.flipCount}`);
  // Back to the console: the same offset as before.
  m.os.switchVt(1);
  m.vblank();
  assert.equal(primary(m.dev).start, m.os.fbcon.surface!.address);
});

test('unsupported format or size: an error, and the old mode stays', () => {
  const m = machine();
  m.os.boot();
  m.vblank();
  const before = primary(m.dev);
  assert.match(m.os.setDisplayMode(640, 480, DRM_FORMAT.RGB565) ?? '', /format RGB565 not supported \(XRGB8888\)/);
  assert.match(m.os.setDisplayMode(640, 480, DRM_FORMAT.XRGB8888, { name: 'x', tileWidth: 512, tileHeight: 8 }) ?? '', /x tiling not supported/);
  assert.match(m.os.setDisplayMode(32, 480) ?? '', /invalid size 32x480/);
  // Bigger than VRAM.
  assert.match(m.os.setDisplayMode(4096, 4096) ?? '', /invalid size 4096x4096/);
  m.vblank();
  assert.deepEqual(primary(m.dev), before);
  assert.equal(m.driver.checkMode({ width: 640, height: 480, format: DRM_FORMAT.XRGB8888, tiling: LINEAR }), 0);
});

test('VRAM too small for the session: startx says so and the console is untouched', () => {
  const m = machine(1024, 768, 4);
  m.os.boot();
  m.vblank();
  const before = primary(m.dev);
  assert.equal(m.os.startSession(), 'out of memory');
  m.vblank();
  assert.deepEqual(primary(m.dev), before);
});

test('hotplug: a new EDID seen by polling re-mode-sets; cursor is refused', () => {
  const m = machine(640, 480);
  m.os.boot();
  m.vblank(3);
  m.dev.setEdid(buildEdid({ width: 1024, height: 768 }), true);
  m.vblank(40);
  const p = primary(m.dev);
  assert.deepEqual([p.width, p.height], [1024, 768]);
  assert.equal(m.driver.setCursor(null, 0, 0), -Errno.ENODEV);
});

test('a device that is not Bochs DISPI, or VRAM missing from the options, is refused', () => {
  const m = machine();
  const bad: RegisterWindow = { read: () => 0x1234, write() {}, read64: () => 0n, write64() {}, writeSeq: 0 };
  const alloc = new PageAllocator(256, 16);
  assert.equal(new BochsDriver({ memory: m.memory, dirty: undefined, allocator: alloc, regs: bad, options: {} }).init(), -Errno.ENODEV);
  assert.equal(new BochsDriver({ memory: m.memory, dirty: undefined, allocator: alloc, regs: m.regs, options: {} }).init(), -Errno.ENODEV);
  const outside = { fbFirstPage: m.memory.pageCount - 2, fbPages: 4096 };
  assert.equal(m.regs.read(dispiOffset(DISPI.ID), 2), 0xb0c5);
  assert.equal(new BochsDriver({ memory: m.memory, dirty: undefined, allocator: alloc, regs: m.regs, options: outside }).init(), -Errno.ENODEV);
});
