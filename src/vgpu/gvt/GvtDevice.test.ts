import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Errno } from '../../base/Errno.ts';
import { Ggtt } from '../../gpu/Ggtt.ts';
import { GuestMemory } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import { HOTSPOT_UNKNOWN, type DecodedPlane, type DisplayEvent, type PlaneDecode } from '../Plane.ts';
import { GvtDevice } from './GvtDevice.ts';
import {
  CURSOR_X_HOT,
  CURSOR_Y_HOT,
  CUR_BASE,
  CUR_CTL,
  CUR_POS,
  CUR_SURFLIVE,
  GTT_BASE,
  PIPECONF,
  PIPECONF_ENABLE,
  PIPECONF_STATE,
  PIPESRC,
  PIPE_FLIPCOUNT,
  PIPE_FRMCOUNT,
  PLANE_CTL,
  PLANE_OFFSET,
  PLANE_STRIDE,
  PLANE_SURF,
  PLANE_SURFLIVE,
  PVINFO,
  PVINFO_BASE,
  SPRITE_CTL,
  SPRITE_POS,
  SPRITE_SIZE,
  SPRITE_STRIDE,
  SPRITE_SURF,
  VGT_MAGIC,
  curPosValue,
  gttPte,
  pipesrcValue,
  planeCtlValue,
  planeSizeValue,
} from './GvtRegisters.ts';

const MiB = 1 << 20;
const PAGE = 4096;
/** VM 1: aperture [1 MiB, 3 MiB), hidden [9 MiB, 13 MiB); 4 MiB of memory (1024 pages). */
const AP = 1 * MiB;
const AP_END = 3 * MiB;
const HID = 9 * MiB;
const HID_END = 13 * MiB;

interface Rig {
  ggtt: Ggtt;
  mem: GuestMemory;
  dev: GvtDevice;
  events: DisplayEvent[];
}

function rig(opts: { exportOverlay?: boolean } = {}): Rig {
  const ggtt = new Ggtt(4096); // 16 MiB, 8 MiB mappable
  const mem = new GuestMemory(4 * MiB);
  ggtt.assign(1, {
    aperture: { base: AP, size: 2 * MiB },
    hidden: { base: HID, size: 4 * MiB },
    guestPageCount: mem.pageCount,
  });
  const dev = new GvtDevice({ memory: mem, ggtt, vmId: 1, ...opts });
  const events: DisplayEvent[] = [];
  dev.onDisplayEvent((e) => events.push(e));
  // decodePlane must not read guest memory at all.
  mem.accessProbe = () => assert.fail('decodePlane touched guest memory');
  return { ggtt, mem, dev, events };
}

/** Map `pages` graphics pages from `gma` to guest pages firstGuestPage.. through the GTT window. */
function map(dev: GvtDevice, gma: number, pages: number, firstGuestPage: number): void {
  for (let i = 0; i < pages; i++) dev.mmioWrite64(GTT_BASE + 8 * (gma / PAGE + i), gttPte(firstGuestPage + i));
}

/** Enable pipe `p` with a w×h source and a primary plane at `surf`, then latch with a vblank. */
interface PrimaryOpts { pipe?: number; w?: number; h?: number; ctl?: number; stride?: number; surf?: number }

function primary(dev: GvtDevice, o: PrimaryOpts = {}): void {
  const p = o.pipe ?? 0;
  dev.mmioWrite32(PIPESRC(p), pipesrcValue(o.w ?? 64, o.h ?? 32));
  dev.mmioWrite32(PLANE_CTL(p), o.ctl ?? planeCtlValue({ format: 4 }));
  dev.mmioWrite32(PLANE_STRIDE(p), o.stride ?? 4); // 4 × 64 = 256 bytes = 64 px XRGB
  dev.mmioWrite32(PLANE_SURF(p), o.surf ?? AP);
  dev.mmioWrite32(PIPECONF(p), PIPECONF_ENABLE);
  dev.vblank();
}

function plane(d: PlaneDecode): DecodedPlane {
  assert.ok(d !== null && typeof d === 'object', `expected a plane, got ${String(d)}`);
  return d;
}

describe('GvtDevice construction', () => {
  it('needs GGTT slices for the vmId and matching memory', () => {
    const ggtt = new Ggtt(4096);
    const mem = new GuestMemory(MiB);
    assert.throws(() => new GvtDevice({ memory: mem, ggtt, vmId: 3 }), /no GGTT slices/);
    ggtt.assign(3, { aperture: { base: 0, size: MiB }, hidden: { base: 8 * MiB, size: MiB }, guestPageCount: 100 });
    assert.throws(() => new GvtDevice({ memory: mem, ggtt, vmId: 3 }), /guest pages/);
    const { dev } = rig();
    assert.equal(dev.kind, 'gvt');
    assert.deepEqual(dev.aperture, { base: AP, size: 2 * MiB });
    assert.deepEqual(dev.hidden, { base: HID, size: 4 * MiB });
    assert.equal(dev.exportOverlay, true);
  });
});

describe('GvtDevice MMIO', () => {
  it('reads back plane and pipe registers; PIPECONF mirrors bit 31 into bit 30', () => {
    const { dev } = rig();
    dev.mmioWrite32(PLANE_STRIDE(1), 0x12345678);
    assert.equal(dev.mmioRead32(PLANE_STRIDE(1)), 0x12345678);
    dev.mmioWrite32(PLANE_OFFSET(2), 0xdeadbeef);
    assert.equal(dev.mmioRead32(PLANE_OFFSET(2)), 0xdeadbeef);
    dev.mmioWrite32(PIPECONF(0), PIPECONF_ENABLE);
    assert.equal(dev.mmioRead32(PIPECONF(0)), (PIPECONF_ENABLE | PIPECONF_STATE) >>> 0);
    dev.mmioWrite32(PIPECONF(0), PIPECONF_STATE);
    assert.equal(dev.mmioRead32(PIPECONF(0)), 0);
    dev.mmioWrite32(PIPESRC(2), pipesrcValue(1920, 1080));
    assert.equal(dev.mmioRead32(PIPESRC(2)), ((1919 << 16) | 1079) >>> 0);
  });

  it('ignores unknown, read-only, misaligned and out-of-BAR accesses without throwing', () => {
    const { dev } = rig();
    assert.equal(dev.mmioRead32(0x1234), 0);
    dev.mmioWrite32(0x1234, 5);
    assert.equal(dev.mmioRead32(0x1234), 0);
    dev.mmioWrite32(PLANE_SURFLIVE(0), 0x1000); // read-only
    assert.equal(dev.mmioRead32(PLANE_SURFLIVE(0)), 0);
    dev.mmioWrite32(PIPE_FRMCOUNT(0), 7); // read-only
    assert.equal(dev.mmioRead32(PIPE_FRMCOUNT(0)), 0);
    dev.mmioWrite32(PVINFO_BASE + PVINFO.VGT_ID, 99); // read-only
    assert.equal(dev.mmioRead32(PVINFO_BASE + PVINFO.VGT_ID), 1);
    assert.deepEqual(dev.counters, { ignoredWrites: 4, unknownReads: 2, misaligned: 0 });

    dev.mmioWrite32(PLANE_CTL(0) + 1, 0xffffffff);
    dev.mmioWrite32(PLANE_CTL(0) + 2, 0xffffffff);
    assert.equal(dev.mmioRead32(PLANE_CTL(0)), 0);
    assert.equal(dev.mmioRead32(PLANE_CTL(0) + 1), 0);
    dev.mmioWrite64(PLANE_CTL(0) + 4, 0xffffffffn);
    assert.equal(dev.mmioRead64(GTT_BASE + 4), 0n);
    for (const bad of [-4, Number.NaN, Infinity, 1.5]) {
      dev.mmioWrite32(bad, 1);
      assert.equal(dev.mmioRead32(bad), 0);
    }
    assert.equal(dev.counters.misaligned, 13);
    dev.mmioWrite32(0x1000000, 1);
    dev.mmioWrite64(0x1000000, 1n);
    assert.equal(dev.mmioRead32(0x1000000), 0);
    assert.equal(dev.counters.ignoredWrites, 6);
    // Wrong value types from an untrusted caller are ignored too.
    dev.mmioWrite32(PLANE_STRIDE(0), 'x' as unknown as number);
    dev.mmioWrite64(PLANE_STRIDE(0), 5 as unknown as bigint);
    assert.equal(dev.mmioRead32(PLANE_STRIDE(0)), 0);
  });

  it('splits 64-bit register accesses into two dwords, low first', () => {
    const { dev } = rig();
    dev.mmioWrite64(PLANE_STRIDE(0), 0x0000000a00000004n); // STRIDE, then POS
    assert.equal(dev.mmioRead32(PLANE_STRIDE(0)), 4);
    assert.equal(dev.mmioRead32(PLANE_STRIDE(0) + 4), 0xa);
    assert.equal(dev.mmioRead64(PLANE_STRIDE(0)), 0xa00000004n);
  });

  it('exposes the PV-info page: magic, version, id, slices, hotspot', () => {
    const { dev } = rig();
    assert.equal(dev.mmioRead64(PVINFO_BASE), VGT_MAGIC);
    assert.equal(dev.mmioRead32(PVINFO_BASE + PVINFO.VERSION), 1);
    assert.equal(dev.mmioRead32(PVINFO_BASE + PVINFO.VGT_ID), 1);
    assert.equal(dev.mmioRead32(PVINFO_BASE + PVINFO.APERTURE_BASE), AP);
    assert.equal(dev.mmioRead32(PVINFO_BASE + PVINFO.APERTURE_SIZE), 2 * MiB);
    assert.equal(dev.mmioRead32(PVINFO_BASE + PVINFO.HIDDEN_BASE), HID);
    assert.equal(dev.mmioRead32(PVINFO_BASE + PVINFO.HIDDEN_SIZE), 4 * MiB);
    assert.equal(dev.mmioRead32(CURSOR_X_HOT), HOTSPOT_UNKNOWN);
    assert.equal(dev.mmioRead32(CURSOR_Y_HOT), HOTSPOT_UNKNOWN);
    dev.mmioWrite32(PVINFO_BASE + PVINFO.DISPLAY_READY, 1);
    assert.equal(dev.mmioRead32(PVINFO_BASE + PVINFO.DISPLAY_READY), 1);
    assert.equal(dev.mmioRead32(PVINFO_BASE + 0x900), 0);
  });

  it('GTT window: validated writes, read-back of own entries only', () => {
    const { dev, ggtt } = rig();
    const idx = AP / PAGE;
    dev.mmioWrite64(GTT_BASE + 8 * idx, gttPte(12));
    assert.equal(ggtt.translate(1, AP), 12);
    assert.equal(dev.mmioRead64(GTT_BASE + 8 * idx), gttPte(12));
    assert.equal(dev.mmioRead32(GTT_BASE + 8 * idx), 0xc001);
    assert.equal(dev.mmioRead32(GTT_BASE + 8 * idx + 4), 0);
    // Two 32-bit halves.
    dev.mmioWrite32(GTT_BASE + 8 * (idx + 1), 0xd001);
    dev.mmioWrite32(GTT_BASE + 8 * (idx + 1) + 4, 0);
    assert.equal(ggtt.translate(1, AP + PAGE), 13);
    // Outside the slices: dropped and counted by the Ggtt.
    dev.mmioWrite64(GTT_BASE, gttPte(1));
    dev.mmioWrite64(GTT_BASE + 8 * 4095 + 8, gttPte(1)); // beyond the 4096-entry GGTT
    dev.mmioWrite64(GTT_BASE + 0x7ffff8, gttPte(1)); // last entry of the window
    assert.equal(ggtt.counters(1).droppedWrites, 3);
    assert.equal(dev.mmioRead64(GTT_BASE), 0n);
    // A page outside the 1024-page memory: stored invalid, counted.
    dev.mmioWrite64(GTT_BASE + 8 * idx, gttPte(1024));
    assert.equal(ggtt.translate(1, AP), -1);
    assert.equal(ggtt.counters(1).invalidPtes, 1);
  });
});

describe('GvtDevice.decodePlane: pipes and plane types', () => {
  it('returns null with no enabled pipe and -EINVAL for unknown plane types', () => {
    const { dev } = rig();
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), null);
    assert.equal(dev.decodePlane(PlaneType.CURSOR), null);
    assert.equal(dev.decodePlane(PlaneType.OVERLAY), null);
    for (const t of [3, 4, -1, 1.5, Number.NaN, 0xffffffff]) assert.equal(dev.decodePlane(t), -Errno.EINVAL);
  });

  it('decodes a linear XRGB primary plane', () => {
    const { dev } = rig();
    map(dev, AP, 2, 100);
    primary(dev);
    const p = plane(dev.decodePlane(PlaneType.PRIMARY));
    assert.equal(p.drmFormat, DRM_FORMAT.XRGB8888);
    assert.equal(p.modifier, DRM_FORMAT_MOD.LINEAR);
    assert.deepEqual([p.width, p.height, p.stride, p.size, p.start], [64, 32, 256, 8192, AP]);
    assert.deepEqual([...p.pages], [100, 101]);
    // GVT-g's vgpu_get_plane_info zeroes fb_info; only the cursor decode writes a hotspot.
    assert.deepEqual([p.xPos, p.yPos, p.xHot, p.yHot], [0, 0, 0, 0]);
  });

  it('plane disabled → null even on an enabled pipe', () => {
    const { dev } = rig();
    map(dev, AP, 2, 100);
    primary(dev, { ctl: planeCtlValue({ format: 4, enable: false }) });
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), null);
  });

  it('exports only the first enabled pipe', () => {
    const { dev } = rig();
    map(dev, AP, 64, 100);
    primary(dev, { pipe: 1, w: 32, h: 16, stride: 2 });
    assert.equal(dev.activePipe, 1);
    const b = plane(dev.decodePlane(PlaneType.PRIMARY));
    assert.deepEqual([b.width, b.height], [32, 16]);
    // Pipe C enabled too: B still wins.
    primary(dev, { pipe: 2, w: 48, h: 8, stride: 4 });
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).width, 32);
    // Pipe A enabled with its plane off: A wins and reports a disabled plane.
    dev.mmioWrite32(PIPECONF(0), PIPECONF_ENABLE);
    assert.equal(dev.activePipe, 0);
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), null);
    dev.mmioWrite32(PIPECONF(0), 0);
    dev.mmioWrite32(PIPECONF(1), 0);
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).width, 48);
  });
});

describe('GvtDevice.decodePlane: formats (B4) and tiling', () => {
  const SUPPORTED = new Set([0x0, 0x2, 0x4, 0xc, 0xe]);

  it('every PLANE_CTL format 0..15 × order × alpha: supported decode, others -EINVAL', () => {
    const { dev } = rig();
    map(dev, AP, 4, 100);
    primary(dev, { w: 16, h: 16 }); // 256 × 16 = 4 KiB
    for (let fmt = 0; fmt < 16; fmt++) {
      for (const rgbxOrder of [false, true]) {
        for (const alpha of [0, 1, 2, 3]) {
          dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: fmt, rgbxOrder, alpha }));
          const d = dev.decodePlane(PlaneType.PRIMARY);
          if (SUPPORTED.has(fmt)) assert.equal(typeof d, 'object', `fmt ${fmt}`);
          else assert.equal(d, -Errno.EINVAL, `fmt ${fmt}`);
        }
      }
    }
    dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: 4, rgbxOrder: true, alpha: 2 }));
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).drmFormat, DRM_FORMAT.ABGR8888);
    dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: 0, yuvOrder: 3 }));
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).drmFormat, DRM_FORMAT.VYUY);
    dev.mmioWrite32(PLANE_CTL(0), 0xffffffff); // every reserved bit set, format 0xF
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EINVAL);
  });

  it('every tiling value 0..7: modifier, stride units, tile-rounded size', () => {
    const { dev } = rig();
    map(dev, AP, 64, 100);
    // 100 × 50, stride register 4.
    const cases: Array<[number, bigint, number, number]> = [
      [0, DRM_FORMAT_MOD.LINEAR, 256, 256 * 50],
      [1, DRM_FORMAT_MOD.I915_X_TILED, 2048, 2048 * 56],
      [2, DRM_FORMAT_MOD.LINEAR, 4, 4 * 50], // unknown tiling: GVT quirk, raw units
      [3, DRM_FORMAT_MOD.LINEAR, 4, 4 * 50],
      [4, DRM_FORMAT_MOD.I915_Y_TILED, 512, 512 * 64],
      [5, DRM_FORMAT_MOD.I915_Yf_TILED, 512, 512 * 64],
      [6, DRM_FORMAT_MOD.LINEAR, 4, 4 * 50],
      [7, DRM_FORMAT_MOD.LINEAR, 4, 4 * 50],
    ];
    primary(dev, { w: 100, h: 50 });
    for (const [t, mod, stride, size] of cases) {
      dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: 4, tiling: t }));
      const p = plane(dev.decodePlane(PlaneType.PRIMARY));
      assert.deepEqual([p.modifier, p.stride, p.size, p.height], [mod, stride, size, 50], `tiling ${t}`);
      assert.equal(p.pages.length, Math.ceil(size / PAGE));
    }
    // Yf with 8 bpp uses 64-byte units.
    dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: 0xc, tiling: 5 }));
    const yf = plane(dev.decodePlane(PlaneType.PRIMARY));
    assert.deepEqual([yf.stride, yf.size], [256, 256 * 64]);
  });

  it('stride 0 (size 0) → -EINVAL', () => {
    const { dev } = rig();
    map(dev, AP, 2, 100);
    primary(dev, { stride: 0 });
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EINVAL);
    dev.mmioWrite32(PLANE_STRIDE(0), 0x400); // only bits 9:0 count
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EINVAL);
  });
});

describe('GvtDevice.decodePlane: surface validation (B1, B5, isolation)', () => {
  it('accepts an exact fit at the end of the aperture, rejects one page past it', () => {
    const { dev } = rig();
    map(dev, AP_END - 2 * PAGE, 2, 200);
    primary(dev, { surf: AP_END - 2 * PAGE }); // 8 KiB: exact fit
    assert.deepEqual([...plane(dev.decodePlane(PlaneType.PRIMARY)).pages], [200, 201]);
    dev.mmioWrite32(PIPESRC(0), pipesrcValue(64, 33)); // 8448 bytes: 3 pages, one past the end
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EFAULT);
  });

  it('accepts an exact fit at the end of the hidden slice, rejects one page past it', () => {
    const { dev } = rig();
    map(dev, HID_END - 2 * PAGE, 2, 300);
    primary(dev, { surf: HID_END - 2 * PAGE });
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).start, HID_END - 2 * PAGE);
    dev.mmioWrite32(PIPESRC(0), pipesrcValue(64, 33));
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EFAULT);
  });

  it('rejects a framebuffer straddling aperture → hidden although both ends are valid', () => {
    const { dev, ggtt } = rig();
    const surf = AP_END - PAGE;
    map(dev, surf, 1, 50);
    // Linear, 0x3FF × 64 = 65472 bytes per row, 100 rows: ends inside the hidden slice.
    primary(dev, { surf, stride: 0x3ff, w: 4096, h: 100 });
    const end = surf + 65472 * 100 - 1;
    assert.ok(ggtt.isValidGma(1, surf) && ggtt.isValidGma(1, end), 'both ends valid on their own');
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EFAULT);
  });

  it('base outside the VM\'s slices or unmapped → -EINVAL', () => {
    const { dev } = rig();
    primary(dev, { surf: 0 });
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EINVAL);
    dev.mmioWrite32(PLANE_SURF(0), 5 * MiB); // between the slices
    dev.vblank();
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EINVAL);
    dev.mmioWrite32(PLANE_SURF(0), AP); // in range but no PTE
    dev.vblank();
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EINVAL);
  });

  it('a page in the middle unmapped or outside VM memory → -EINVAL', () => {
    const { dev } = rig();
    map(dev, AP, 3, 100);
    primary(dev, { h: 48 }); // 3 pages
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).pages.length, 3);
    dev.mmioWrite64(GTT_BASE + 8 * (AP / PAGE + 1), gttPte(1024)); // one past memory
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EINVAL);
    dev.mmioWrite64(GTT_BASE + 8 * (AP / PAGE + 1), gttPte(101) & ~1n); // valid bit clear
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), -Errno.EINVAL);
    dev.mmioWrite64(GTT_BASE + 8 * (AP / PAGE + 1), gttPte(1023)); // last page: fine
    assert.deepEqual([...plane(dev.decodePlane(PlaneType.PRIMARY)).pages], [100, 1023, 102]);
  });

  it('low bits of PLANE_SURF are masked off', () => {
    const { dev } = rig();
    map(dev, AP, 2, 100);
    primary(dev, { surf: AP | 0xfff });
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).start, AP);
  });

  it('two VMs on one Ggtt cannot reach each other\'s entries', () => {
    const a = rig();
    const memB = new GuestMemory(MiB);
    a.ggtt.assign(2, {
      aperture: { base: 4 * MiB, size: MiB },
      hidden: { base: 14 * MiB, size: MiB },
      guestPageCount: memB.pageCount,
    });
    const b = new GvtDevice({ memory: memB, ggtt: a.ggtt, vmId: 2 });
    map(b, 4 * MiB, 2, 7);
    primary(b, { surf: 4 * MiB });
    assert.deepEqual([...plane(b.decodePlane(PlaneType.PRIMARY)).pages], [7, 8]);
    // VM 1 points its plane at VM 2's slice: not its GM range.
    primary(a.dev, { surf: 4 * MiB });
    assert.equal(a.dev.decodePlane(PlaneType.PRIMARY), -Errno.EINVAL);
    // VM 1 cannot overwrite or read VM 2's PTEs through its GTT window.
    a.dev.mmioWrite64(GTT_BASE + 8 * (4 * MiB / PAGE), gttPte(0));
    assert.equal(a.ggtt.counters(1).droppedWrites, 1);
    assert.equal(a.dev.mmioRead64(GTT_BASE + 8 * (4 * MiB / PAGE)), 0n);
    assert.deepEqual([...plane(b.decodePlane(PlaneType.PRIMARY)).pages], [7, 8]);
    // Resetting VM 1 leaves VM 2's mapping alone.
    a.dev.reset();
    assert.deepEqual([...plane(b.decodePlane(PlaneType.PRIMARY)).pages], [7, 8]);
  });
});

describe('GvtDevice.decodePlane: cursor', () => {
  function cursorRig(): Rig {
    const r = rig();
    map(r.dev, AP, 64, 400); // 256 KiB, enough for 256×256 ARGB
    primary(r.dev);
    r.dev.mmioWrite32(CUR_BASE(0), AP);
    r.dev.vblank();
    return r;
  }

  it('every CURCNTR & 0x27 mode', () => {
    const { dev } = cursorRig();
    const sizes = new Map([[0x22, 128], [0x23, 256], [0x27, 64], [0x07, 64]]);
    for (let m = 0; m <= 0x27; m++) {
      if ((m & ~0x27) !== 0) continue;
      dev.mmioWrite32(CUR_CTL(0), m | 0x04000000); // other bits are ignored
      const d = dev.decodePlane(PlaneType.CURSOR);
      const side = sizes.get(m);
      if (m === 0) assert.equal(d, null);
      else if (side === undefined) assert.equal(d, -Errno.EINVAL, `mode 0x${m.toString(16)}`);
      else {
        const p = plane(d);
        assert.deepEqual(
          [p.drmFormat, p.modifier, p.width, p.height, p.stride, p.size, p.pages.length],
          [DRM_FORMAT.ARGB8888, DRM_FORMAT_MOD.LINEAR, side, side, side * 4, side * side * 4, (side * side * 4) / PAGE],
        );
      }
    }
  });

  it('reports negative positions as two\'s complement (our extension)', () => {
    const { dev } = cursorRig();
    dev.mmioWrite32(CUR_CTL(0), 0x27);
    dev.mmioWrite32(CUR_POS(0), curPosValue(-5, -7));
    const p = plane(dev.decodePlane(PlaneType.CURSOR));
    assert.deepEqual([p.xPos, p.yPos], [0xfffffffb, 0xfffffff9]);
    dev.mmioWrite32(CUR_POS(0), curPosValue(300, 2));
    const q = plane(dev.decodePlane(PlaneType.CURSOR));
    assert.deepEqual([q.xPos, q.yPos], [300, 2]);
  });

  it('keeps the PV-info hotspot only when inside the cursor', () => {
    const { dev } = cursorRig();
    dev.mmioWrite32(CUR_CTL(0), 0x27);
    const hot = (): [number, number] => { const p = plane(dev.decodePlane(PlaneType.CURSOR)); return [p.xHot, p.yHot]; };
    assert.deepEqual(hot(), [HOTSPOT_UNKNOWN, HOTSPOT_UNKNOWN]);
    const set = (x: number, y: number): void => { dev.mmioWrite32(CURSOR_X_HOT, x); dev.mmioWrite32(CURSOR_Y_HOT, y); };
    set(10, 20);
    assert.deepEqual(hot(), [10, 20]);
    set(64, 64);
    assert.deepEqual(hot(), [64, 64]);
    set(65, 0);
    assert.deepEqual(hot(), [HOTSPOT_UNKNOWN, HOTSPOT_UNKNOWN]);
    set(0, 65);
    assert.deepEqual(hot(), [HOTSPOT_UNKNOWN, HOTSPOT_UNKNOWN]);
    dev.mmioWrite32(CUR_CTL(0), 0x22); // 128×128: 65 now fits
    assert.deepEqual(hot(), [0, 65]);
    dev.reset();
    assert.equal(dev.mmioRead32(CURSOR_X_HOT), HOTSPOT_UNKNOWN);
    assert.equal(dev.mmioRead32(CURSOR_Y_HOT), HOTSPOT_UNKNOWN);
  });

  it('applies the primary plane\'s range checks to CURBASE', () => {
    const { dev } = cursorRig();
    dev.mmioWrite32(CUR_CTL(0), 0x23); // 256 KiB
    dev.mmioWrite32(CUR_BASE(0), AP_END - 32 * PAGE);
    dev.vblank();
    assert.equal(dev.decodePlane(PlaneType.CURSOR), -Errno.EINVAL); // base page unmapped
    map(dev, AP_END - 32 * PAGE, 32, 600);
    assert.equal(dev.decodePlane(PlaneType.CURSOR), -Errno.EFAULT); // runs past the aperture
    dev.mmioWrite32(CUR_CTL(0), 0x22); // 64 KiB: fits
    assert.equal(plane(dev.decodePlane(PlaneType.CURSOR)).pages[0], 600);
    dev.mmioWrite32(CUR_BASE(0), 12 * MiB + 4 * PAGE);
    dev.vblank();
    assert.equal(dev.decodePlane(PlaneType.CURSOR), -Errno.EINVAL);
  });
});

describe('GvtDevice.decodePlane: overlay (sprite)', () => {
  function sprite(dev: GvtDevice): void {
    dev.mmioWrite32(SPRITE_CTL(0), planeCtlValue({ format: 0xe, tiling: 1 }));
    dev.mmioWrite32(SPRITE_STRIDE(0), 1); // X-tiled: 512 bytes
    dev.mmioWrite32(SPRITE_SIZE(0), planeSizeValue(200, 10));
    dev.mmioWrite32(SPRITE_POS(0), 0x00100020);
    dev.mmioWrite32(SPRITE_SURF(0), AP + 8 * PAGE);
    dev.vblank();
  }

  it('decodes the sprite with its own size register when exportOverlay is on (default)', () => {
    const { dev } = rig();
    map(dev, AP, 16, 100);
    primary(dev);
    assert.equal(dev.decodePlane(PlaneType.OVERLAY), null);
    sprite(dev);
    const p = plane(dev.decodePlane(PlaneType.OVERLAY));
    assert.deepEqual(
      [p.drmFormat, p.modifier, p.width, p.height, p.stride, p.size, p.start, p.xPos, p.yPos, p.xHot],
      [DRM_FORMAT.RGB565, DRM_FORMAT_MOD.I915_X_TILED, 200, 10, 512, 512 * 16, AP + 8 * PAGE, 0, 0, 0],
    );
    assert.deepEqual([...p.pages], [108, 109]);
    // The primary is unaffected.
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).width, 64);
  });

  it('gives -EINVAL for overlays when exportOverlay is off (GVT) and fires no overlay events', () => {
    const { dev, events } = rig({ exportOverlay: false });
    map(dev, AP, 16, 100);
    primary(dev);
    events.length = 0;
    sprite(dev);
    assert.equal(dev.decodePlane(PlaneType.OVERLAY), -Errno.EINVAL);
    assert.deepEqual(events, []);
    assert.equal(dev.decodePlane(3), -Errno.EINVAL);
  });
});

describe('GvtDevice flips, vblank and events', () => {
  it('a surface write arms; vblank latches it and fires a flip event', () => {
    const { dev, events } = rig();
    map(dev, AP, 4, 100);
    primary(dev);
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).start, AP);
    events.length = 0;
    dev.mmioWrite32(PLANE_SURF(0), AP + 2 * PAGE);
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).start, AP, 'not before vblank');
    assert.equal(dev.mmioRead32(PLANE_SURF(0)), AP + 2 * PAGE);
    assert.equal(dev.mmioRead32(PLANE_SURFLIVE(0)), AP);
    assert.deepEqual(events, []);
    const flips = dev.mmioRead32(PIPE_FLIPCOUNT(0));
    dev.vblank();
    assert.deepEqual(events, [{ kind: 'flip', planeType: PlaneType.PRIMARY }]);
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).start, AP + 2 * PAGE);
    assert.deepEqual([...plane(dev.decodePlane(PlaneType.PRIMARY)).pages], [102, 103]);
    assert.equal(dev.mmioRead32(PLANE_SURFLIVE(0)), AP + 2 * PAGE);
    assert.equal(dev.mmioRead32(PIPE_FLIPCOUNT(0)), flips + 1);
    // Nothing armed: a vblank fires nothing. Two writes before a vblank: the last one wins.
    events.length = 0;
    dev.vblank();
    assert.deepEqual(events, []);
    dev.mmioWrite32(PLANE_SURF(0), AP + 3 * PAGE);
    dev.mmioWrite32(PLANE_SURF(0), AP);
    dev.vblank();
    assert.deepEqual(events, [{ kind: 'flip', planeType: PlaneType.PRIMARY }]);
    assert.equal(plane(dev.decodePlane(PlaneType.PRIMARY)).start, AP);
    // A flip to the same address is still a flip.
    events.length = 0;
    dev.mmioWrite32(PLANE_SURF(0), AP);
    dev.vblank();
    assert.equal(events.length, 1);
  });

  it('cursor and sprite bases latch at vblank too', () => {
    const { dev, events } = rig();
    map(dev, AP, 16, 100);
    primary(dev);
    dev.mmioWrite32(CUR_CTL(0), 0x27);
    dev.mmioWrite32(CUR_BASE(0), AP + 4 * PAGE);
    assert.equal(dev.decodePlane(PlaneType.CURSOR), -Errno.EINVAL); // latched base is still 0
    assert.equal(dev.mmioRead32(CUR_SURFLIVE(0)), 0);
    dev.mmioWrite32(SPRITE_SURF(0), AP);
    events.length = 0;
    dev.vblank();
    assert.deepEqual(events, [
      { kind: 'flip', planeType: PlaneType.OVERLAY },
      { kind: 'flip', planeType: PlaneType.CURSOR },
    ]);
    assert.equal(plane(dev.decodePlane(PlaneType.CURSOR)).start, AP + 4 * PAGE);
  });

  it('fires plane/mode/cursor events on changes only, and counts frames on enabled pipes', () => {
    const { dev, events } = rig();
    dev.mmioWrite32(PIPESRC(0), pipesrcValue(640, 480));
    dev.mmioWrite32(PIPESRC(0), pipesrcValue(640, 480));
    dev.mmioWrite32(PIPECONF(0), PIPECONF_ENABLE);
    dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: 4 }));
    dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: 4 }));
    dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: 4, tiling: 1 }));
    dev.mmioWrite32(PLANE_STRIDE(0), 10);
    dev.mmioWrite32(PLANE_OFFSET(0), 10); // ignored by decode: no event
    dev.mmioWrite32(CUR_CTL(0), 0x27);
    dev.mmioWrite32(CUR_POS(0), curPosValue(1, 1));
    dev.mmioWrite32(CUR_POS(0), curPosValue(1, 1));
    dev.mmioWrite32(CURSOR_X_HOT, 3);
    dev.mmioWrite32(PLANE_CTL(0), 0);
    dev.mmioWrite32(PIPECONF(0), 0);
    const P = PlaneType.PRIMARY;
    const C = PlaneType.CURSOR;
    assert.deepEqual(events.map((e) => `${e.kind}:${e.planeType}`), [
      `mode:${P}`, `mode:${P}`, `plane:${P}`, `plane:${P}`, `plane:${P}`,
      `plane:${C}`, `cursor:${C}`, `cursor:${C}`, `plane:${P}`, `mode:${P}`,
    ]);

    dev.mmioWrite32(PIPECONF(1), PIPECONF_ENABLE);
    dev.vblank();
    dev.vblank();
    assert.equal(dev.mmioRead32(PIPE_FRMCOUNT(0)), 0);
    assert.equal(dev.mmioRead32(PIPE_FRMCOUNT(1)), 2);
    assert.equal(dev.vblankCount, 2);
  });
});

describe('GvtDevice.reset', () => {
  it('returns every register to power-on, drops pending flips and invalidates the VM\'s GGTT', () => {
    const { dev, ggtt, events } = rig();
    map(dev, AP, 4, 100);
    primary(dev);
    dev.mmioWrite32(CUR_CTL(0), 0x27);
    dev.mmioWrite32(CURSOR_X_HOT, 1);
    dev.mmioWrite32(PLANE_SURF(0), AP + PAGE); // armed, never latched
    events.length = 0;
    dev.reset();
    assert.deepEqual(events, [{ kind: 'mode', planeType: PlaneType.PRIMARY }]);
    const offs = [
      PIPECONF(0), PIPESRC(0), PLANE_CTL(0), PLANE_STRIDE(0), PLANE_SURF(0), PLANE_SURFLIVE(0),
      CUR_CTL(0), PIPE_FRMCOUNT(0), PIPE_FLIPCOUNT(0),
    ];
    for (const off of offs) {
      assert.equal(dev.mmioRead32(off), 0, `0x${off.toString(16)}`);
    }
    assert.equal(dev.mmioRead32(CURSOR_X_HOT), HOTSPOT_UNKNOWN);
    assert.equal(dev.mmioRead64(PVINFO_BASE), VGT_MAGIC);
    assert.equal(ggtt.translate(1, AP), -1);
    assert.equal(dev.mmioRead64(GTT_BASE + 8 * (AP / PAGE)), 0n);
    assert.equal(dev.decodePlane(PlaneType.PRIMARY), null);
    dev.vblank();
    assert.deepEqual(events.length, 1, 'the dropped flip does not latch');
    // A reset with nothing shown fires nothing.
    dev.reset();
    assert.equal(events.length, 1);
  });
});

describe('GvtDevice robustness (property)', () => {
  it('random register and GTT traffic never throws and never exports a page outside the VM', () => {
    const { dev, ggtt, mem } = rig();
    const other = new GuestMemory(MiB);
    ggtt.assign(2, {
      aperture: { base: 4 * MiB, size: MiB },
      hidden: { base: 14 * MiB, size: MiB },
      guestPageCount: other.pageCount,
    });
    const dev2 = new GvtDevice({ memory: other, ggtt, vmId: 2 });
    map(dev2, 4 * MiB, 256, 0);
    const regs = [
      PIPECONF(0), PIPECONF(1), PIPESRC(0), PIPESRC(1), PLANE_CTL(0), PLANE_STRIDE(0), PLANE_SURF(0),
      PLANE_CTL(1), PLANE_SURF(1), CUR_CTL(0), CUR_BASE(0), CUR_POS(0), SPRITE_CTL(0), SPRITE_STRIDE(0),
      SPRITE_SIZE(0), SPRITE_SURF(0), CURSOR_X_HOT, CURSOR_Y_HOT,
    ];
    const gma = fc.oneof(
      fc.integer({ min: 0, max: 16 * MiB }).map((n) => n & ~0xfff),
      fc.constantFrom(AP, AP_END - PAGE, HID, HID_END - PAGE, 4 * MiB, 0),
    );
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const op = fc.oneof(
      fc.record({
        k: fc.constant('reg' as const),
        off: fc.constantFrom(...regs),
        v: fc.oneof(fc.nat(), u32, gma),
      }),
      fc.record({ k: fc.constant('raw' as const), off: fc.integer({ min: -8, max: 0x1000010 }), v: u32 }),
      fc.record({ k: fc.constant('pte' as const), off: gma, v: fc.integer({ min: 0, max: 1100 }) }),
      fc.record({ k: fc.constant('vblank' as const), off: fc.constant(0), v: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        dev.reset();
        for (const o of ops) {
          if (o.k === 'reg') dev.mmioWrite32(o.off, o.v);
          else if (o.k === 'raw') { dev.mmioWrite32(o.off, o.v); dev.mmioRead32(o.off); dev.mmioRead64(o.off); }
          else if (o.k === 'pte') dev.mmioWrite64(GTT_BASE + 8 * (o.off / PAGE), gttPte(o.v));
          else dev.vblank();
          for (const t of [0, 1, 2, 3]) {
            const d = dev.decodePlane(t);
            if (d === null) continue;
            if (typeof d === 'number') {
              assert.ok(d === -Errno.EINVAL || d === -Errno.EFAULT, `errno ${d}`);
              continue;
            }
            assert.equal(d.pages.length, Math.ceil(d.size / PAGE));
            assert.ok(d.size > 0 && ggtt.validateRange(1, d.start, d.size));
            d.pages.forEach((pg, k) => {
              assert.ok(pg < mem.pageCount);
              assert.equal(ggtt.translate(1, d.start + k * PAGE), pg);
            });
          }
        }
        // VM 2's mapping is untouched by anything VM 1 did.
        assert.equal(ggtt.translate(2, 4 * MiB + 255 * PAGE), 255);
      }),
      { numRuns: 300, seed: 0x5eed },
    );
  });
});
