import { Errno } from '../base/Errno.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR2_REGION_INDEX } from '../vfio/Abi.ts';
import {
  encodePlane, pageRun, planeSize, planeStride, programPlane, writePtes, type Gen9Window,
} from '../vgpu/gvt/Gen9Programming.ts';
import {
  CUR_BASE, CUR_CTL, CUR_POS, CUR_SURFLIVE, curPosValue, GTT_BASE, GTT_ENTRY_SIZE, PIPECONF,
  PIPECONF_ENABLE, PIPESRC, pipesrcValue, PLANE_CTL, PLANE_FORMAT, PLANE_SURF, PLANE_SURFLIVE,
  planeSizeValue, PRIMARY_PLANE_BASE, PVINFO, PVINFO_BASE, SPRITE_CTL, SPRITE_PLANE_BASE, SPRITE_SIZE,
  SPRITE_SURFLIVE, VGT_MAGIC_HI, VGT_MAGIC_LO,
} from '../vgpu/gvt/GvtRegisters.ts';
import type { DeviceClient, RegionDesc } from './DeviceClient.ts';
import type { DisplayProgrammer, ExpectedPlane, ModeRequest } from './DisplayProgrammer.ts';

const BAR0 = VFIO_PCI_BAR0_REGION_INDEX;
const BAR2 = VFIO_PCI_BAR2_REGION_INDEX;
const MiB = 1024 * 1024;

/** The modifier QUERY must report for each tiling the suite programs. */
const MODIFIER = {
  linear: DRM_FORMAT_MOD.LINEAR, x: DRM_FORMAT_MOD.I915_X_TILED, y: DRM_FORMAT_MOD.I915_Y_TILED,
} as const;

/** Guest pages the suite uses for its buffers (the VM has at least 64 MiB = 16384 pages). */
export const GVT_GUEST_PAGES = {
  buffer0: 1024,
  buffer1: 2048,
  cursor: 3072,
  sprite: 3136,
  /** Pages per primary buffer: up to 4 MiB (1024×768 linear fits with room). */
  bufferPages: 1024,
  cursorPages: 64,
  spritePages: 64,
} as const;

/** A GGTT slice as the PV-info page reports it. */
export interface GvtSlice {
  readonly base: number;
  readonly size: number;
}

/**
 * GVT-g-style programming through BAR0 (MMIO, 4-byte accesses; GTT entries 8 bytes at
 * 0x800000 + 8 × graphics page) and BAR2 (the vGPU's aperture slice: CPU access to graphics
 * memory). The vGPU's slices come from the PV-info page. Buffers live in the aperture slice:
 * buffer 0 at its start, buffer 1 at +4 MiB, the cursor at +8 MiB, a sprite at +8.25 MiB, each
 * backed by guest pages of GVT_GUEST_PAGES.
 *
 * Surface registers latch at the next vblank, which the device file cannot produce. `vblank`
 * (from the caller, e.g. the emulated device's vblank()) is used when given; on a real device the
 * programmer polls the *_SURFLIVE register until the flip shows (GVT emulates vblanks itself).
 */
export class GvtProgrammer implements DisplayProgrammer {
  public readonly family = 'gvt' as const;
  public readonly latch: true | string;
  public aperture: GvtSlice = { base: 0, size: 0 };
  public hidden: GvtSlice = { base: 0, size: 0 };
  public bar2: RegionDesc | undefined;
  /** BAR0 as Gen9Programming writes through it. */
  private readonly _bar0: Gen9Window = {
    write32: (off, v) => this.mmio(off, v),
    write64: (off, v) => this._client.write64(BAR0, off, v),
  };

  public constructor(
    private readonly _client: DeviceClient,
    private readonly _vblank: (() => void) | undefined,
    private readonly _real: boolean,
  ) {
    this.latch = _vblank || _real ? true : 'no vblank source (pass a vblank hook for emulated GVT)';
  }

  public prepare(): number {
    const bar0 = this._client.region(BAR0);
    if (typeof bar0 === 'number') return bar0;
    const bar2 = this._client.region(BAR2);
    if (typeof bar2 === 'number') return bar2;
    this.bar2 = bar2;
    const lo = this.mmioRead(PVINFO_BASE + PVINFO.MAGIC_LO);
    const hi = this.mmioRead(PVINFO_BASE + PVINFO.MAGIC_HI);
    if (lo < 0) return lo;
    if (lo !== VGT_MAGIC_LO || hi !== VGT_MAGIC_HI) return -Errno.ENODEV;
    const words = [PVINFO.APERTURE_BASE, PVINFO.APERTURE_SIZE, PVINFO.HIDDEN_BASE, PVINFO.HIDDEN_SIZE]
      .map((o) => this.mmioRead(PVINFO_BASE + o));
    if (words.some((w) => w < 0)) return -Errno.EIO;
    this.aperture = { base: words[0]!, size: words[1]! };
    this.hidden = { base: words[2]!, size: words[3]! };
    if (this.aperture.size < 16 * MiB) return -Errno.ENOSPC;
    return 0;
  }

  // ---- raw access ------------------------------------------------------------------------------

  public mmioRead(offset: number): number {
    return this._client.read32(BAR0, offset);
  }

  public mmio(offset: number, value: number): number {
    return this._client.write32(BAR0, offset, value);
  }

  /** Write the 64-bit GTT entry of graphics page `gfxPage`. */
  public writePte(gfxPage: number, pte: bigint): number {
    return this._client.write64(BAR0, GTT_BASE + GTT_ENTRY_SIZE * gfxPage, pte);
  }

  public readPte(gfxPage: number): bigint | number {
    return this._client.read64(BAR0, GTT_BASE + GTT_ENTRY_SIZE * gfxPage);
  }

  /** Map `count` graphics pages from `gma` to guest pages from `guestPage`. */
  public mapPages(gma: number, guestPage: number, count: number): number {
    return writePtes(this._bar0, gma, pageRun(guestPage, count));
  }

  /** Graphics address of a suite buffer. */
  public gma(what: 'buffer0' | 'buffer1' | 'cursor' | 'sprite'): number {
    const off = { buffer0: 0, buffer1: 4 * MiB, cursor: 8 * MiB, sprite: 8 * MiB + 256 * 1024 }[what];
    return this.aperture.base + off;
  }

  /** Make armed surface writes latch: the vblank hook, else wait until `liveReg` shows `value`. */
  public vblank(liveReg = PLANE_SURFLIVE(0), value?: number): number {
    if (this._vblank) {
      this._vblank();
      return 0;
    }
    if (!this._real) return -Errno.EAGAIN;
    const deadline = Date.now() + 500;
    while (Date.now() < deadline) {
      const v = this.mmioRead(liveReg);
      if (v < 0) return v;
      if (value === undefined || (v & ~0xfff) >>> 0 === (value & ~0xfff) >>> 0) return 0;
    }
    return -Errno.EAGAIN;
  }

  // ---- DisplayProgrammer -----------------------------------------------------------------------

  public setMode(mode: ModeRequest): ExpectedPlane | number {
    const tiling = mode.tiling ?? 'linear';
    const stride = planeStride(mode.width, 32, tiling);
    const size = planeSize(stride, mode.height, tiling);
    const pages = Math.ceil(size / PAGE_SIZE);
    const regs = encodePlane({ format: PLANE_FORMAT.XRGB_8888, bpp: 32, tiling, stride });
    if (pages > GVT_GUEST_PAGES.bufferPages || !regs) return -Errno.E2BIG;
    let rc = this.mapPages(this.gma('buffer0'), GVT_GUEST_PAGES.buffer0, pages);
    if (rc === 0) rc = this.mapPages(this.gma('buffer1'), GVT_GUEST_PAGES.buffer1, pages);
    if (rc === 0) rc = this.mmio(PIPESRC(0), pipesrcValue(mode.width, mode.height));
    if (rc === 0) rc = this.mmio(PIPECONF(0), PIPECONF_ENABLE);
    if (rc === 0) rc = programPlane(this._bar0, PRIMARY_PLANE_BASE(0), regs, this.gma('buffer0'));
    if (rc === 0) rc = this.vblank(PLANE_SURFLIVE(0), this.gma('buffer0'));
    if (rc < 0) return rc;
    return {
      drmFormat: DRM_FORMAT.XRGB8888, modifier: MODIFIER[tiling], width: mode.width, height: mode.height,
      stride, size,
    };
  }

  public disable(): number {
    const rc = this.mmio(PLANE_CTL(0), 0);
    return rc < 0 ? rc : this.mmio(PIPECONF(0), 0);
  }

  public flip(buffer: 0 | 1): number {
    return this.setSurface(this.gma(buffer === 0 ? 'buffer0' : 'buffer1'));
  }

  /** Point the primary plane at `gma` and latch it. */
  public setSurface(gma: number): number {
    const rc = this.mmio(PLANE_SURF(0), gma);
    return rc < 0 ? rc : this.vblank(PLANE_SURFLIVE(0), gma);
  }

  /** Write PLANE_CTL of the primary plane (format/tiling experiments). */
  public setPlaneCtl(value: number): number {
    return this.mmio(PLANE_CTL(0), value);
  }

  public writePixel(buffer: 0 | 1, offset: number, value: number): number {
    return this.writeGma32(this.gma(buffer === 0 ? 'buffer0' : 'buffer1') + offset, value);
  }

  /** A u32 into graphics memory through BAR2 (the aperture slice starts at BAR2 offset 0). */
  public writeGma32(gma: number, value: number): number {
    return this._client.write32(BAR2, gma - this.aperture.base, value);
  }

  public readGma32(gma: number): number {
    return this._client.read32(BAR2, gma - this.aperture.base);
  }

  // ---- cursor, hotspot, sprite -----------------------------------------------------------------

  /** Enable the cursor in CURCNTR `mode` at (x, y) (negative allowed), its image at the cursor GMA. */
  public setCursor(mode: number, x: number, y: number): number {
    const gma = this.gma('cursor');
    let rc = this.mapPages(gma, GVT_GUEST_PAGES.cursor, GVT_GUEST_PAGES.cursorPages);
    if (rc === 0) rc = this.mmio(CUR_CTL(0), mode);
    if (rc === 0) rc = this.mmio(CUR_POS(0), curPosValue(x, y));
    if (rc === 0) rc = this.mmio(CUR_BASE(0), gma);
    return rc < 0 ? rc : this.vblank(CUR_SURFLIVE(0), gma);
  }

  public disableCursor(): number {
    return this.mmio(CUR_CTL(0), 0);
  }

  /** The PV-info cursor hotspot (0xFFFFFFFF = unknown). */
  public setHotspot(x: number, y: number): number {
    const rc = this.mmio(PVINFO_BASE + PVINFO.CURSOR_X_HOT, x);
    return rc < 0 ? rc : this.mmio(PVINFO_BASE + PVINFO.CURSOR_Y_HOT, y);
  }

  /** Enable the sprite plane, XRGB8888 linear, `width` × `height`. */
  public setSprite(width: number, height: number): number {
    const gma = this.gma('sprite');
    const stride = planeStride(width, 32, 'linear');
    const regs = encodePlane({ format: PLANE_FORMAT.XRGB_8888, bpp: 32, tiling: 'linear', stride });
    if (!regs || Math.ceil((stride * height) / PAGE_SIZE) > GVT_GUEST_PAGES.spritePages) return -Errno.E2BIG;
    let rc = this.mapPages(gma, GVT_GUEST_PAGES.sprite, GVT_GUEST_PAGES.spritePages);
    if (rc === 0) rc = this.mmio(SPRITE_SIZE(0), planeSizeValue(width, height));
    if (rc === 0) rc = programPlane(this._bar0, SPRITE_PLANE_BASE(0), regs, gma);
    return rc < 0 ? rc : this.vblank(SPRITE_SURFLIVE(0), gma);
  }

  public disableSprite(): number {
    return this.mmio(SPRITE_CTL(0), 0);
  }

  public dispose(): void {}
}
