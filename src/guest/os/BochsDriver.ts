import { Errno } from '../../base/Errno.ts';
import { PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { LINEAR } from '../../kms/Tiling.ts';
import {
  BOCHS_BPP, BOCHS_MIN_RES, DISPI, DISPI_ENABLE, DISPI_ID5, dispiOffset,
} from '../../vgpu/bochs/BochsRegisters.ts';
import type { DisplayMode, DriverCaps, ModeConfig, SurfaceRequest, VblankInfo } from './DisplayDriver.ts';
import { DisplayDriverBase, type DriverResources } from './DisplayDriverBase.ts';
import { parseEdid } from './Edid.ts';
import { rd32, type RegisterWindow } from './RegisterWindow.ts';
import type { Surface } from './Surface.ts';

/** Vblanks between EDID polls (the device has no hotplug register; a read is a round trip). */
const HOTPLUG_POLL = 30;
/** Oldest DISPI interface with 32 bpp and a linear framebuffer. */
const DISPI_ID_MIN = 0xb0c2;
/** Y_OFFSET and the other DISPI registers are 16 bits wide. */
const U16_MAX = 0xffff;
/** EDID bytes whose change marks a new monitor: the preferred timing and the checksum. */
const EDID_FINGERPRINT = [52, 56, 124] as const;

export interface BochsDriverResources extends DriverResources {
  readonly regs: RegisterWindow;
  /** Where VRAM (BAR0) lives in guest memory: the host's layout (fbFirstPage, fbPages). */
  readonly options: Readonly<Record<string, string | number | boolean>>;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Guest driver for the mbochs-style device (Bochs DISPI registers, 16-bit, at MMIO 0x500). Every
 * buffer lives in VRAM, stacked vertically in one virtual screen VIRT_WIDTH = width pixels wide:
 * a page flip is a Y_OFFSET pan, so each buffer is its own VRAM offset (and its own dma-buf id).
 * Buffers start on rows whose VRAM offset is page aligned, as mbochs exports only those. Only
 * XRGB8888 linear; no cursor plane. The EDID is read from MMIO 0x000-0x3FF (zeros while the link
 * is down) and polled for changes, since the device raises no hotplug interrupt.
 */
export class BochsDriver extends DisplayDriverBase {
  public readonly caps: DriverCaps = {
    name: 'bochs',
    formats: [DRM_FORMAT.XRGB8888],
    tilings: [LINEAR],
    cursor: false,
    cursorSize: 0,
    minWidth: BOCHS_MIN_RES,
    minHeight: BOCHS_MIN_RES,
    maxWidth: 4096,
    maxHeight: 4096,
  };
  private readonly _regs: RegisterWindow;
  private readonly _options: Readonly<Record<string, string | number | boolean>>;
  private _vramFirst = 0;
  private _vramPages = 0;
  /** One byte per VRAM page: 1 = part of a buffer. */
  private _vramUsed = new Uint8Array(0);
  private _dispiId = 0;
  private _modes: DisplayMode[] = [];
  private _fingerprint = '';
  private _lastPoll = 0;
  private _width = 0;
  private _height = 0;
  private _enabled = false;

  public constructor(res: BochsDriverResources) {
    super({ ...res, writeSeq: () => res.regs.writeSeq });
    this._regs = res.regs;
    this._options = res.options;
  }

  public override init(): number {
    this._dispiId = this._dispi(DISPI.ID);
    if (this._dispiId < DISPI_ID_MIN || this._dispiId > DISPI_ID5) return -Errno.ENODEV;
    const vramBytes = this._dispi(DISPI.VIDEO_MEMORY_64K) * 64 * 1024;
    const first = Number(this._options.fbFirstPage);
    const pages = Math.min(Number(this._options.fbPages), Math.floor(vramBytes / PAGE_SIZE));
    if (!Number.isInteger(first) || !Number.isInteger(pages) || first < 0 || pages <= 0 ||
        !this._memory.hasPage(first) || !this._memory.hasPage(first + pages - 1)) return -Errno.ENODEV;
    this._vramFirst = first;
    this._vramPages = pages;
    this._vramUsed = new Uint8Array(pages);
    this._readEdid();
    return 0;
  }

  public modes(): DisplayMode[] {
    return this._modes.slice();
  }

  public override checkMode(m: ModeConfig): number {
    const r = super.checkMode(m);
    if (r < 0) return r;
    // At least one screen must fit in VRAM.
    return m.width * 4 * m.height <= this._vramPages * PAGE_SIZE ? 0 : -Errno.EINVAL;
  }

  public override vblank(info: VblankInfo): void {
    super.vblank(info);
    if (this._vramPages > 0 && info.seq - this._lastPoll >= HOTPLUG_POLL) {
      this._lastPoll = info.seq;
      if (this._edidFingerprint() !== this._fingerprint) {
        this._readEdid();
        this._fireHotplug();
      }
    }
  }

  // ---- hooks ----

  protected _programMode(m: ModeConfig): number {
    if (this._vramPages === 0) return -Errno.ENODEV;
    const stride = m.width * 4;
    // Blank while the geometry changes; the next show() pans to its buffer and enables.
    this._setDispi(DISPI.ENABLE, DISPI_ENABLE.DISABLED);
    this._enabled = false;
    this._setDispi(DISPI.BPP, BOCHS_BPP);
    this._setDispi(DISPI.XRES, m.width);
    this._setDispi(DISPI.YRES, m.height);
    this._setDispi(DISPI.VIRT_WIDTH, m.width);
    this._setDispi(DISPI.VIRT_HEIGHT, Math.min(U16_MAX, Math.floor((this._vramPages * PAGE_SIZE) / stride)));
    this._setDispi(DISPI.X_OFFSET, 0);
    this._width = m.width;
    this._height = m.height;
    return 0;
  }

  protected _programPrimary(s: Surface | null): number {
    if (!s) {
      this._setDispi(DISPI.ENABLE, DISPI_ENABLE.DISABLED);
      this._enabled = false;
      return 0;
    }
    const row = s.address / s.stride;
    if (s.width !== this._width || s.height !== this._height || s.stride !== s.width * 4 ||
        !Number.isInteger(row) || row > U16_MAX) return -Errno.EINVAL;
    // The pan is the flip: one 16-bit write, applied by the device as it arrives.
    this._setDispi(DISPI.Y_OFFSET, row);
    if (!this._enabled) {
      this._setDispi(DISPI.ENABLE, DISPI_ENABLE.ENABLED | DISPI_ENABLE.LFB_ENABLED);
      this._enabled = true;
    }
    return 0;
  }

  /** VIRT_WIDTH = width: rows are packed, no padding. */
  protected override _stride(req: SurfaceRequest): number {
    return req.width * 4;
  }

  /**
   * VRAM pages for a buffer: the first free run that starts on a row (offset a multiple of the
   * stride) that is page aligned (exportable) and reachable by the 16-bit Y_OFFSET.
   */
  protected override _allocPages(count: number, req: SurfaceRequest): number[] | undefined {
    if (req.purpose !== 'scanout' || this._vramPages === 0) return undefined;
    const stride = this._stride(req);
    const alignPages = stride / gcd(stride, PAGE_SIZE);
    const lastStart = Math.min(this._vramPages - count, Math.floor((U16_MAX * stride) / PAGE_SIZE));
    for (let start = 0; start <= lastStart; start += alignPages) {
      let free = true;
      for (let i = 0; i < count; i++) {
        if (this._vramUsed[start + i]) { free = false; break; }
      }
      if (!free) continue;
      this._vramUsed.fill(1, start, start + count);
      return Array.from({ length: count }, (_, i) => this._vramFirst + start + i);
    }
    return undefined;
  }

  protected override _mapSurface(s: Surface, _req: SurfaceRequest): number {
    // The buffer's device address is its VRAM byte offset.
    s.address = (s.pages[0]! - this._vramFirst) * PAGE_SIZE;
    return 0;
  }

  protected override _unmapSurface(s: Surface): void {
    for (const p of s.pages) {
      const i = p - this._vramFirst;
      if (i >= 0 && i < this._vramPages) this._vramUsed[i] = 0;
    }
  }

  protected override _infoExtra(): string[] {
    const d = (i: number): number => this._dispi(i);
    let used = 0;
    for (const u of this._vramUsed) used += u;
    return [
      `bochs: DISPI id 0x${this._dispiId.toString(16)}, VRAM ${(this._vramPages * PAGE_SIZE) >> 20} MiB ` +
        `(${used} of ${this._vramPages} pages in buffers)`,
      `bochs: ENABLE=0x${d(DISPI.ENABLE).toString(16)} ${d(DISPI.XRES)}x${d(DISPI.YRES)}x${d(DISPI.BPP)} ` +
        `virt ${d(DISPI.VIRT_WIDTH)}x${d(DISPI.VIRT_HEIGHT)} ` +
        `offset ${d(DISPI.X_OFFSET)},${d(DISPI.Y_OFFSET)}`,
    ];
  }

  private _dispi(index: number): number {
    return this._regs.read(dispiOffset(index), 2) & 0xffff;
  }

  private _setDispi(index: number, value: number): void {
    this._regs.write(dispiOffset(index), 2, value & 0xffff);
  }

  private _edidFingerprint(): string {
    return EDID_FINGERPRINT.map((o) => rd32(this._regs, o)).join(',');
  }

  private _readEdid(): void {
    const edid = new Uint8Array(128);
    const dv = new DataView(edid.buffer);
    for (let i = 0; i < 128; i += 4) dv.setUint32(i, rd32(this._regs, i), true);
    this._fingerprint = EDID_FINGERPRINT.map((o) => dv.getUint32(o, true)).join(',');
    const info = parseEdid(edid);
    this._modes = typeof info === 'number' ? [] : info.modes;
  }
}
