import type { GgttAssignment } from '../../gpu/Ggtt.ts';
import { HOTSPOT_UNKNOWN } from '../Plane.ts';
import {
  PVINFO,
  VGT_FENCE_NUM,
  VGT_MAGIC_HI,
  VGT_MAGIC_LO,
  VGT_VERSION_MAJOR,
  VGT_VERSION_MINOR,
} from './GvtRegisters.ts';
import { changed, type RegWrite } from './RegWrite.ts';

/**
 * The PV-info page (`struct vgt_if`) at BAR0 0x78000: how a paravirtualised guest driver learns it
 * runs on a vGPU, which GGTT slices are its own (ballooning), and where it reports its cursor
 * hotspot. Offsets are relative to the page.
 */
export class PvInfo {
  private _displayReady = 0;
  private _g2vNotify = 0;
  private _xHot = HOTSPOT_UNKNOWN;
  private _yHot = HOTSPOT_UNKNOWN;

  public constructor(private readonly _vmId: number, private readonly _slices: GgttAssignment) {}

  public get xHot(): number {
    return this._xHot;
  }

  public get yHot(): number {
    return this._yHot;
  }

  public get displayReady(): number {
    return this._displayReady;
  }

  /** Reads of unassigned offsets in the page return 0. */
  public read(off: number): number {
    switch (off) {
      case PVINFO.MAGIC_LO: return VGT_MAGIC_LO;
      case PVINFO.MAGIC_HI: return VGT_MAGIC_HI;
      case PVINFO.VERSION: return (VGT_VERSION_MAJOR | (VGT_VERSION_MINOR << 16)) >>> 0;
      case PVINFO.VGT_ID: return this._vmId >>> 0;
      case PVINFO.VGT_CAPS: return 0;
      case PVINFO.APERTURE_BASE: return this._slices.aperture.base >>> 0;
      case PVINFO.APERTURE_SIZE: return this._slices.aperture.size >>> 0;
      case PVINFO.HIDDEN_BASE: return this._slices.hidden.base >>> 0;
      case PVINFO.HIDDEN_SIZE: return this._slices.hidden.size >>> 0;
      case PVINFO.FENCE_NUM: return VGT_FENCE_NUM;
      case PVINFO.DISPLAY_READY: return this._displayReady;
      case PVINFO.G2V_NOTIFY: return this._g2vNotify;
      case PVINFO.CURSOR_X_HOT: return this._xHot;
      case PVINFO.CURSOR_Y_HOT: return this._yHot;
      default: return 0;
    }
  }

  /** Only display_ready, g2v_notify and the hotspot are writable; a hotspot change is visible. */
  public write(off: number, value: number): RegWrite {
    switch (off) {
      case PVINFO.DISPLAY_READY: this._displayReady = value; return 'stored';
      case PVINFO.G2V_NOTIFY: this._g2vNotify = value; return 'stored';
      case PVINFO.CURSOR_X_HOT: { const old = this._xHot; this._xHot = value; return changed(old, value); }
      case PVINFO.CURSOR_Y_HOT: { const old = this._yHot; this._yHot = value; return changed(old, value); }
      default: return 'ignored';
    }
  }

  public reset(): void {
    this._displayReady = 0;
    this._g2vNotify = 0;
    this._xHot = HOTSPOT_UNKNOWN;
    this._yHot = HOTSPOT_UNKNOWN;
  }
}
