import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errno } from '../../base/Errno.ts';
import { Ggtt } from '../../gpu/Ggtt.ts';
import { GuestMemory } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import { decodePlaneFormat, decodePlaneLayout, strideUnit, tileRows } from './Gen9Format.ts';
import {
  TILING_CODE, clearPtes, encodePlane, pageRun, planeSize, planeStride, programPlane, writePtes,
  type Gen9Tiling, type Gen9Window,
} from './Gen9Programming.ts';
import { GvtDevice } from './GvtDevice.ts';
import {
  GTT_BASE, PIPECONF, PIPECONF_ENABLE, PIPESRC, PLANE_CTL, PLANE_FORMAT, PLANE_STRIDE, PLANE_SURF,
  PRIMARY_PLANE_BASE, gttPte, pipesrcValue,
} from './GvtRegisters.ts';

const TILINGS: readonly Gen9Tiling[] = ['linear', 'x', 'y', 'yf'];

/** Bytes per stride unit and rows per tile, written out from spec §2.3 / intel_vgpu_get_stride. */
const EXPECTED: Record<Gen9Tiling, { code: number; unit8: number; unit: number; rows: number; mod: bigint }> = {
  linear: { code: 0, unit8: 64, unit: 64, rows: 1, mod: DRM_FORMAT_MOD.LINEAR },
  x: { code: 1, unit8: 512, unit: 512, rows: 8, mod: DRM_FORMAT_MOD.I915_X_TILED },
  y: { code: 4, unit8: 128, unit: 128, rows: 32, mod: DRM_FORMAT_MOD.I915_Y_TILED },
  yf: { code: 5, unit8: 64, unit: 128, rows: 32, mod: DRM_FORMAT_MOD.I915_Yf_TILED },
};

/** Every format GVT exports, as PLANE_CTL code, bpp and DRM fourcc. */
const FORMATS = [
  { format: PLANE_FORMAT.INDEXED, bpp: 8, fourcc: DRM_FORMAT.C8 },
  { format: PLANE_FORMAT.RGB_565, bpp: 16, fourcc: DRM_FORMAT.RGB565 },
  { format: PLANE_FORMAT.YUV422, bpp: 16, fourcc: DRM_FORMAT.YUYV },
  { format: PLANE_FORMAT.XRGB_8888, bpp: 32, fourcc: DRM_FORMAT.XRGB8888 },
  { format: PLANE_FORMAT.XRGB_2101010, bpp: 32, fourcc: DRM_FORMAT.XRGB2101010 },
] as const;

/** A window that records every write; `failAt` makes the n-th write return -EIO. */
function recorder(failAt = -1): Gen9Window & { writes: Array<[number, number | bigint]> } {
  const writes: Array<[number, number | bigint]> = [];
  const w = (off: number, v: number | bigint): number => {
    writes.push([off, v]);
    return writes.length - 1 === failAt ? -Errno.EIO : 0;
  };
  return { writes, write32: w, write64: w };
}

describe('the gen9 stride rule (one for the decoder and every programmer)', () => {
  it('gives every tiling its stride unit and tile height, Yf by bpp', () => {
    for (const t of TILINGS) {
      const e = EXPECTED[t];
      assert.equal(TILING_CODE[t], e.code, t);
      assert.equal(strideUnit(e.code, 8), e.unit8, `${t} 8 bpp`);
      for (const bpp of [16, 32]) assert.equal(strideUnit(e.code, bpp), e.unit, `${t} ${bpp} bpp`);
      assert.equal(tileRows(e.code), e.rows, t);
    }
  });

  it('has no unit for the reserved tiling codes 2, 3, 6, 7', () => {
    for (const code of [2, 3, 6, 7]) {
      assert.equal(strideUnit(code, 32), undefined, `code ${code}`);
      assert.equal(tileRows(code), undefined, `code ${code}`);
    }
  });

  it('rounds a row up to whole units and the height up to whole tiles', () => {
    // 640 px XRGB = 2560 B: 40 linear units, 5 X units, 20 Y units; 100 rows → 100 / 104 / 128.
    assert.equal(planeStride(640, 32, 'linear'), 2560);
    assert.equal(planeStride(640, 32, 'x'), 2560);
    assert.equal(planeStride(641, 32, 'x'), 3072);
    assert.equal(planeStride(641, 32, 'y'), 2688);
    assert.equal(planeStride(100, 8, 'yf'), 128);
    assert.equal(planeStride(100, 32, 'yf'), 512);
    assert.equal(planeSize(2560, 100, 'linear'), 2560 * 100);
    assert.equal(planeSize(2560, 100, 'x'), 2560 * 104);
    assert.equal(planeSize(2560, 100, 'y'), 2560 * 128);
    assert.equal(planeSize(2560, 100, 'yf'), 2560 * 128);
  });
});

describe('encodePlane ↔ the decoder', () => {
  it('round-trips format, modifier and stride for every tiling, format and width', () => {
    let cases = 0;
    for (const t of TILINGS) {
      for (const f of FORMATS) {
        for (const width of [1, 63, 64, 100, 640, 1024, 1366, 1920, 4096]) {
          const stride = planeStride(width, f.bpp, t);
          if (stride / strideUnit(TILING_CODE[t], f.bpp)! > 0x3ff) continue;
          const regs = encodePlane({ format: f.format, bpp: f.bpp, tiling: t, stride });
          const label = `${t} fmt ${f.format} width ${width}`;
          assert.ok(regs, `${label}: encodable`);
          const fmt = decodePlaneFormat(regs.ctl);
          assert.equal(fmt?.drmFormat, f.fourcc, label);
          assert.equal(fmt?.bpp, f.bpp, label);
          const layout = decodePlaneLayout(regs.ctl, regs.stride, f.bpp);
          assert.equal(layout.stride, stride, label);
          assert.equal(layout.modifier, EXPECTED[t].mod, label);
          assert.equal(layout.tileHeight, EXPECTED[t].rows, label);
          assert.ok(stride >= (width * f.bpp) / 8, `${label}: the row fits`);
          cases++;
        }
      }
    }
    assert.ok(cases > 150, `only ${cases} cases ran`);
  });

  it('keeps the RGBX order and alpha mode', () => {
    const regs = encodePlane({
      format: PLANE_FORMAT.XRGB_8888, bpp: 32, tiling: 'x', stride: 4096, rgbxOrder: true, alpha: 1,
    });
    assert.equal(decodePlaneFormat(regs!.ctl)?.drmFormat, DRM_FORMAT.ABGR8888);
  });

  it('refuses a stride that is no whole number of units or does not fit 10 bits', () => {
    const p = { format: PLANE_FORMAT.XRGB_8888, bpp: 32 } as const;
    assert.equal(encodePlane({ ...p, tiling: 'x', stride: 2560 + 64 }), undefined);
    assert.equal(encodePlane({ ...p, tiling: 'y', stride: 64 }), undefined);
    assert.equal(encodePlane({ ...p, tiling: 'linear', stride: 0 }), undefined);
    assert.equal(encodePlane({ ...p, tiling: 'linear', stride: 1024 * 64 }), undefined);
    assert.equal(encodePlane({ ...p, tiling: 'linear', stride: 1023 * 64 })?.stride, 1023);
    // 8 bpp Yf takes 64-byte units, wider formats 128.
    assert.equal(encodePlane({ format: PLANE_FORMAT.INDEXED, bpp: 8, tiling: 'yf', stride: 192 })?.stride, 3);
    assert.equal(encodePlane({ ...p, tiling: 'yf', stride: 192 }), undefined);
  });
});

describe('register writes', () => {
  it('writes one PTE per page at GTT_BASE + 8 × graphics page, and clears them', () => {
    const w = recorder();
    assert.equal(writePtes(w, 0x200000, [7, 3, 9]), 0);
    assert.deepEqual(w.writes, [
      [GTT_BASE + 8 * 0x200, gttPte(7)], [GTT_BASE + 8 * 0x201, gttPte(3)], [GTT_BASE + 8 * 0x202, gttPte(9)],
    ]);
    w.writes.length = 0;
    assert.equal(clearPtes(w, 0x200000, 2), 0);
    assert.deepEqual(w.writes, [[GTT_BASE + 8 * 0x200, 0n], [GTT_BASE + 8 * 0x201, 0n]]);
    assert.deepEqual([...pageRun(10, 3)], [10, 11, 12]);
  });

  it('stops at the first failed write and refuses an unaligned address', () => {
    const w = recorder(1);
    assert.equal(writePtes(w, 0, pageRun(0, 4)), -Errno.EIO);
    assert.equal(w.writes.length, 2);
    const none = recorder();
    assert.equal(writePtes(none, 0x1001, [1]), -Errno.EINVAL);
    assert.equal(clearPtes(none, 0x10, 1), -Errno.EINVAL);
    assert.equal(none.writes.length, 0);
  });

  it('programs CTL and STRIDE before SURF, which arms the flip', () => {
    const w = recorder();
    assert.equal(programPlane(w, PRIMARY_PLANE_BASE(1), { ctl: 0x84000000, stride: 5 }, 0x300000), 0);
    assert.deepEqual(w.writes, [[PLANE_CTL(1), 0x84000000], [PLANE_STRIDE(1), 5], [PLANE_SURF(1), 0x300000]]);
    const failing = recorder(0);
    assert.equal(programPlane(failing, PRIMARY_PLANE_BASE(0), { ctl: 1, stride: 1 }, 0), -Errno.EIO);
    assert.equal(failing.writes.length, 1);
  });

  it('programs a device model that then exports the plane with the stride it was given', () => {
    const MiB = 1 << 20;
    const ggtt = new Ggtt(4096);
    const memory = new GuestMemory(4 * MiB);
    ggtt.assign(1, {
      aperture: { base: MiB, size: 2 * MiB }, hidden: { base: 9 * MiB, size: 4 * MiB }, guestPageCount: memory.pageCount,
    });
    const dev = new GvtDevice({ memory, ggtt, vmId: 1 });
    const bar0: Gen9Window = {
      write32: (o, v) => dev.mmioWrite32(o, v), write64: (o, v) => dev.mmioWrite64(o, v),
    };
    for (const t of TILINGS) {
      const stride = planeStride(300, 32, t);
      const size = planeSize(stride, 200, t);
      const pages = Math.ceil(size / 4096);
      assert.equal(writePtes(bar0, MiB, pageRun(16, pages)), 0);
      dev.mmioWrite32(PIPESRC(0), pipesrcValue(300, 200));
      dev.mmioWrite32(PIPECONF(0), PIPECONF_ENABLE);
      const regs = encodePlane({ format: PLANE_FORMAT.XRGB_8888, bpp: 32, tiling: t, stride })!;
      assert.equal(programPlane(bar0, PRIMARY_PLANE_BASE(0), regs, MiB), 0);
      dev.vblank();
      const plane = dev.decodePlane(PlaneType.PRIMARY);
      assert.ok(plane !== null && typeof plane === 'object', `${t}: decoded ${String(plane)}`);
      assert.equal(plane.stride, stride, t);
      assert.equal(plane.size, size, t);
      assert.equal(plane.modifier, EXPECTED[t].mod, t);
      assert.equal(plane.pages[0], 16, t);
    }
  });
});
