import { Errno } from '../../base/Errno.ts';
import type { Ggtt } from '../../gpu/Ggtt.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import {
  HOTSPOT_UNKNOWN as HOTSPOT_UNKNOWN_, type PlaneDecode,
} from '../Plane.ts';
import {
  CURSOR_MODE as CURSOR_MODE_, CURSOR_MODE_MASK as CURSOR_MODE_MASK_,
  CUR_POS_X_MASK as CUR_POS_X_MASK_, CUR_POS_X_SIGN as CUR_POS_X_SIGN_,
  CUR_POS_Y_MASK as CUR_POS_Y_MASK_, CUR_POS_Y_SHIFT as CUR_POS_Y_SHIFT_,
  CUR_POS_Y_SIGN as CUR_POS_Y_SIGN_, PLANE_SURF_ADDR_MASK as PLANE_SURF_ADDR_MASK_,
} from './GvtRegisters.ts';
import { changed, type RegWrite } from './RegWrite.ts';
import { mapSurface } from './SurfaceMapping.ts';
// Imports bound once at load: the tsx runtime reads an imported binding through a getter,
// and these sit on the per-refresh QUERY path.
const HOTSPOT_UNKNOWN = HOTSPOT_UNKNOWN_;
const CURSOR_MODE = CURSOR_MODE_;
const CURSOR_MODE_MASK = CURSOR_MODE_MASK_;
const CUR_POS_X_MASK = CUR_POS_X_MASK_;
const CUR_POS_X_SIGN = CUR_POS_X_SIGN_;
const CUR_POS_Y_MASK = CUR_POS_Y_MASK_;
const CUR_POS_Y_SHIFT = CUR_POS_Y_SHIFT_;
const CUR_POS_Y_SIGN = CUR_POS_Y_SIGN_;
const PLANE_SURF_ADDR_MASK = PLANE_SURF_ADDR_MASK_;

/** Register offsets relative to the cursor block (CURCNTR at 0x70080 for pipe A). */
export const CURSOR_REG = { CTL: 0x00, BASE: 0x04, POS: 0x08, SURFLIVE: 0x2c } as const;

/** Side of the square cursor for a CURCNTR mode, or 0 when the mode is not exportable. */
export function cursorModeSize(mode: number): number {
  switch (mode) {
    case CURSOR_MODE.ARGB_128: return 128;
    case CURSOR_MODE.ARGB_256: return 256;
    case CURSOR_MODE.ARGB_64:
    case CURSOR_MODE.AX_64: return 64;
    default: return 0;
  }
}

/**
 * CURPOS → position as the ABI reports it. GVT decodes the sign bits and then drops them, so a
 * cursor hanging off the top/left edge is reported at a positive offset. OUR EXTENSION: apply the
 * signs and report two's complement in a u32 (-5 → 0xFFFFFFFB), what QEMU's s32 reading expects.
 */
export function decodeCursorPos(pos: number): { x: number; y: number } {
  const mx = pos & CUR_POS_X_MASK;
  const my = (pos >>> CUR_POS_Y_SHIFT) & CUR_POS_Y_MASK;
  const x = pos & CUR_POS_X_SIGN ? (-mx) >>> 0 : mx;
  const y = pos & CUR_POS_Y_SIGN ? (-my) >>> 0 : my;
  return { x, y };
}

/** The legacy cursor plane: CURCNTR, CURBASE (flip-latched), CURPOS. */
export class CursorPlane {
  private _ctl = 0;
  private _pos = 0;
  private _baseLive = 0;
  private _baseArmed: number | undefined;

  public get mode(): number {
    return this._ctl & CURSOR_MODE_MASK;
  }

  public get enabled(): boolean {
    return this.mode !== CURSOR_MODE.DISABLE;
  }

  public read(reg: number): number | undefined {
    switch (reg) {
      case CURSOR_REG.CTL: return this._ctl;
      case CURSOR_REG.BASE: return this._baseArmed ?? this._baseLive;
      case CURSOR_REG.POS: return this._pos;
      case CURSOR_REG.SURFLIVE: return this._baseLive;
      default: return undefined;
    }
  }

  public write(reg: number, value: number): RegWrite {
    switch (reg) {
      case CURSOR_REG.CTL: { const old = this._ctl; this._ctl = value; return changed(old, value); }
      case CURSOR_REG.BASE: this._baseArmed = value; return 'stored';
      case CURSOR_REG.POS: { const old = this._pos; this._pos = value; return changed(old, value); }
      default: return 'ignored';
    }
  }

  public latch(): boolean {
    if (this._baseArmed === undefined) return false;
    this._baseLive = this._baseArmed;
    this._baseArmed = undefined;
    return true;
  }

  public reset(): void {
    this._ctl = this._pos = this._baseLive = 0;
    this._baseArmed = undefined;
  }

  /** Decode from latched state (spec §3.3); hotspot as written in the PV-info page. */
  public decode(ggtt: Ggtt, vmId: number, xHot: number, yHot: number): PlaneDecode {
    const mode = this.mode;
    if (mode === CURSOR_MODE.DISABLE) return null;
    const side = cursorModeSize(mode);
    if (side === 0) return -Errno.EINVAL;
    const base = (this._baseLive & PLANE_SURF_ADDR_MASK) >>> 0;
    const stride = side * 4;
    const size = stride * side;
    const pages = mapSurface(ggtt, vmId, base, size);
    if (typeof pages === 'number') return pages;
    const { x, y } = decodeCursorPos(this._pos);
    // GVT keeps a hotspot only if it lies inside (or on the far edge of) the cursor image.
    const hotOk = xHot <= side && yHot <= side;
    return {
      drmFormat: DRM_FORMAT.ARGB8888,
      modifier: DRM_FORMAT_MOD.LINEAR,
      width: side,
      height: side,
      stride,
      size,
      start: base,
      pages,
      xPos: x,
      yPos: y,
      xHot: hotOk ? xHot : HOTSPOT_UNKNOWN,
      yHot: hotOk ? yHot : HOTSPOT_UNKNOWN,
    };
  }
}
