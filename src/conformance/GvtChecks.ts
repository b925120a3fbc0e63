import { Errno } from '../base/Errno.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { DRM_FORMAT, formatName } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import {
  CURSOR_MODE, gttPte, PLANE_FORMAT, PLANE_SURF, PLANE_SURFLIVE, planeCtlValue, PVINFO, PVINFO_BASE,
  VGT_VERSION_MAJOR,
} from '../vgpu/gvt/GvtRegisters.ts';
import { fail, pass, quirk, type Check, type CheckResult } from './Check.ts';
import { describePlane, planeMismatch, rcName, type CheckContext } from './CheckContext.ts';
import { dmabufReady, MODE_A } from './DmabufChecks.ts';
import { GVT_GUEST_PAGES, type GvtProgrammer } from './GvtProgrammer.ts';
import { all, familyIs } from './Requires.ts';

const HOT_UNKNOWN = 0xffffffff;
const gvtReady = all(familyIs('gvt'), dmabufReady);

/** The GVT programmer, with mode A shown (primary on buffer 0). */
function withModeA(ctx: CheckContext): GvtProgrammer | string {
  const gvt = ctx.gvt!;
  const e = gvt.setMode(MODE_A);
  return typeof e === 'number' ? `setting 640x480: ${rcName(e)}` : gvt;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** QUERY of the cursor plane. */
function cursorQuery(ctx: CheckContext): ReturnType<CheckContext['query']> {
  return ctx.query(PlaneType.CURSOR);
}

const CURSOR_SIZES: readonly [number, number][] = [
  [CURSOR_MODE.ARGB_64, 64], [CURSOR_MODE.ARGB_128, 128], [CURSOR_MODE.ARGB_256, 256], [CURSOR_MODE.AX_64, 64],
];

/** Every PLANE_CTL format GVT's skl table exports, with its DRM fourcc. */
const SUPPORTED: readonly [string, number, number][] = [
  ['XRGB_8888', planeCtlValue({ format: PLANE_FORMAT.XRGB_8888 }), DRM_FORMAT.XRGB8888],
  ['XRGB_8888+alpha', planeCtlValue({ format: PLANE_FORMAT.XRGB_8888, alpha: 1 }), DRM_FORMAT.ARGB8888],
  ['XRGB_8888+RGBX', planeCtlValue({ format: PLANE_FORMAT.XRGB_8888, rgbxOrder: true }), DRM_FORMAT.XBGR8888],
  ['XRGB_8888+RGBX+alpha',
    planeCtlValue({ format: PLANE_FORMAT.XRGB_8888, rgbxOrder: true, alpha: 2 }), DRM_FORMAT.ABGR8888],
  ['XRGB_2101010', planeCtlValue({ format: PLANE_FORMAT.XRGB_2101010 }), DRM_FORMAT.XRGB2101010],
  ['XRGB_2101010+RGBX', planeCtlValue({ format: PLANE_FORMAT.XRGB_2101010, rgbxOrder: true }), DRM_FORMAT.XBGR2101010],
  ['RGB_565', planeCtlValue({ format: PLANE_FORMAT.RGB_565 }), DRM_FORMAT.RGB565],
  ['INDEXED', planeCtlValue({ format: PLANE_FORMAT.INDEXED }), DRM_FORMAT.C8],
  ['YUV422 YUYV', planeCtlValue({ format: PLANE_FORMAT.YUV422, yuvOrder: 0 }), DRM_FORMAT.YUYV],
  ['YUV422 UYVY', planeCtlValue({ format: PLANE_FORMAT.YUV422, yuvOrder: 1 }), DRM_FORMAT.UYVY],
  ['YUV422 YVYU', planeCtlValue({ format: PLANE_FORMAT.YUV422, yuvOrder: 2 }), DRM_FORMAT.YVYU],
  ['YUV422 VYUY', planeCtlValue({ format: PLANE_FORMAT.YUV422, yuvOrder: 3 }), DRM_FORMAT.VYUY],
];

/** Codes of the 4-bit format field GVT cannot export (NV12, FP16, AYUV, reserved). */
const UNSUPPORTED_CODES = [1, 3, 5, 6, 7, 8, 9, 10, 11, 13, 15];

/** A plane that must be refused: at QUERY, else at GET, else at mmap. */
function mustBeRefused(ctx: CheckContext, what: string): CheckResult {
  const q = ctx.query();
  if (q.rc < 0) return pass(`${what}: QUERY → ${rcName(q.rc)}`);
  if (q.info.drmFormat === 0) return pass(`${what}: reported as no plane`);
  const fd = ctx.getDmabuf(q.info.dmabufId);
  if (fd < 0) return pass(`${what}: QUERY ok, GET → ${rcName(fd)}`);
  const map = ctx.mapDmabuf(fd, q.info.size);
  if (typeof map === 'number') return pass(`${what}: GET ok, mmap → ${rcName(map)}`);
  map.unmap();
  return fail(`${what}: exported and mapped (${describePlane(q.info)})`);
}

export const GVT_CHECKS: readonly Check[] = [
  {
    name: 'gvt.pvinfo',
    description: 'the PV-info page: magic, version, page-aligned non-overlapping aperture and hidden slices, ' +
      'BAR2 covering the aperture slice',
    applies: gvtReady,
    run(ctx) {
      const gvt = ctx.gvt!;
      const version = gvt.mmioRead(PVINFO_BASE + PVINFO.VERSION);
      if ((version & 0xffff) !== VGT_VERSION_MAJOR) {
        return fail(`version ${hex(version)}, want major ${VGT_VERSION_MAJOR}`);
      }
      const { aperture: a, hidden: h } = gvt;
      const bad: string[] = [];
      for (const [n, s] of [['aperture', a], ['hidden', h]] as const) {
        if (s.size === 0 || s.base % PAGE_SIZE !== 0 || s.size % PAGE_SIZE !== 0) {
          bad.push(`${n} ${hex(s.base)}+${hex(s.size)}`);
        }
      }
      if (a.base < h.base + h.size && h.base < a.base + a.size) bad.push('aperture and hidden overlap');
      const bar2 = gvt.bar2!.size;
      if (bar2 < a.size) bad.push(`BAR2 size ${hex(bar2)} < aperture slice ${hex(a.size)}`);
      if (bad.length) return fail(bad.join('; '));
      return pass(`aperture ${hex(a.base)}+${hex(a.size)}, hidden ${hex(h.base)}+${hex(h.size)}, BAR2 ${hex(bar2)}`);
    },
  },
  {
    name: 'gvt.gtt-readback',
    description: 'an 8-byte GTT entry write through BAR0 reads back',
    applies: gvtReady,
    run(ctx) {
      const gvt = ctx.gvt!;
      const page = gvt.gma('buffer0') / PAGE_SIZE + GVT_GUEST_PAGES.bufferPages - 1;
      const pte = gttPte(GVT_GUEST_PAGES.buffer0 + GVT_GUEST_PAGES.bufferPages - 1);
      const rc = gvt.writePte(page, pte);
      if (rc < 0) return fail(`GTT write → ${rcName(rc)}`);
      const back = gvt.readPte(page);
      if (typeof back === 'number') return fail(`GTT read → ${rcName(back)}`);
      if (back !== pte) return fail(`entry ${page} reads 0x${back.toString(16)}, wrote 0x${pte.toString(16)}`);
      return pass(`entry ${page} = 0x${pte.toString(16)}`);
    },
  },
  {
    name: 'gvt.size-rounding',
    description: 'size is stride × tile-rounded height: 640x100 is 2560×100 linear, ×104 X, ×128 Y',
    applies: gvtReady,
    run(ctx) {
      const seen: string[] = [];
      for (const tiling of ['linear', 'x', 'y'] as const) {
        const s = ctx.show({ width: 640, height: 100, tiling });
        if (typeof s === 'string') return fail(s);
        const bad = planeMismatch(s.q.info, s.expected);
        if (bad) return fail(`${tiling}: ${bad}`);
        seen.push(`${tiling}: stride ${s.q.info.stride} size ${s.q.info.size}`);
      }
      return pass(seen.join('; '));
    },
  },
  {
    name: 'gvt.formats',
    description: 'every PLANE_CTL format GVT exports maps to its DRM fourcc',
    applies: gvtReady,
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      for (const [name, ctl, fourcc] of SUPPORTED) {
        const rc = gvt.setPlaneCtl(ctl);
        if (rc < 0) return fail(`PLANE_CTL ${name}: ${rcName(rc)}`);
        const q = ctx.query();
        if (q.rc !== 0) return fail(`${name}: QUERY → ${rcName(q.rc)}`);
        if (q.info.drmFormat !== fourcc) {
          return fail(`${name}: ${formatName(q.info.drmFormat)}, want ${formatName(fourcc)}`);
        }
      }
      return pass(`${SUPPORTED.length} formats`);
    },
  },
  {
    name: 'gvt.unsupported-formats',
    description: 'every PLANE_CTL format code GVT cannot export → -EINVAL, never a crash (B4)',
    applies: gvtReady,
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      for (const code of UNSUPPORTED_CODES) {
        const rc = gvt.setPlaneCtl(planeCtlValue({ format: code }));
        if (rc < 0) return fail(`PLANE_CTL format ${code}: ${rcName(rc)}`);
        const q = ctx.query();
        if (q.rc !== -Errno.EINVAL) {
          return fail(`format code ${code}: QUERY → ${rcName(q.rc)} ${describePlane(q.info)}, want -EINVAL`);
        }
      }
      return pass(`codes ${UNSUPPORTED_CODES.join(',')} → -EINVAL`);
    },
  },
  {
    name: 'gvt.vblank-latch',
    description: 'a PLANE_SURF write shows only after the next vblank (SURFLIVE and the dmabuf_id)',
    applies: all(gvtReady, (ctx) => ctx.vblank !== undefined || 'needs the emulated vblank hook'),
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      const before = ctx.query();
      if (before.rc !== 0) return fail(`QUERY → ${rcName(before.rc)}`);
      const b1 = gvt.gma('buffer1');
      const rc = gvt.mmio(PLANE_SURF(0), b1);
      if (rc < 0) return fail(`PLANE_SURF write: ${rcName(rc)}`);
      const live = gvt.mmioRead(PLANE_SURFLIVE(0));
      const armed = ctx.query();
      if (live !== gvt.gma('buffer0')) return fail(`SURFLIVE ${hex(live)} changed before the vblank`);
      if (armed.info.dmabufId !== before.info.dmabufId) return fail('the dmabuf_id changed before the vblank');
      gvt.vblank();
      const after = ctx.query();
      const live2 = gvt.mmioRead(PLANE_SURFLIVE(0));
      if (live2 !== b1) return fail(`SURFLIVE ${hex(live2)} after the vblank, want ${hex(b1)}`);
      if (after.rc !== 0 || after.info.dmabufId === before.info.dmabufId) {
        return fail(`after the vblank: ${rcName(after.rc)} id ${after.info.dmabufId}`);
      }
      return pass(`id ${before.info.dmabufId} until the vblank, then ${after.info.dmabufId}`);
    },
  },
  {
    name: 'gvt.surface-outside-slices',
    description: 'PLANE_SURF outside the vGPU\'s aperture and hidden slices → -EINVAL',
    applies: gvtReady,
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      const { aperture: a, hidden: h } = gvt;
      const inside = (g: number): boolean =>
        (g >= a.base && g < a.base + a.size) || (g >= h.base && g < h.base + h.size);
      const gma = [a.base + a.size, h.base + h.size, a.base - PAGE_SIZE, h.base - PAGE_SIZE, 0]
        .find((g) => g >= 0 && g < 2 ** 32 && !inside(g));
      if (gma === undefined) return fail('no graphics address outside the slices below 4 GiB');
      try {
        const rc = gvt.setSurface(gma);
        if (rc < 0) return fail(`setting PLANE_SURF ${hex(gma)}: ${rcName(rc)}`);
        const q = ctx.query();
        if (q.rc !== -Errno.EINVAL) return fail(`PLANE_SURF ${hex(gma)} → ${rcName(q.rc)} ${describePlane(q.info)}`);
        return pass(`PLANE_SURF ${hex(gma)} → -EINVAL`);
      } finally {
        gvt.setSurface(gvt.gma('buffer0'));
      }
    },
  },
  {
    name: 'gvt.aperture-end',
    description: 'a plane ending exactly at the aperture end is exported; one straddling it → -EFAULT (B1)',
    applies: gvtReady,
    run(ctx) {
      const gvt = ctx.gvt!;
      const e = gvt.setMode({ width: 64, height: 64 });
      if (typeof e === 'number') return fail(`setting 64x64: ${rcName(e)}`);
      const end = gvt.aperture.base + gvt.aperture.size;
      const pages = e.size / PAGE_SIZE;
      try {
        let rc = gvt.mapPages(end - e.size, GVT_GUEST_PAGES.buffer0, pages);
        if (rc === 0) rc = gvt.setSurface(end - e.size);
        if (rc < 0) return fail(`programming the last ${pages} aperture pages: ${rcName(rc)}`);
        const fit = ctx.query();
        if (fit.rc !== 0 || fit.info.size !== e.size) {
          return fail(`exact fit → ${rcName(fit.rc)} ${describePlane(fit.info)}`);
        }
        rc = gvt.setSurface(end - PAGE_SIZE);
        if (rc < 0) return fail(`setting PLANE_SURF: ${rcName(rc)}`);
        const over = ctx.query();
        if (over.rc !== -Errno.EFAULT) {
          return fail(`straddling the aperture end → ${rcName(over.rc)} ${describePlane(over.info)}, want -EFAULT`);
        }
        return pass(`exact fit id ${fit.info.dmabufId}; straddle → -EFAULT`);
      } finally {
        gvt.setSurface(gvt.gma('buffer0'));
      }
    },
  },
  {
    name: 'gvt.pte-beyond-vm',
    description: 'a GTT entry naming guest memory beyond the VM makes the plane unexportable',
    applies: gvtReady,
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      const rc = gvt.writePte(gvt.gma('buffer0') / PAGE_SIZE, gttPte(2 ** 28));
      if (rc < 0) return fail(`GTT write: ${rcName(rc)}`);
      return mustBeRefused(ctx, 'first page at guest page 2^28 (1 TiB)');
    },
  },
  {
    name: 'cursor.gvt-hotspot-unknown',
    description: 'after reset the cursor hotspot is 0xffffffff (unknown) until the guest writes PV-info',
    applies: gvtReady,
    run(ctx) {
      const rc = ctx.client.reset();
      if (rc !== 0) return fail(`RESET → ${rcName(rc)}`);
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      const c = gvt.setCursor(CURSOR_MODE.ARGB_64, 0, 0);
      if (c < 0) return fail(`cursor: ${rcName(c)}`);
      const q = cursorQuery(ctx);
      if (q.rc !== 0) return fail(`CURSOR → ${rcName(q.rc)}`);
      if (q.info.xHot !== HOT_UNKNOWN || q.info.yHot !== HOT_UNKNOWN) {
        return fail(`hotspot ${hex(q.info.xHot)},${hex(q.info.yHot)}`);
      }
      ctx.behaviour['cursor-hotspot'] = '0xffffffff until PV-info cursor_x_hot/y_hot are written';
      return pass('hotspot 0xffffffff,0xffffffff');
    },
  },
  {
    name: 'cursor.gvt-modes',
    description: 'CURCNTR modes 0x27, 0x22, 0x23, 0x07 → ARGB8888 64, 128, 256, 64 square, ' +
      'stride = width × 4, position reported',
    applies: gvtReady,
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      const seen: string[] = [];
      for (const [mode, side] of CURSOR_SIZES) {
        const rc = gvt.setCursor(mode, 10, 20);
        if (rc < 0) return fail(`cursor mode ${hex(mode)}: ${rcName(rc)}`);
        const q = cursorQuery(ctx);
        const p = q.info;
        if (q.rc !== 0) return fail(`mode ${hex(mode)}: CURSOR → ${rcName(q.rc)}`);
        if (p.drmFormat !== DRM_FORMAT.ARGB8888 || p.drmFormatMod !== DRM_FORMAT_MOD.LINEAR || p.width !== side ||
            p.height !== side || p.stride !== side * 4 || p.size !== side * side * 4 || p.dmabufId === 0) {
          return fail(`mode ${hex(mode)}: ${describePlane(p)}, want ARGB8888 ${side}x${side} stride ${side * 4}`);
        }
        if (p.xPos !== 10 || p.yPos !== 20) return fail(`mode ${hex(mode)}: position ${p.xPos},${p.yPos}, want 10,20`);
        seen.push(`${hex(mode)}→${side}`);
      }
      return pass(seen.join(' '));
    },
  },
  {
    name: 'cursor.gvt-hotspot',
    description: 'a PV-info hotspot inside the cursor (also on its far edge) is reported as written',
    applies: gvtReady,
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      try {
        const c = gvt.setCursor(CURSOR_MODE.ARGB_64, 0, 0);
        if (c < 0) return fail(`cursor: ${rcName(c)}`);
        for (const [x, y] of [[5, 7], [64, 64]] as const) {
          gvt.setHotspot(x, y);
          const q = cursorQuery(ctx);
          if (q.rc !== 0 || q.info.xHot !== x || q.info.yHot !== y) {
            return fail(`hotspot ${x},${y} reported as ${hex(q.info.xHot)},${hex(q.info.yHot)} (rc ${rcName(q.rc)})`);
          }
        }
        return pass('5,7 and 64,64 reported');
      } finally {
        gvt.setHotspot(HOT_UNKNOWN, HOT_UNKNOWN);
      }
    },
  },
  {
    name: 'cursor.gvt-hotspot-out-of-range',
    description: 'a hotspot beyond the cursor size (65 on a 64 cursor) is reported as 0xffffffff, both coordinates',
    applies: gvtReady,
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      try {
        const c = gvt.setCursor(CURSOR_MODE.ARGB_64, 0, 0);
        if (c < 0) return fail(`cursor: ${rcName(c)}`);
        gvt.setHotspot(65, 7);
        const q = cursorQuery(ctx);
        if (q.rc !== 0 || q.info.xHot !== HOT_UNKNOWN || q.info.yHot !== HOT_UNKNOWN) {
          return fail(`hotspot 65,7 reported as ${hex(q.info.xHot)},${hex(q.info.yHot)} (rc ${rcName(q.rc)})`);
        }
        return pass('65,7 → 0xffffffff,0xffffffff');
      } finally {
        gvt.setHotspot(HOT_UNKNOWN, HOT_UNKNOWN);
      }
    },
  },
  {
    name: 'cursor.gvt-negative-position',
    description: 'a cursor off the top-left edge (CURPOS sign bits) is reported in two\'s complement (our extension)',
    applies: gvtReady,
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      const c = gvt.setCursor(CURSOR_MODE.ARGB_64, -5, -7);
      if (c < 0) return fail(`cursor: ${rcName(c)}`);
      const q = cursorQuery(ctx);
      if (q.rc !== 0) return fail(`CURSOR → ${rcName(q.rc)}`);
      const { xPos: x, yPos: y } = q.info;
      if (x === (-5 >>> 0) && y === (-7 >>> 0)) return pass(`-5,-7 → ${hex(x)},${hex(y)}`);
      if (ctx.real && x === 5 && y === 7) {
        return quirk('GVT-CURPOS-SIGN', 'cursor at -5,-7 reported at 5,7 (sign bits dropped)');
      }
      return fail(`cursor at -5,-7 reported at ${hex(x)},${hex(y)}`);
    },
  },
  {
    name: 'cursor.gvt-disabled',
    description: 'CURCNTR mode 0: the cursor query succeeds with an empty plane',
    applies: gvtReady,
    run(ctx) {
      const gvt = withModeA(ctx);
      if (typeof gvt === 'string') return fail(gvt);
      const rc = gvt.disableCursor();
      if (rc < 0) return fail(`CURCNTR: ${rcName(rc)}`);
      const q = ctx.client.query(ctx.queryFlags, PlaneType.CURSOR, { fill: 0x5a });
      if (q.rc !== 0) return fail(`CURSOR → ${rcName(q.rc)}`);
      const p = q.info;
      if (p.drmFormat !== 0 || p.size !== 0 || p.width !== 0 || p.height !== 0 || p.dmabufId !== 0) {
        if (ctx.real && p.drmFormat === 0x5a5a5a5a) {
          return quirk('GVT-UNTOUCHED', 'disabled cursor: outputs left as the caller wrote them');
        }
        return fail(`disabled cursor: ${describePlane(p)}`);
      }
      return pass('empty plane');
    },
  },
];
