import type { DirtyLog } from '../gpu/DirtyLog.ts';
import { PAGE_SIZE, type GuestMemory } from '../gpu/GuestMemory.ts';
import { DRM_FORMAT, formatInfo } from '../kms/Fourcc.ts';
import { LINEAR, X_TILED, Y_TILED, tiledOffset, type TileLayout } from '../kms/Tiling.ts';
import type { Vgpu } from '../vfio/EmulatedHost.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import {
  encodePlane, planeSize, planeStride, programPlane, writePtes, type Gen9Tiling, type Gen9Window,
} from '../vgpu/gvt/Gen9Programming.ts';
import {
  CURSOR_MODE, CURSOR_X_HOT, CURSOR_Y_HOT, CUR_BASE, CUR_CTL, CUR_POS, PIPECONF, PIPECONF_ENABLE,
  PIPESRC, PLANE_CTL, PLANE_FORMAT, PLANE_SURF, PLANE_TILING, PRIMARY_PLANE_BASE, curPosValue,
  pipesrcValue, planeCtlValue,
} from '../vgpu/gvt/GvtRegisters.ts';

/** A buffer the test guest allocated: graphics address, backing guest pages, layout. */
export interface GuestBuffer {
  readonly gma: number;
  readonly pages: Uint32Array;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly size: number;
  readonly tiling: Gen9Tiling;
  /** Addressing layout (Yf is drawn as Y: only its modifier matters to the tests). */
  readonly layout: TileLayout;
}

export interface AllocOptions {
  readonly width: number;
  readonly height: number;
  readonly tiling?: Gen9Tiling;
  /** Back the buffer with guest pages in reverse order (a scattered dma-buf). */
  readonly scatter?: boolean;
}

const CPP = 4; // the test guest draws XRGB8888 / ARGB8888 only

/**
 * A minimal guest driver for an emulated GVT vGPU, for display tests and benchmarks: it allocates
 * buffers (guest pages + GGTT entries written through the BAR0 GTT window), programs the primary
 * and cursor planes with MMIO writes, flips (armed until `vblank`), and draws pixels the way fbcon
 * will — marking the dirty log over the bytes it writes. Pipe A only.
 */
export class GvtGuest {
  public readonly device: GvtDevice;
  public readonly memory: GuestMemory;
  public readonly dirtyLog: DirtyLog;
  private _nextPage: number;
  private readonly _endPage: number;
  private _nextGma: number;
  private readonly _endGma: number;
  private readonly _bar0: Gen9Window;

  public constructor(vgpu: Vgpu) {
    if (vgpu.kind !== 'gvt') throw new RangeError(`GvtGuest needs a gvt vGPU, got ${vgpu.kind}`);
    this.device = vgpu.device as GvtDevice;
    this.memory = vgpu.memory;
    this.dirtyLog = vgpu.dirtyLog;
    this._nextPage = vgpu.layout.ramFirstPage;
    this._endPage = vgpu.layout.ramFirstPage + vgpu.layout.ramPages;
    this._nextGma = this.device.aperture.base;
    this._endGma = this.device.aperture.base + this.device.aperture.size;
    const d = this.device;
    this._bar0 = { write32: (off, v) => d.mmioWrite32(off, v), write64: (off, v) => d.mmioWrite64(off, v) };
  }

  public alloc(o: AllocOptions): GuestBuffer {
    const tiling = o.tiling ?? 'linear';
    const layout = tiling === 'linear' ? LINEAR : tiling === 'x' ? X_TILED : Y_TILED;
    const stride = planeStride(o.width, CPP * 8, tiling);
    const size = planeSize(stride, o.height, tiling);
    const count = Math.ceil(size / PAGE_SIZE);
    if (this._nextPage + count > this._endPage) throw new RangeError('test guest out of memory');
    if (this._nextGma + count * PAGE_SIZE > this._endGma) throw new RangeError('test guest out of aperture');
    const pages = new Uint32Array(count);
    for (let i = 0; i < count; i++) pages[i] = this._nextPage + (o.scatter ? count - 1 - i : i);
    this._nextPage += count;
    const gma = this._nextGma;
    this._nextGma += count * PAGE_SIZE;
    writePtes(this._bar0, gma, pages);
    return { gma, pages, width: o.width, height: o.height, stride, size, tiling, layout };
  }

  /** Enable pipe A showing `buf` on the primary plane; the surface latches at the next vblank. */
  public showPrimary(buf: GuestBuffer, opts: { alpha?: boolean } = {}): void {
    const d = this.device;
    const regs = encodePlane({
      format: PLANE_FORMAT.XRGB_8888, bpp: CPP * 8, tiling: buf.tiling, stride: buf.stride,
      alpha: opts.alpha ? 1 : 0,
    });
    if (!regs) throw new RangeError(`stride ${buf.stride} cannot be programmed for ${buf.tiling}`);
    d.mmioWrite32(PIPESRC(0), pipesrcValue(buf.width, buf.height));
    programPlane(this._bar0, PRIMARY_PLANE_BASE(0), regs, buf.gma);
    d.mmioWrite32(PIPECONF(0), PIPECONF_ENABLE);
  }

  /** Arm a page flip to `buf` (same layout as the current one); it latches at the next vblank. */
  public flip(buf: GuestBuffer): void {
    this.device.mmioWrite32(PLANE_SURF(0), buf.gma);
  }

  /** Arm a flip to an arbitrary graphics address (e.g. one with no GGTT mapping). */
  public flipToAddress(gma: number): void {
    this.device.mmioWrite32(PLANE_SURF(0), gma);
  }

  public vblank(): void {
    this.device.vblank();
  }

  public disablePrimary(): void {
    this.device.mmioWrite32(PLANE_CTL(0), planeCtlValue({ enable: false, format: PLANE_FORMAT.XRGB_8888 }));
  }

  /** Re-enable the primary with an arbitrary PLANE_CTL format code (e.g. NV12 → device -EINVAL). */
  public setPrimaryFormat(format: number, tiling: number = PLANE_TILING.LINEAR): void {
    this.device.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format, tiling }));
  }

  /** A 64×64 ARGB cursor showing `buf` (latches at vblank). */
  public showCursor(buf: GuestBuffer, x = 0, y = 0): void {
    this.device.mmioWrite32(CUR_CTL(0), CURSOR_MODE.ARGB_64);
    this.device.mmioWrite32(CUR_BASE(0), buf.gma);
    this.moveCursor(x, y);
  }

  public hideCursor(): void {
    this.device.mmioWrite32(CUR_CTL(0), CURSOR_MODE.DISABLE);
  }

  /** CURPOS with sign bits: negative positions hang off the top/left edge. */
  public moveCursor(x: number, y: number): void {
    this.device.mmioWrite32(CUR_POS(0), curPosValue(x, y));
  }

  /** PV-info hotspot; 0xFFFFFFFF = unknown. */
  public setHotspot(x: number, y: number): void {
    this.device.mmioWrite32(CURSOR_X_HOT, x >>> 0);
    this.device.mmioWrite32(CURSOR_Y_HOT, y >>> 0);
  }

  /** Guest physical byte address of buffer byte `offset`. */
  public address(buf: GuestBuffer, offset: number): number {
    return buf.pages[Math.floor(offset / PAGE_SIZE)]! * PAGE_SIZE + (offset % PAGE_SIZE);
  }

  /** Write one pixel (0xAARRGGBB) without marking the dirty log. */
  public poke(buf: GuestBuffer, x: number, y: number, argb: number): number {
    const off = tiledOffset(buf.layout, buf.stride, x * CPP, y);
    const a = this.address(buf, off);
    const b = this.memory.bytes;
    b[a] = argb & 0xff;
    b[a + 1] = (argb >>> 8) & 0xff;
    b[a + 2] = (argb >>> 16) & 0xff;
    b[a + 3] = (argb >>> 24) & 0xff;
    return a;
  }

  /** Read one pixel back as 0xAARRGGBB. */
  public peek(buf: GuestBuffer, x: number, y: number): number {
    const a = this.address(buf, tiledOffset(buf.layout, buf.stride, x * CPP, y));
    const b = this.memory.bytes;
    return (b[a]! | (b[a + 1]! << 8) | (b[a + 2]! << 16) | (b[a + 3]! << 24)) >>> 0;
  }

  /** Fill a rectangle, marking the dirty log per pixel written (like the guest Surface). */
  public fillRect(buf: GuestBuffer, x: number, y: number, w: number, h: number, argb: number, dirty = true): void {
    for (let yy = y; yy < y + h; yy++) {
      for (let xx = x; xx < x + w; xx++) {
        const a = this.poke(buf, xx, yy, argb);
        if (dirty) this.dirtyLog.markBytes(a, CPP);
      }
    }
  }

  /**
   * Draw one 8×16 text cell at (col, row) as fbcon does for a typed character: every pixel row of
   * the cell is written, then the dirty log is marked over the bytes of each row written.
   */
  public drawGlyphCell(buf: GuestBuffer, col: number, row: number, fg = 0xffc0c0c0, bg = 0xff000000): void {
    const x0 = col * 8;
    const y0 = row * 16;
    for (let y = y0; y < y0 + 16; y++) {
      for (let x = x0; x < x0 + 8; x++) {
        // A checkerboard "glyph": which pixels are lit does not matter to the host.
        this.poke(buf, x, y, ((x + y) & 1) !== 0 ? fg : bg);
      }
      if (buf.tiling === 'linear') {
        const off = y * buf.stride + x0 * CPP;
        this.dirtyLog.markBytes(this.address(buf, off), 8 * CPP);
      } else {
        for (let x = x0; x < x0 + 8; x++) {
          this.dirtyLog.markBytes(this.address(buf, tiledOffset(buf.layout, buf.stride, x * CPP, y)), CPP);
        }
      }
    }
  }
}

/** XRGB8888, the format the test guest scans out. */
export const GUEST_FORMAT = DRM_FORMAT.XRGB8888;
export const GUEST_CPP = formatInfo(GUEST_FORMAT)!.cpp;
