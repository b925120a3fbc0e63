import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory, PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import type { DisplayEvent } from '../Plane.ts';
import { MDPY_TYPES, mdpyMemsize, roundUpPowerOfTwo } from './MdpyTypes.ts';
import { RegionDevice } from './RegionDevice.ts';

const MiB = 1024 * 1024;
const FB_FIRST = 8;

function makeDevice(width = 640, height = 480, grayGradient = false): RegionDevice {
  const pages = Math.ceil(mdpyMemsize(width, height) / PAGE_SIZE);
  const memory = new GuestMemory((FB_FIRST + pages + 4) * PAGE_SIZE);
  return new RegionDevice({ memory, fbFirstPage: FB_FIRST, width, height, grayGradient });
}

describe('mdpy types', () => {
  // The spec table says 16 MiB for mdpy-hd, but 1920*1080*4 = 8294400 rounds up to 8 MiB, which is
  // what mdpy_init_dev's roundup_pow_of_two gives: the formula wins.
  it('have roundup_pow_of_two(w*h*4) framebuffers of 2, 4 and 8 MiB', () => {
    const t = (width: number, height: number, memsize: number) =>
      ({ width, height, format: DRM_FORMAT.XRGB8888, bytepp: 4, memsize });
    assert.deepEqual(MDPY_TYPES['mdpy-vga'], t(640, 480, 2 * MiB));
    assert.deepEqual(MDPY_TYPES['mdpy-xga'], t(1024, 768, 4 * MiB));
    assert.deepEqual(MDPY_TYPES['mdpy-hd'], t(1920, 1080, 8 * MiB));
  });

  it('roundUpPowerOfTwo', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 4096, 4097].map(roundUpPowerOfTwo), [1, 2, 4, 4, 8, 4096, 8192]);
  });
});

describe('RegionDevice construction', () => {
  it('rejects bad geometry, unknown formats and ranges outside guest memory', () => {
    const memory = new GuestMemory(1024 * PAGE_SIZE); // 4 MiB
    assert.throws(() => new RegionDevice({ memory, fbFirstPage: 0, width: 0, height: 480 }), RangeError);
    assert.throws(() => new RegionDevice({ memory, fbFirstPage: 0, width: 640.5, height: 480 }), RangeError);
    assert.throws(() => new RegionDevice({ memory, fbFirstPage: -1, width: 640, height: 480 }), RangeError);
    assert.throws(() => new RegionDevice({ memory, fbFirstPage: 0, width: 640, height: 480, format: 0x12345678 }), RangeError);
    // 2 MiB = 512 pages: fits at 512, not at 513.
    assert.ok(new RegionDevice({ memory, fbFirstPage: 512, width: 640, height: 480 }));
    assert.throws(() => new RegionDevice({ memory, fbFirstPage: 513, width: 640, height: 480 }), RangeError);
  });

  it('exposes the framebuffer geometry', () => {
    const dev = makeDevice(1024, 768);
    assert.equal(dev.kind, 'region');
    assert.equal(dev.memsize, 4 * MiB);
    assert.equal(dev.fbPages, 1024);
    assert.equal(dev.fbFirstPage, FB_FIRST);
    assert.equal(dev.stride, 4096);
    assert.equal(dev.format, DRM_FORMAT.XRGB8888);
  });
});

describe('RegionDevice config space', () => {
  it('has the mdpy identity and vendor capability at 0x40', () => {
    const dev = makeDevice(1024, 768);
    assert.equal(dev.configRead(0x00, 2), 0x1b36);
    assert.equal(dev.configRead(0x02, 2), 0x000f);
    assert.equal(dev.configRead(0x06, 2) & 0x10, 0x10); // capability list present
    assert.equal(dev.configRead(0x0a, 2), 0x0380);
    assert.equal(dev.configRead(0x2c, 2), 0x1af4);
    assert.equal(dev.configRead(0x2e, 2), 0x1100);
    assert.equal(dev.configRead(0x10, 4), 0x8); // 32-bit prefetchable memory BAR
    assert.equal(dev.configRead(0x34, 1), 0x40);
    assert.equal(dev.configRead(0x40, 1), 0x09); // PCI_CAP_ID_VNDR
    assert.equal(dev.configRead(0x41, 1), 0x00); // end of list
    assert.equal(dev.configRead(0x42, 1), 0x10); // capability size
    assert.equal(dev.configRead(0x44, 4), DRM_FORMAT.XRGB8888);
    assert.equal(dev.configRead(0x48, 4), 1024);
    assert.equal(dev.configRead(0x4c, 4), 768);
    assert.equal(dev.configRead(0x44, 1), 0x58); // 'X', little-endian
    assert.equal(dev.configRead(0x48, 2), 1024);
  });

  it('sizes BAR0 to memsize and ignores other writes', () => {
    const dev = makeDevice();
    dev.configWrite(0x10, 4, 0xffffffff);
    assert.equal(dev.configRead(0x10, 4), (0xffe00000 | 0x8) >>> 0);
    dev.configWrite(0x10, 4, 0xc0000001);
    assert.equal(dev.configRead(0x10, 4), 0xc0000008);
    dev.configWrite(0x10, 2, 0xffff); // not a 4-byte write: ignored
    assert.equal(dev.configRead(0x10, 4), 0xc0000008);
    dev.configWrite(0x48, 4, 1);
    dev.configWrite(0x00, 2, 0);
    assert.equal(dev.configRead(0x48, 4), 640);
    assert.equal(dev.configRead(0x00, 2), 0x1b36);
  });

  it('never throws on a bad config access', () => {
    const dev = makeDevice();
    for (const [o, s] of [[-1, 1], [256, 1], [254, 4], [0, 3], [1.5, 1], [Number.NaN, 4]]) {
      assert.equal(dev.configRead(o!, s!), 0);
      dev.configWrite(o!, s!, 0xffffffff);
    }
  });
});

describe('RegionDevice plane', () => {
  it('always decodes the framebuffer, whatever the plane type', () => {
    const dev = makeDevice(640, 480);
    for (const t of [PlaneType.PRIMARY, PlaneType.CURSOR, PlaneType.OVERLAY, 42]) {
      const p = dev.decodePlane(t);
      assert.equal(p.drmFormat, DRM_FORMAT.XRGB8888);
      assert.equal(p.modifier, 0n);
      assert.equal(p.width, 640);
      assert.equal(p.height, 480);
      assert.equal(p.stride, 2560);
      assert.equal(p.size, 2 * MiB); // region size, not 2560 * 480
      assert.equal(p.start, 0);
      assert.deepEqual([p.xPos, p.yPos, p.xHot, p.yHot], [0, 0, 0, 0]);
      assert.equal(p.pages.length, 512);
      assert.equal(p.pages[0], FB_FIRST);
      assert.equal(p.pages[511], FB_FIRST + 511);
    }
  });

  it('is never disabled, even after reset', () => {
    const dev = makeDevice();
    dev.reset();
    assert.notEqual(dev.decodePlane(PlaneType.PRIMARY), null);
  });

  it('uses the format bytes per pixel for the stride and memsize', () => {
    const memory = new GuestMemory(1024 * PAGE_SIZE);
    const dev = new RegionDevice({ memory, fbFirstPage: 0, width: 640, height: 480, format: DRM_FORMAT.RGB565 });
    assert.equal(dev.decodePlane(PlaneType.PRIMARY).stride, 1280);
    assert.equal(dev.memsize, MiB);
    assert.equal(dev.configRead(0x44, 4), DRM_FORMAT.RGB565);
  });
});

describe('RegionDevice framebuffer access', () => {
  it('fbView honours the offset (upstream pread/pwrite always hit offset 0)', () => {
    const dev = makeDevice();
    const v = dev.fbView(4096 + 12, 4);
    v.set([1, 2, 3, 4]);
    assert.deepEqual(Array.from(dev.memory.bytes.subarray((FB_FIRST + 1) * PAGE_SIZE + 12, (FB_FIRST + 1) * PAGE_SIZE + 16)), [1, 2, 3, 4]);
    assert.equal(dev.fbView(0, 1)[0], 0);
    assert.equal(dev.fbView(dev.memsize - 1, 1).length, 1);
    assert.equal(dev.fbView(dev.memsize, 0).length, 0);
  });

  it('fbView throws RangeError outside the framebuffer', () => {
    const dev = makeDevice();
    const m = dev.memsize;
    for (const [o, l] of [[-1, 1], [0, m + 1], [m, 1], [m - 2, 3], [0, -1], [0.5, 1]]) {
      assert.throws(() => dev.fbView(o!, l!), RangeError, `${o}+${l}`);
    }
  });

  it('paints the gray gradient at creation and on reset when asked', () => {
    const dev = makeDevice(640, 480, true);
    const fb = dev.fbView(0, dev.memsize);
    assert.equal(fb[0], 0);
    assert.equal(fb[2560 * 240], Math.floor((240 * 255) / 480));
    assert.equal(fb[2560 * 479 + 2559], Math.floor((479 * 255) / 480));
    assert.equal(fb[2560 * 480], 0); // past the visible rows: untouched
    fb.fill(0xee, 0, 2560 * 480);
    dev.reset();
    assert.equal(fb[2560 * 240], 127);
    const plain = makeDevice(640, 480, false);
    assert.equal(plain.fbView(2560 * 240, 1)[0], 0);
  });
});

describe('RegionDevice events', () => {
  it('fires mode on reset only; vblank does nothing', () => {
    const dev = makeDevice();
    const seen: DisplayEvent[] = [];
    dev.onDisplayEvent((e) => seen.push(e));
    dev.vblank();
    dev.decodePlane(PlaneType.PRIMARY);
    dev.configWrite(0x10, 4, 0xffffffff);
    dev.fbView(0, 4).fill(1);
    assert.deepEqual(seen, []);
    dev.reset();
    assert.deepEqual(seen, [{ kind: 'mode', planeType: PlaneType.PRIMARY }]);
  });
});
