import { Errno } from '../../base/Errno.ts';
import { PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { LINEAR, X_TILED } from '../../kms/Tiling.ts';
import type { DisplayMode, DriverCaps, ModeConfig, SurfaceRequest, VblankInfo } from './DisplayDriver.ts';
import { DisplayDriverBase, type DriverResources } from './DisplayDriverBase.ts';
import { parseEdid } from './Edid.ts';
import { rd32, wr32, type RegisterWindow } from './RegisterWindow.ts';
import { SFB_CURSOR_SIZE, SFB_ID, SfbReg } from './SimpleFbRegs.ts';
import type { Surface } from './Surface.ts';

/** Vblanks between polls of the hotplug counter (a register read is a round trip to the host). */
const HOTPLUG_POLL = 30;

/** Guest driver for the simplefb device (see SimpleFbRegs.ts). */
export class SimpleFbDriver extends DisplayDriverBase {
  public readonly caps: DriverCaps = {
    name: 'simplefb',
    formats: [DRM_FORMAT.XRGB8888, DRM_FORMAT.XBGR8888, DRM_FORMAT.RGB565],
    tilings: [LINEAR, X_TILED],
    cursor: true,
    cursorSize: SFB_CURSOR_SIZE,
    minWidth: 64,
    minHeight: 64,
    maxWidth: 4096,
    maxHeight: 4096,
  };
  private readonly _regs: RegisterWindow;
  private _modes: DisplayMode[] = [];
  private _hotplugSeq = 0;
  private _lastPoll = 0;
  /** Page-table pages of each buffer. */
  private readonly _tables = new Map<Surface, number[]>();

  public constructor(res: DriverResources & { readonly regs: RegisterWindow }) {
    super({ ...res, writeSeq: () => res.regs.writeSeq });
    this._regs = res.regs;
  }

  public override init(): number {
    if (rd32(this._regs, SfbReg.ID) !== SFB_ID) return -Errno.ENODEV;
    this._hotplugSeq = rd32(this._regs, SfbReg.HOTPLUG_SEQ);
    this._readEdid();
    return 0;
  }

  public modes(): DisplayMode[] {
    return this._modes.slice();
  }

  public override vblank(info: VblankInfo): void {
    super.vblank(info);
    // Vblanks can be coalesced (the guest sees only the latest), so poll by elapsed count.
    if (info.seq - this._lastPoll >= HOTPLUG_POLL) {
      this._lastPoll = info.seq;
      const seq = rd32(this._regs, SfbReg.HOTPLUG_SEQ);
      if (seq !== this._hotplugSeq) {
        this._hotplugSeq = seq;
        this._readEdid();
        this._fireHotplug();
      }
    }
  }

  protected _programMode(_m: ModeConfig): number {
    // No pipe timing registers: the plane size is the mode.
    return 0;
  }

  protected _programPrimary(s: Surface | null): number {
    const r = this._regs;
    if (!s) {
      wr32(r, SfbReg.PRI_CTL, 0);
    } else {
      wr32(r, SfbReg.PRI_FORMAT, s.format);
      wr32(r, SfbReg.PRI_MOD_LO, Number(s.modifier & 0xffffffffn));
      wr32(r, SfbReg.PRI_MOD_HI, Number(s.modifier >> 32n));
      wr32(r, SfbReg.PRI_WIDTH, s.width);
      wr32(r, SfbReg.PRI_HEIGHT, s.height);
      wr32(r, SfbReg.PRI_STRIDE, s.stride);
      wr32(r, SfbReg.PRI_PT_ADDR, s.address);
      wr32(r, SfbReg.PRI_PT_COUNT, s.pages.length);
      wr32(r, SfbReg.PRI_CTL, 1);
    }
    wr32(r, SfbReg.PRI_COMMIT, 1);
    return 0;
  }

  protected override _programCursor(image: Surface | null, hotX: number, hotY: number): number {
    const r = this._regs;
    if (!image) {
      wr32(r, SfbReg.CUR_CTL, 0);
      return 0;
    }
    wr32(r, SfbReg.CUR_PT_ADDR, image.address);
    wr32(r, SfbReg.CUR_HOT, (hotX & 0xffff) | ((hotY & 0xffff) << 16));
    wr32(r, SfbReg.CUR_CTL, 1);
    return 0;
  }

  protected override _programCursorPos(x: number, y: number): void {
    wr32(this._regs, SfbReg.CUR_POS, (x & 0xffff) | ((y & 0xffff) << 16));
  }

  /** Write the buffer's page table into guest memory; its address is the buffer's device address. */
  protected override _mapSurface(s: Surface, _req: SurfaceRequest): number {
    const count = Math.ceil((s.pages.length * 4) / PAGE_SIZE);
    // The device reads the table as one contiguous run.
    const table = this._allocator.allocContiguous(count);
    if (!table) return -Errno.ENOMEM;
    const view = new DataView(this._memory.buffer);
    s.pages.forEach((p, i) => {
      const at = table[Math.floor((i * 4) / PAGE_SIZE)]! * PAGE_SIZE + ((i * 4) % PAGE_SIZE);
      view.setUint32(at, p, true);
    });
    for (const p of table) this._dirty?.markPages(p, 1);
    s.address = table[0]! * PAGE_SIZE;
    this._tables.set(s, table);
    return 0;
  }

  protected override _unmapSurface(s: Surface): void {
    const t = this._tables.get(s);
    if (t) this._allocator.free(t);
    this._tables.delete(s);
  }

  protected override _infoExtra(): string[] {
    const r = this._regs;
    const pt = rd32(r, SfbReg.PRI_PT_ADDR).toString(16);
    return [`simplefb: PRI_CTL=${rd32(r, SfbReg.PRI_CTL)} PRI_PT_ADDR=0x${pt} ` +
      `FLIPS=${rd32(r, SfbReg.FLIPS)} VBLANKS=${rd32(r, SfbReg.VBLANKS)}`];
  }

  private _readEdid(): void {
    const edid = new Uint8Array(128);
    const dv = new DataView(edid.buffer);
    for (let i = 0; i < 128; i += 4) dv.setUint32(i, rd32(this._regs, SfbReg.EDID + i), true);
    const info = parseEdid(edid);
    this._modes = typeof info === 'number' ? [] : info.modes;
  }
}
