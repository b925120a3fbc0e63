import { Errno } from '../../base/Errno.ts';
import { PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { PageAllocator } from '../../gpu/PageAllocator.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { LINEAR, X_TILED, Y_TILED } from '../../kms/Tiling.ts';
import {
  clearPtes, encodePlane, programPlane, writePtes, type Gen9Window,
} from '../../vgpu/gvt/Gen9Programming.ts';
import {
  CURSOR_MODE, CUR_BASE, CUR_CTL, CUR_POS, CURSOR_X_HOT, CURSOR_Y_HOT, PIPECONF, PIPECONF_ENABLE,
  PIPE_FLIPCOUNT, PIPE_FRMCOUNT, PIPESRC, PLANE_CTL, PLANE_FORMAT, PLANE_OFFSET, PLANE_POS,
  PLANE_SIZE, PLANE_SURFLIVE, PRIMARY_PLANE_BASE, PVINFO, PVINFO_BASE, VGT_MAGIC_HI, VGT_MAGIC_LO,
  VGT_VERSION_MAJOR, curPosValue, pipesrcValue, planeSizeValue,
} from '../../vgpu/gvt/GvtRegisters.ts';
import type { DisplayMode, DriverCaps, ModeConfig, SurfaceRequest, VblankInfo } from './DisplayDriver.ts';
import { DisplayDriverBase, type DriverResources } from './DisplayDriverBase.ts';
import { parseEdid } from './Edid.ts';
import { GVT_EDID_WINDOW, GVT_EDID_WINDOW_SIZE, GVT_HOTPLUG_COUNT } from './GvtEdidWindow.ts';
import { rd32, wr32, type RegisterWindow } from './RegisterWindow.ts';
import type { Surface } from './Surface.ts';

/** Vblanks between polls of the hotplug counter (a register read is a round trip to the host). */
const HOTPLUG_POLL = 30;
/** The pipe this driver drives (the one GVT exports: the first enabled). */
const PIPE = 0;
const CURSOR_SIZE = 64;

/** PLANE_CTL fields of each primary format we scan out. */
type PlaneFields = { format: number; bpp: number; rgbxOrder?: boolean; alpha?: number };
const PLANE_FORMATS = new Map<number, PlaneFields>([
  [DRM_FORMAT.XRGB8888, { format: PLANE_FORMAT.XRGB_8888, bpp: 32 }],
  // Alpha mode 1: pre-multiplied, the DRM default blend mode for an alpha format.
  [DRM_FORMAT.ARGB8888, { format: PLANE_FORMAT.XRGB_8888, bpp: 32, alpha: 1 }],
  [DRM_FORMAT.XBGR8888, { format: PLANE_FORMAT.XRGB_8888, bpp: 32, rgbxOrder: true }],
  [DRM_FORMAT.RGB565, { format: PLANE_FORMAT.RGB_565, bpp: 16 }],
  [DRM_FORMAT.XRGB2101010, { format: PLANE_FORMAT.XRGB_2101010, bpp: 32 }],
]);

export interface GvtDriverResources extends DriverResources {
  readonly regs: RegisterWindow;
}

/**
 * Guest driver for the gvt vGPU (a paravirtualised i915 in miniature). `init` checks the PV-info
 * magic and reads the ballooning info: this vGPU's aperture slice is the driver's whole graphics
 * address space, so it never writes a GGTT entry it does not own. Buffers are guest pages
 * (scattered is fine) mapped at a GMA in that slice by writing 64-bit PTEs through the GTT window;
 * a mode set programs PIPESRC and PIPECONF of pipe A; `show` programs PLANE_CTL/STRIDE and arms
 * PLANE_SURF, which the device latches at the next vblank; the 64×64 ARGB cursor uses CURCNTR,
 * CURBASE, CURPOS and the PV-info hotspot. The EDID and hotplug counter come from the lab's EDID
 * window (GvtEdidWindow.ts).
 */
export class GvtDriver extends DisplayDriverBase {
  public readonly caps: DriverCaps = {
    name: 'gvt',
    formats: [...PLANE_FORMATS.keys()],
    tilings: [LINEAR, X_TILED, Y_TILED],
    cursor: true,
    cursorSize: CURSOR_SIZE,
    minWidth: 64,
    minHeight: 64,
    maxWidth: 4096,
    maxHeight: 4096,
  };
  private readonly _regs: RegisterWindow;
  /** The same window as Gen9Programming writes through it. */
  private readonly _win: Gen9Window;
  private _gma: PageAllocator | undefined;
  private _aperture = { base: 0, size: 0 };
  private _hidden = { base: 0, size: 0 };
  private _vgtId = 0;
  /** GMA pages of each mapped buffer. */
  private readonly _gmaPages = new Map<Surface, number[]>();
  private _modes: DisplayMode[] = [];
  private _hotplugSeq = 0;
  private _lastPoll = 0;
  private _pipeW = 0;
  private _pipeH = 0;
  /** Set while tearing down: the device is going away with the guest, skip register writes. */
  private _quiet = false;

  public constructor(res: GvtDriverResources) {
    super({ ...res, writeSeq: () => res.regs.writeSeq });
    this._regs = res.regs;
    this._win = {
      write32: (off, v) => wr32(res.regs, off, v),
      write64: (off, v) => res.regs.write64(off, v),
    };
  }

  public override init(): number {
    const r = this._regs;
    if (rd32(r, PVINFO_BASE + PVINFO.MAGIC_LO) !== VGT_MAGIC_LO ||
        rd32(r, PVINFO_BASE + PVINFO.MAGIC_HI) !== VGT_MAGIC_HI) return -Errno.ENODEV;
    if ((rd32(r, PVINFO_BASE + PVINFO.VERSION) & 0xffff) !== VGT_VERSION_MAJOR) return -Errno.ENODEV;
    this._vgtId = rd32(r, PVINFO_BASE + PVINFO.VGT_ID);
    this._aperture = {
      base: rd32(r, PVINFO_BASE + PVINFO.APERTURE_BASE), size: rd32(r, PVINFO_BASE + PVINFO.APERTURE_SIZE),
    };
    this._hidden = {
      base: rd32(r, PVINFO_BASE + PVINFO.HIDDEN_BASE), size: rd32(r, PVINFO_BASE + PVINFO.HIDDEN_SIZE),
    };
    const { base, size } = this._aperture;
    if (size < PAGE_SIZE || base % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) return -Errno.ENODEV;
    this._gma = new PageAllocator(base / PAGE_SIZE, size / PAGE_SIZE);
    // Start from a quiet pipe: no plane scanning out whatever the firmware left.
    wr32(r, PLANE_CTL(PIPE), 0);
    wr32(r, CUR_CTL(PIPE), 0);
    wr32(r, PVINFO_BASE + PVINFO.DISPLAY_READY, 1);
    this._hotplugSeq = rd32(r, GVT_HOTPLUG_COUNT);
    this._readEdid();
    return 0;
  }

  public modes(): DisplayMode[] {
    return this._modes.slice();
  }

  public override vblank(info: VblankInfo): void {
    super.vblank(info);
    // Vblanks can be coalesced (the guest sees only the latest), so poll by elapsed count.
    if (this._gma && info.seq - this._lastPoll >= HOTPLUG_POLL) {
      this._lastPoll = info.seq;
      const seq = rd32(this._regs, GVT_HOTPLUG_COUNT);
      if (seq !== this._hotplugSeq) {
        this._hotplugSeq = seq;
        this._readEdid();
        this._fireHotplug();
      }
    }
  }

  public override dispose(): void {
    this._quiet = true;
    super.dispose();
  }

  // ---- hooks ----

  protected _programMode(m: ModeConfig): number {
    if (!this._gma) return -Errno.ENODEV;
    wr32(this._regs, PIPESRC(PIPE), pipesrcValue(m.width, m.height));
    wr32(this._regs, PIPECONF(PIPE), PIPECONF_ENABLE);
    this._pipeW = m.width;
    this._pipeH = m.height;
    return 0;
  }

  protected _programPrimary(s: Surface | null): number {
    const r = this._regs;
    if (!s) {
      wr32(r, PLANE_CTL(PIPE), 0);
      return 0;
    }
    const fmt = PLANE_FORMATS.get(s.format);
    const regs = fmt && encodePlane({ ...fmt, tiling: s.tiling.name, stride: s.stride });
    // The pipe scans PIPESRC: a smaller buffer would be read past its end.
    if (!regs || s.width < this._pipeW || s.height < this._pipeH) return -Errno.EINVAL;
    wr32(r, PLANE_POS(PIPE), 0);
    wr32(r, PLANE_SIZE(PIPE), planeSizeValue(this._pipeW, this._pipeH));
    wr32(r, PLANE_OFFSET(PIPE), 0);
    // SURF goes last, armed: the device latches it at the next vblank (the base class waits).
    return programPlane(this._win, PRIMARY_PLANE_BASE(PIPE), regs, s.address);
  }

  protected override _programCursor(image: Surface | null, hotX: number, hotY: number): number {
    const r = this._regs;
    if (!image) {
      wr32(r, CUR_CTL(PIPE), CURSOR_MODE.DISABLE);
      return 0;
    }
    wr32(r, CURSOR_X_HOT, hotX);
    wr32(r, CURSOR_Y_HOT, hotY);
    wr32(r, CUR_CTL(PIPE), CURSOR_MODE.ARGB_64);
    wr32(r, CUR_BASE(PIPE), image.address);
    return 0;
  }

  protected override _programCursorPos(x: number, y: number): void {
    wr32(this._regs, CUR_POS(PIPE), curPosValue(x, y));
  }

  /** Map the buffer's pages at a free GMA run of the aperture slice, one PTE per page. */
  protected override _mapSurface(s: Surface, _req: SurfaceRequest): number {
    if (!this._gma) return -Errno.ENODEV;
    const run = this._gma.allocContiguous(s.pages.length);
    if (!run) return -Errno.ENOMEM;
    s.address = run[0]! * PAGE_SIZE;
    writePtes(this._win, s.address, s.pages);
    this._gmaPages.set(s, run);
    return 0;
  }

  protected override _unmapSurface(s: Surface): void {
    const run = this._gmaPages.get(s);
    if (!run) return;
    this._gmaPages.delete(s);
    // Invalidate before the GMA is reused, so no stale entry names a page we give back.
    if (!this._quiet) clearPtes(this._win, run[0]! * PAGE_SIZE, run.length);
    this._gma?.free(run);
  }

  protected override _infoExtra(): string[] {
    const r = this._regs;
    const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
    return [
      `gvt: vgt_id ${this._vgtId}, aperture ${hex(this._aperture.base)}+${this._aperture.size >> 20}M, ` +
        `hidden ${hex(this._hidden.base)}+${this._hidden.size >> 20}M`,
      `gvt: PIPECONF=${hex(rd32(r, PIPECONF(PIPE)))} PLANE_CTL=${hex(rd32(r, PLANE_CTL(PIPE)))} ` +
        `SURFLIVE=${hex(rd32(r, PLANE_SURFLIVE(PIPE)))} FLIPS=${rd32(r, PIPE_FLIPCOUNT(PIPE))} ` +
        `FRAMES=${rd32(r, PIPE_FRMCOUNT(PIPE))}`,
    ];
  }

  private _readEdid(): void {
    const edid = new Uint8Array(GVT_EDID_WINDOW_SIZE);
    const dv = new DataView(edid.buffer);
    for (let i = 0; i < GVT_EDID_WINDOW_SIZE; i += 4) {
      dv.setUint32(i, rd32(this._regs, GVT_EDID_WINDOW + i), true);
    }
    const info = parseEdid(edid);
    this._modes = typeof info === 'number' ? [] : info.modes;
  }
}
