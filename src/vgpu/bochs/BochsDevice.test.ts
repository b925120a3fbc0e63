import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestMemory, PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import type { DecodedPlane, DisplayEvent } from '../Plane.ts';
import { BochsDevice } from './BochsDevice.ts';
import { checkBochsMode } from './BochsMode.ts';
import { BOCHS_MMIO, DISPI, DISPI_COUNT, DISPI_ENABLE, DISPI_ID5, MBOCHS_TYPES, dispiOffset } from './BochsRegisters.ts';

const VRAM_FIRST = 16;
const VRAM_PAGES = 1024; // 4 MiB
const VRAM_BYTES = VRAM_PAGES * PAGE_SIZE;

function makeDevice(): BochsDevice {
  const memory = new GuestMemory((VRAM_FIRST + VRAM_PAGES + 16) * PAGE_SIZE);
  return new BochsDevice({ memory, vramFirstPage: VRAM_FIRST, vramPages: VRAM_PAGES, maxXres: 800, maxYres: 600 });
}

function reg(dev: BochsDevice, index: number): number {
  return dev.mmioRead(dispiOffset(index), 2);
}

function setReg(dev: BochsDevice, index: number, value: number): void {
  dev.mmioWrite(dispiOffset(index), 2, value);
}

interface ModeRegs {
  xres?: number; yres?: number; bpp?: number; enable?: number; virtWidth?: number; x?: number; y?: number;
}

function setMode(dev: BochsDevice, m: ModeRegs = {}): void {
  setReg(dev, DISPI.ENABLE, 0);
  setReg(dev, DISPI.XRES, m.xres ?? 640);
  setReg(dev, DISPI.YRES, m.yres ?? 480);
  setReg(dev, DISPI.BPP, m.bpp ?? 32);
  setReg(dev, DISPI.VIRT_WIDTH, m.virtWidth ?? 0);
  setReg(dev, DISPI.X_OFFSET, m.x ?? 0);
  setReg(dev, DISPI.Y_OFFSET, m.y ?? 0);
  setReg(dev, DISPI.ENABLE, m.enable ?? (DISPI_ENABLE.ENABLED | DISPI_ENABLE.LFB_ENABLED));
}

function primary(dev: BochsDevice): DecodedPlane | null {
  return dev.decodePlane(PlaneType.PRIMARY);
}

function events(dev: BochsDevice): DisplayEvent[] {
  const out: DisplayEvent[] = [];
  dev.onDisplayEvent((e) => out.push(e));
  return out;
}

describe('BochsDevice construction', () => {
  it('rejects a VRAM range outside guest memory or malformed', () => {
    const memory = new GuestMemory(64 * PAGE_SIZE);
    const bad = [
      { vramFirstPage: -1, vramPages: 16 },
      { vramFirstPage: 0.5, vramPages: 16 },
      { vramFirstPage: 0, vramPages: 0 },
      { vramFirstPage: 0, vramPages: 65 },
      { vramFirstPage: 49, vramPages: 16 },
    ];
    for (const b of bad) assert.throws(() => new BochsDevice({ memory, ...b }), RangeError, JSON.stringify(b));
    assert.throws(() => new BochsDevice({ memory, vramFirstPage: 0, vramPages: 16, maxXres: -1 }), RangeError);
    const ok = new BochsDevice({ memory, vramFirstPage: 48, vramPages: 16 });
    assert.equal(ok.vramBytes, 16 * PAGE_SIZE);
    assert.equal(ok.maxXres, 0);
    assert.equal(ok.kind, 'bochs');
    assert.equal(ok.memory, memory);
  });

  it('exposes the VRAM geometry and EDID resolution hint', () => {
    const dev = makeDevice();
    assert.equal(dev.vramFirstPage, VRAM_FIRST);
    assert.equal(dev.vramPages, VRAM_PAGES);
    assert.equal(dev.vramBytes, VRAM_BYTES);
    assert.equal(dev.maxXres, 800);
    assert.equal(dev.maxYres, 600);
  });

  it('has the mbochs type table', () => {
    assert.deepEqual(MBOCHS_TYPES['mbochs-small'], { mbytes: 4, maxXres: 800, maxYres: 600 });
    assert.deepEqual(MBOCHS_TYPES['mbochs-medium'], { mbytes: 16, maxXres: 1920, maxYres: 1440 });
    assert.deepEqual(MBOCHS_TYPES['mbochs-large'], { mbytes: 64, maxXres: 0, maxYres: 0 });
  });
});

describe('BochsDevice DISPI registers', () => {
  it('has the reset values', () => {
    const dev = makeDevice();
    assert.equal(reg(dev, DISPI.ID), DISPI_ID5);
    assert.equal(reg(dev, DISPI.ID), 0xb0c5);
    assert.equal(reg(dev, DISPI.VIDEO_MEMORY_64K), VRAM_BYTES / 65536);
    for (let i = 1; i < DISPI.VIDEO_MEMORY_64K; i++) assert.equal(reg(dev, i), 0, `register ${i}`);
    assert.equal(dev.dispi(DISPI.VIDEO_MEMORY_64K), 64);
  });

  it('maps index = (offset - 0x500) / 2 over 0x500–0x515', () => {
    const dev = makeDevice();
    for (let i = 1; i < DISPI.VIDEO_MEMORY_64K; i++) setReg(dev, i, 0x100 + i);
    for (let i = 1; i < DISPI.VIDEO_MEMORY_64K; i++) {
      assert.equal(dev.mmioRead(0x500 + 2 * i, 2), 0x100 + i);
      assert.equal(dev.dispi(i), 0x100 + i);
    }
    // An odd offset selects the register below it, as the C integer division does.
    assert.equal(dev.mmioRead(0x503, 2), 0x101);
    assert.equal(dev.mmioRead(0x515, 2), 64);
    assert.equal(dev.mmioRead(0x516, 2), 0);
    assert.equal(dev.dispi(DISPI_COUNT), 0);
  });

  it('accepts only 16-bit accesses', () => {
    const dev = makeDevice();
    dev.mmioWrite(dispiOffset(DISPI.XRES), 4, 800);
    dev.mmioWrite(dispiOffset(DISPI.XRES), 1, 80);
    assert.equal(reg(dev, DISPI.XRES), 0);
    setReg(dev, DISPI.XRES, 800);
    assert.equal(reg(dev, DISPI.XRES), 800);
    assert.equal(dev.mmioRead(dispiOffset(DISPI.XRES), 4), 0);
    assert.equal(dev.mmioRead(dispiOffset(DISPI.XRES), 1), 0);
    assert.equal(dev.mmioRead(dispiOffset(DISPI.ID), 4), 0);
  });

  it('truncates written values to 16 bits', () => {
    const dev = makeDevice();
    setReg(dev, DISPI.YRES, 0x12345);
    assert.equal(reg(dev, DISPI.YRES), 0x2345);
  });

  it('keeps VIDEO_MEMORY_64K read-only', () => {
    const dev = makeDevice();
    setReg(dev, DISPI.VIDEO_MEMORY_64K, 0xffff);
    assert.equal(reg(dev, DISPI.VIDEO_MEMORY_64K), 64);
  });

  it('ignores the VGA ports, QEMU extended registers and holes', () => {
    const dev = makeDevice();
    const before = Array.from({ length: DISPI_COUNT }, (_, i) => reg(dev, i));
    for (const off of [BOCHS_MMIO.VGA_START, 0x41e, BOCHS_MMIO.QEXT_START, 0x604, 0x700, 0xffc]) {
      dev.mmioWrite(off, 2, 0xffff);
      dev.mmioWrite(off, 4, 0xffffffff);
      assert.equal(dev.mmioRead(off, 2), 0);
      assert.equal(dev.mmioRead(off, 4), 0);
    }
    assert.deepEqual(Array.from({ length: DISPI_COUNT }, (_, i) => reg(dev, i)), before);
  });

  it('never throws on a bad access and reads it as 0', () => {
    const dev = makeDevice();
    const offsets = [-2, 0x1000, 0xfff, 0x1ffe, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER];
    for (const off of offsets) {
      for (const size of [0, 1, 2, 3, 4, 8]) {
        assert.equal(dev.mmioRead(off, size), 0);
        dev.mmioWrite(off, size, 1);
      }
    }
    // A 2-byte access that would cross the end of the BAR is rejected.
    assert.equal(dev.mmioRead(0xfff, 2), 0);
  });

  it('reset() restores the reset values and keeps the EDID', () => {
    const dev = makeDevice();
    dev.setEdid(new Uint8Array([1, 2, 3]), true);
    setMode(dev, { x: 4, y: 5 });
    setReg(dev, DISPI.BANK, 3);
    assert.notEqual(primary(dev), null);
    dev.reset();
    assert.equal(reg(dev, DISPI.ID), DISPI_ID5);
    assert.equal(reg(dev, DISPI.VIDEO_MEMORY_64K), 64);
    for (let i = 1; i < DISPI.VIDEO_MEMORY_64K; i++) assert.equal(reg(dev, i), 0);
    assert.equal(primary(dev), null);
    assert.equal(dev.mmioRead(0, 1), 1);
  });
});

describe('BochsDevice mode validation (spec §4.2)', () => {
  it('decodes a valid mode', () => {
    const dev = makeDevice();
    setMode(dev, { xres: 800, yres: 600 });
    const p = primary(dev);
    assert.ok(p);
    assert.equal(p.drmFormat, DRM_FORMAT.XRGB8888);
    assert.equal(p.modifier, 0n);
    assert.equal(p.width, 800);
    assert.equal(p.height, 600);
    assert.equal(p.stride, 3200);
    assert.equal(p.size, 3200 * 600);
    assert.equal(p.start, 0);
    assert.equal(p.pages.length, Math.ceil((3200 * 600) / PAGE_SIZE));
    assert.equal(p.pages[0], VRAM_FIRST);
    assert.equal(p.pages[p.pages.length - 1], VRAM_FIRST + p.pages.length - 1);
    assert.deepEqual([p.xPos, p.yPos, p.xHot, p.yHot], [0, 0, 0, 0]);
    assert.deepEqual(dev.mode, {
      drmFormat: DRM_FORMAT.XRGB8888, bytepp: 4, width: 800, height: 600, stride: 3200, offset: 0, size: 3200 * 600,
    });
  });

  it('requires the ENABLE bit 0x01; LFB and NOCLEARMEM are irrelevant', () => {
    const dev = makeDevice();
    setMode(dev, { enable: 0 });
    assert.equal(primary(dev), null);
    assert.equal(dev.mode, undefined);
    setMode(dev, { enable: DISPI_ENABLE.LFB_ENABLED | DISPI_ENABLE.NOCLEARMEM });
    assert.equal(primary(dev), null);
    setMode(dev, { enable: DISPI_ENABLE.ENABLED });
    assert.notEqual(primary(dev), null);
    setMode(dev, { enable: 0xffff });
    assert.notEqual(primary(dev), null);
  });

  it('accepts BPP 32 only', () => {
    const dev = makeDevice();
    for (const bpp of [0, 4, 8, 15, 16, 24, 31, 33, 64]) {
      setMode(dev, { bpp });
      assert.equal(primary(dev), null, `bpp ${bpp}`);
    }
    setMode(dev, { bpp: 32 });
    assert.equal(primary(dev)?.drmFormat, DRM_FORMAT.XRGB8888);
  });

  it('requires XRES ≥ 64 and YRES ≥ 64', () => {
    const dev = makeDevice();
    setMode(dev, { xres: 63, yres: 64 });
    assert.equal(primary(dev), null);
    setMode(dev, { xres: 64, yres: 63 });
    assert.equal(primary(dev), null);
    setMode(dev, { xres: 0, yres: 0 });
    assert.equal(primary(dev), null);
    setMode(dev, { xres: 64, yres: 64 });
    const p = primary(dev);
    assert.equal(p?.width, 64);
    assert.equal(p?.height, 64);
    assert.equal(p?.stride, 256);
    assert.equal(p?.size, 256 * 64);
  });

  it('uses virt_width = max(VIRT_WIDTH, XRES) for the stride', () => {
    const dev = makeDevice();
    setMode(dev, { xres: 640, yres: 480, virtWidth: 1024 });
    assert.equal(primary(dev)?.stride, 4096);
    assert.equal(primary(dev)?.size, 4096 * 480);
    assert.equal(primary(dev)?.width, 640);
    setMode(dev, { xres: 640, yres: 480, virtWidth: 320 });
    assert.equal(primary(dev)?.stride, 2560);
    setMode(dev, { xres: 640, yres: 480, virtWidth: 641 });
    assert.equal(primary(dev)?.stride, 2564);
  });

  it('computes offset = X_OFFSET*4 + Y_OFFSET*stride', () => {
    const dev = makeDevice();
    setMode(dev, { xres: 640, yres: 480, virtWidth: 1024, x: 3, y: 7 });
    assert.equal(primary(dev)?.start, 3 * 4 + 7 * 4096);
  });

  it('accepts offset + size exactly equal to VRAM and rejects anything past it', () => {
    const dev = makeDevice();
    // 1024 x 1024 at stride 4096 fills the 4 MiB exactly.
    setMode(dev, { xres: 1024, yres: 1024 });
    assert.equal(primary(dev)?.size, VRAM_BYTES);
    setMode(dev, { xres: 1024, yres: 1024, x: 1 });
    assert.equal(primary(dev), null);
    setMode(dev, { xres: 1024, yres: 1024, y: 1 });
    assert.equal(primary(dev), null);
    setMode(dev, { xres: 1024, yres: 1025 });
    assert.equal(primary(dev), null);
    // Panned: 640x480 in a 1024-wide virtual screen; size 480 rows, so Y may go up to 544.
    setMode(dev, { xres: 640, yres: 480, virtWidth: 1024, y: 544 });
    const p = primary(dev);
    assert.equal(p && p.start + p.size, VRAM_BYTES);
    assert.equal(p?.pages[p.pages.length - 1], VRAM_FIRST + VRAM_PAGES - 1);
    setMode(dev, { xres: 640, yres: 480, virtWidth: 1024, y: 543, x: 1024 });
    assert.notEqual(primary(dev), null);
    setMode(dev, { xres: 640, yres: 480, virtWidth: 1024, y: 543, x: 1025 });
    assert.equal(primary(dev), null);
    setMode(dev, { xres: 640, yres: 480, virtWidth: 1024, y: 545 });
    assert.equal(primary(dev), null);
    // Registers at their maxima overflow nothing: the mode is simply rejected.
    setMode(dev, { xres: 0xffff, yres: 0xffff, virtWidth: 0xffff, x: 0xffff, y: 0xffff });
    assert.equal(primary(dev), null);
  });

  it('checkBochsMode: one byte over the VRAM size is rejected', () => {
    const regs = new Uint16Array(DISPI_COUNT);
    regs[DISPI.ENABLE] = 1;
    regs[DISPI.BPP] = 32;
    regs[DISPI.XRES] = 100;
    regs[DISPI.YRES] = 100;
    regs[DISPI.X_OFFSET] = 3;
    const need = 3 * 4 + 400 * 100;
    assert.equal(checkBochsMode(regs, need)?.offset, 12);
    assert.equal(checkBochsMode(regs, need - 1), undefined);
  });

  it('rounds an unaligned plane out to whole pages', () => {
    const dev = makeDevice();
    // 640x480: size 1228800 = exactly 300 pages when aligned.
    setMode(dev, { xres: 640, yres: 480 });
    assert.equal(primary(dev)?.pages.length, 300);
    setMode(dev, { xres: 640, yres: 480, x: 1 });
    let p = primary(dev)!;
    assert.equal(p.start, 4);
    assert.equal(p.start % PAGE_SIZE !== 0, true);
    assert.equal(p.pages.length, 301);
    assert.equal(p.pages[0], VRAM_FIRST);
    assert.equal(p.pages[300], VRAM_FIRST + 300);
    // y = 3 rows of 2560 bytes: start 7680 (page 1 + 3584), end 1236480 → pages 1..301.
    setMode(dev, { xres: 640, yres: 480, y: 3 });
    p = primary(dev)!;
    assert.equal(p.start, 7680);
    assert.equal(p.pages.length, 301);
    assert.equal(p.pages[0], VRAM_FIRST + 1);
    assert.equal(p.pages[300], VRAM_FIRST + 301);
    // y = 8: start 20480 = 5 pages, aligned again.
    setMode(dev, { xres: 640, yres: 480, y: 8 });
    p = primary(dev)!;
    assert.equal(p.start, 5 * PAGE_SIZE);
    assert.equal(p.pages.length, 300);
    assert.deepEqual(Array.from(p.pages.subarray(0, 2)), [VRAM_FIRST + 5, VRAM_FIRST + 6]);
  });

  it('answers cursor, overlay and unknown plane types with null', () => {
    const dev = makeDevice();
    setMode(dev);
    assert.notEqual(primary(dev), null);
    assert.equal(dev.decodePlane(PlaneType.CURSOR), null);
    assert.equal(dev.decodePlane(PlaneType.OVERLAY), null);
    assert.equal(dev.decodePlane(7), null);
    assert.equal(dev.decodePlane(Number.NaN), null);
  });

  it('answers the first query after a mode change (no B12 -ENOMEM)', () => {
    const dev = makeDevice();
    setMode(dev, { xres: 640, yres: 480 });
    assert.equal(primary(dev)?.width, 640);
    setReg(dev, DISPI.XRES, 800);
    assert.equal(primary(dev)?.width, 800);
    setReg(dev, DISPI.Y_OFFSET, 2);
    assert.equal(primary(dev)?.start, 2 * 3200);
  });

  it('never decodes a page outside VRAM, whatever the registers', () => {
    fc.assert(fc.property(
      fc.array(
        fc.tuple(fc.integer({ min: 0, max: DISPI_COUNT - 1 }), fc.integer({ min: 0, max: 0xffff })),
        { maxLength: 20 },
      ),
      (writes) => {
        const dev = makeDevice();
        setMode(dev);
        for (const [i, v] of writes) setReg(dev, i, v);
        const p = primary(dev);
        if (p === null) return;
        assert.ok(p.start + p.size <= VRAM_BYTES);
        assert.equal(p.size, p.stride * p.height);
        for (const pg of p.pages) assert.ok(pg >= VRAM_FIRST && pg < VRAM_FIRST + VRAM_PAGES);
        assert.equal(p.pages.length, Math.ceil((p.start + p.size) / PAGE_SIZE) - Math.floor(p.start / PAGE_SIZE));
      },
    ), { numRuns: 300 });
  });
});

describe('BochsDevice display events', () => {
  it('fires mode for ENABLE/XRES/YRES/BPP/VIRT_WIDTH changes', () => {
    const dev = makeDevice();
    const seen = events(dev);
    const writes = [
      [DISPI.ENABLE, 1], [DISPI.XRES, 640], [DISPI.YRES, 480], [DISPI.BPP, 32], [DISPI.VIRT_WIDTH, 1024],
    ] as const;
    for (const [i, v] of writes) {
      seen.length = 0;
      setReg(dev, i, v);
      assert.deepEqual(seen, [{ kind: 'mode', planeType: PlaneType.PRIMARY }], `register ${i}`);
      seen.length = 0;
      setReg(dev, i, v); // same value: nothing changed
      assert.deepEqual(seen, []);
    }
  });

  it('fires flip for X_OFFSET/Y_OFFSET changes (panning)', () => {
    const dev = makeDevice();
    setMode(dev);
    const seen = events(dev);
    setReg(dev, DISPI.Y_OFFSET, 480);
    setReg(dev, DISPI.X_OFFSET, 8);
    setReg(dev, DISPI.X_OFFSET, 8);
    assert.deepEqual(seen, [{ kind: 'flip', planeType: 1 }, { kind: 'flip', planeType: 1 }]);
  });

  it('fires nothing for ID, BANK, VIRT_HEIGHT, ignored accesses and vblank', () => {
    const dev = makeDevice();
    const seen = events(dev);
    setReg(dev, DISPI.BANK, 2);
    setReg(dev, DISPI.VIRT_HEIGHT, 960);
    setReg(dev, DISPI.ID, 0xb0c4);
    setReg(dev, DISPI.VIDEO_MEMORY_64K, 1);
    dev.mmioWrite(dispiOffset(DISPI.XRES), 4, 640);
    dev.mmioWrite(0x400, 2, 1);
    dev.vblank();
    assert.deepEqual(seen, []);
  });

  it('fires mode on reset', () => {
    const dev = makeDevice();
    const seen = events(dev);
    dev.reset();
    assert.deepEqual(seen, [{ kind: 'mode', planeType: PlaneType.PRIMARY }]);
  });

  it('vblank only counts', () => {
    const dev = makeDevice();
    setMode(dev);
    const before = primary(dev);
    dev.vblank();
    dev.vblank();
    assert.equal(dev.vblankCount, 2);
    assert.equal(primary(dev), before);
  });
});

describe('BochsDevice EDID block', () => {
  const blob = Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + 1) & 0xff);

  it('reads zeros until an EDID is set with the link up', () => {
    const dev = makeDevice();
    assert.equal(dev.mmioRead(0, 4), 0);
    dev.setEdid(blob, false);
    assert.equal(dev.mmioRead(0, 1), 0);
    assert.equal(dev.mmioRead(0, 4), 0);
    dev.setEdid(blob, true);
    assert.equal(dev.mmioRead(0, 1), blob[0]);
    assert.equal(dev.mmioRead(1, 1), blob[1]);
    assert.equal(dev.mmioRead(4, 2), blob[4]! | (blob[5]! << 8));
    assert.equal(dev.mmioRead(8, 4), (blob[8]! | (blob[9]! << 8) | (blob[10]! << 16) | (blob[11]! << 24)) >>> 0);
    assert.equal(dev.mmioRead(255, 1), blob[255]);
    dev.setEdid(blob, false);
    assert.equal(dev.mmioRead(0, 1), 0);
  });

  it('reads zeros past the blob, and for no blob', () => {
    const dev = makeDevice();
    dev.setEdid(blob, true);
    assert.equal(dev.mmioRead(256, 4), 0);
    assert.equal(dev.mmioRead(0x3fc, 4), 0);
    assert.equal(dev.mmioRead(254, 4), blob[254]! | (blob[255]! << 8));
    dev.setEdid(undefined, true);
    assert.equal(dev.mmioRead(0, 4), 0);
    assert.deepEqual(dev.edid, { blob: undefined, linkUp: true });
  });

  it('copies the blob and clamps it to 0x400 bytes', () => {
    const dev = makeDevice();
    const big = new Uint8Array(0x500).fill(0xab);
    dev.setEdid(big, true);
    big.fill(0);
    assert.equal(dev.mmioRead(0x3ff, 1), 0xab);
    assert.equal(dev.edid.blob?.length, 0x400);
    // A read starting at 0x3fe runs past the EDID block: the tail reads 0 (upstream over-reads).
    assert.equal(dev.mmioRead(0x3fe, 4), 0xabab);
    assert.equal(dev.edid.linkUp, true);
  });
});

describe('BochsDevice VRAM and config', () => {
  it('vramView is a zero-copy view at vramFirstPage*4096 + offset', () => {
    const dev = makeDevice();
    const v = dev.vramView(8192, 16);
    v[0] = 0x5a;
    assert.equal(dev.memory.bytes[VRAM_FIRST * PAGE_SIZE + 8192], 0x5a);
    dev.memory.bytes[VRAM_FIRST * PAGE_SIZE] = 0x77;
    assert.equal(dev.vramView(0, 1)[0], 0x77);
    assert.equal(dev.vramView(VRAM_BYTES - 4, 4).length, 4);
    assert.equal(dev.vramView(VRAM_BYTES, 0).length, 0);
  });

  it('vramView throws RangeError outside VRAM', () => {
    const dev = makeDevice();
    for (const [o, l] of [[-1, 1], [0, VRAM_BYTES + 1], [VRAM_BYTES, 1], [VRAM_BYTES - 1, 2], [0.5, 1], [0, -1]]) {
      assert.throws(() => dev.vramView(o!, l!), RangeError, `${o}+${l}`);
    }
  });

  it('has QEMU stdvga identity and sizes its BARs', () => {
    const dev = makeDevice();
    assert.equal(dev.configRead(0x00, 2), 0x1234);
    assert.equal(dev.configRead(0x02, 2), 0x1111);
    assert.equal(dev.configRead(0x00, 4), 0x11111234);
    assert.equal(dev.configRead(0x0a, 2), 0x0380);
    assert.equal(dev.configRead(0x2c, 2), 0x1af4);
    assert.equal(dev.configRead(0x2e, 2), 0x1100);
    assert.equal(dev.configRead(0x10, 4), 0x8);
    assert.equal(dev.configRead(0x18, 4), 0x0);
    dev.configWrite(0x10, 4, 0xffffffff);
    assert.equal(dev.configRead(0x10, 4), ((-VRAM_BYTES >>> 0) | 0x8) >>> 0);
    dev.configWrite(0x18, 4, 0xffffffff);
    assert.equal(dev.configRead(0x18, 4), 0xfffff000);
    dev.configWrite(0x10, 4, 0xe0000000);
    assert.equal(dev.configRead(0x10, 4), 0xe0000008);
  });
});
