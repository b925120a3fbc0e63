import { Emitter } from '../../base/Emitter.ts';
import { Errno } from '../../base/Errno.ts';
import { PAGE_SIZE, type GuestMemory } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT, formatInfo } from '../../kms/Fourcc.ts';
import { layoutForModifier, tileRoundedHeight } from '../../kms/Tiling.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import { HOTSPOT_UNKNOWN, type DecodedPlane, type DisplayEvent, type PlaneDecode } from '../../vgpu/Plane.ts';
import { SFB_CURSOR_SIZE, SFB_ID, SfbReg } from '../os/SimpleFbRegs.ts';
import type { MmioTarget } from './HostPort.ts';

interface Primary {
  ctl: number; format: number; modLo: number; modHi: number;
  width: number; height: number; stride: number; ptAddr: number; ptCount: number;
}

/**
 * Host model of the simplefb device (see os/SimpleFbRegs.ts): enough of a display engine to run
 * the guest OS end to end in tests and demos, and a reference for how a device model plugs into a
 * Vm (it is the MmioTarget and the scanout source). Decoding validates every page against the VM's
 * memory and never throws.
 */
export class SimpleFbDevice implements MmioTarget {
  public flips = 0;
  public vblanks = 0;
  private readonly _memory: GuestMemory;
  private _edid: Uint8Array;
  private _hotplugSeq = 0;
  private readonly _shadow: Primary = {
    ctl: 0, format: 0, modLo: 0, modHi: 0, width: 0, height: 0, stride: 0, ptAddr: 0, ptCount: 0,
  };
  private _live: Primary = { ...this._shadow };
  private _commit = false;
  private _cur = { ctl: 0, ptAddr: 0, pos: 0, hot: HOTSPOT_UNKNOWN };
  private readonly _onDisplayEvent = new Emitter<DisplayEvent>();
  public readonly onDisplayEvent = this._onDisplayEvent.event;

  public constructor(memory: GuestMemory, edid: Uint8Array = SimpleFbDevice.edid(1024, 768)) {
    this._memory = memory;
    this._edid = edid.slice(0, 128);
  }

  /** Replace the EDID (a different monitor): the guest sees a hotplug. */
  public plug(edid: Uint8Array): void {
    this._edid = edid.slice(0, 128);
    this._hotplugSeq++;
  }

  public read(offset: number, size: number): number | bigint {
    if (size === 8) return 0n;
    if (offset >= SfbReg.EDID && offset < SfbReg.EDID + 128) {
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = (v << 8) | (this._edid[offset - SfbReg.EDID + i] ?? 0);
      return v >>> 0;
    }
    const p = this._shadow;
    switch (offset) {
      case SfbReg.ID: return SFB_ID;
      case SfbReg.HOTPLUG_SEQ: return this._hotplugSeq;
      case SfbReg.PRI_CTL: return p.ctl;
      case SfbReg.PRI_FORMAT: return p.format;
      case SfbReg.PRI_MOD_LO: return p.modLo;
      case SfbReg.PRI_MOD_HI: return p.modHi;
      case SfbReg.PRI_WIDTH: return p.width;
      case SfbReg.PRI_HEIGHT: return p.height;
      case SfbReg.PRI_STRIDE: return p.stride;
      case SfbReg.PRI_PT_ADDR: return p.ptAddr;
      case SfbReg.PRI_PT_COUNT: return p.ptCount;
      case SfbReg.CUR_CTL: return this._cur.ctl;
      case SfbReg.CUR_PT_ADDR: return this._cur.ptAddr;
      case SfbReg.CUR_POS: return this._cur.pos;
      case SfbReg.CUR_HOT: return this._cur.hot;
      case SfbReg.FLIPS: return this.flips;
      case SfbReg.VBLANKS: return this.vblanks;
      default: return 0;
    }
  }

  public write(offset: number, size: number, value: number | bigint): void {
    if (size !== 4 || typeof value !== 'number') return;
    const p = this._shadow;
    switch (offset) {
      case SfbReg.PRI_CTL: p.ctl = value & 1; break;
      case SfbReg.PRI_FORMAT: p.format = value; break;
      case SfbReg.PRI_MOD_LO: p.modLo = value; break;
      case SfbReg.PRI_MOD_HI: p.modHi = value; break;
      case SfbReg.PRI_WIDTH: p.width = value; break;
      case SfbReg.PRI_HEIGHT: p.height = value; break;
      case SfbReg.PRI_STRIDE: p.stride = value; break;
      case SfbReg.PRI_PT_ADDR: p.ptAddr = value; break;
      case SfbReg.PRI_PT_COUNT: p.ptCount = value; break;
      case SfbReg.PRI_COMMIT: this._commit = (value & 1) === 1; break;
      case SfbReg.CUR_CTL:
        this._cur.ctl = value & 1;
        this._onDisplayEvent.fire({ kind: 'plane', planeType: PlaneType.CURSOR });
        break;
      case SfbReg.CUR_PT_ADDR: this._cur.ptAddr = value; break;
      case SfbReg.CUR_POS:
        this._cur.pos = value;
        this._onDisplayEvent.fire({ kind: 'cursor', planeType: PlaneType.CURSOR });
        break;
      case SfbReg.CUR_HOT: this._cur.hot = value; break;
    }
  }

  public vblank(): void {
    this.vblanks++;
    if (!this._commit) return;
    this._commit = false;
    this._live = { ...this._shadow };
    this.flips++;
    this._onDisplayEvent.fire({ kind: 'flip', planeType: PlaneType.PRIMARY });
  }

  public decodePlane(planeType: number): PlaneDecode {
    if (planeType === PlaneType.PRIMARY) {
      const p = this._live;
      if (!p.ctl) return null;
      const info = formatInfo(p.format);
      const mod = (BigInt(p.modHi >>> 0) << 32n) | BigInt(p.modLo >>> 0);
      const layout = layoutForModifier(mod);
      if (!info || !layout || p.width <= 0 || p.height <= 0 || p.stride < p.width * info.cpp) {
        return -Errno.EINVAL;
      }
      const size = p.stride * tileRoundedHeight(layout, p.height);
      const pages = this._table(p.ptAddr, Math.ceil(size / PAGE_SIZE), p.ptCount);
      if (!pages) return -Errno.EINVAL;
      return {
        drmFormat: p.format, modifier: mod, width: p.width, height: p.height, stride: p.stride, size,
        start: p.ptAddr, pages, xPos: 0, yPos: 0, xHot: HOTSPOT_UNKNOWN, yHot: HOTSPOT_UNKNOWN,
      };
    }
    if (planeType === PlaneType.CURSOR) {
      const c = this._cur;
      if (!c.ctl) return null;
      const n = SFB_CURSOR_SIZE;
      const pages = this._table(c.ptAddr, (n * n * 4) / PAGE_SIZE, (n * n * 4) / PAGE_SIZE);
      if (!pages) return -Errno.EINVAL;
      const plane: DecodedPlane = {
        drmFormat: DRM_FORMAT.ARGB8888, modifier: 0n, width: n, height: n, stride: n * 4, size: n * n * 4,
        start: c.ptAddr, pages, xPos: (c.pos << 16 >> 16) >>> 0, yPos: (c.pos >> 16) >>> 0,
        xHot: c.hot === HOTSPOT_UNKNOWN ? HOTSPOT_UNKNOWN : c.hot & 0xffff,
        yHot: c.hot === HOTSPOT_UNKNOWN ? HOTSPOT_UNKNOWN : c.hot >>> 16,
      };
      return plane;
    }
    return -Errno.EINVAL;
  }

  /** Read a page table from guest memory; undefined if any part lies outside the VM. */
  private _table(addr: number, needed: number, count: number): Uint32Array | undefined {
    if (count < needed || needed <= 0 || addr % 4 !== 0) return undefined;
    let bytes: Uint8Array;
    try {
      bytes = this._memory.view(addr, needed * 4);
    } catch {
      return undefined;
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Uint32Array(needed);
    for (let i = 0; i < needed; i++) {
      const p = dv.getUint32(i * 4, true);
      if (!this._memory.hasPage(p)) return undefined;
      out[i] = p;
    }
    return out;
  }

  /** A valid EDID base block whose preferred (first detailed) timing is width×height@60. */
  public static edid(width: number, height: number): Uint8Array {
    const b = new Uint8Array(128);
    b.set([0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
    b[18] = 1;
    b[19] = 4;
    b.fill(0x01, 38, 54);
    const hb = 160;
    const vb = 30;
    const clock = Math.round(((width + hb) * (height + vb) * 60) / 10_000);
    b.set([clock & 0xff, clock >> 8, width & 0xff, hb & 0xff, ((width >> 8) << 4) | (hb >> 8),
      height & 0xff, vb & 0xff, ((height >> 8) << 4) | (vb >> 8)], 54);
    let sum = 0;
    for (let i = 0; i < 127; i++) sum += b[i]!;
    b[127] = (256 - (sum & 0xff)) & 0xff;
    return b;
  }
}
