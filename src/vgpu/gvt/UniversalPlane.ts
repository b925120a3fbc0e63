import { Errno } from '../../base/Errno.ts';
import type { Ggtt } from '../../gpu/Ggtt.ts';
import type { PlaneDecode } from '../Plane.ts';
import { decodePlaneFormat, decodePlaneLayout } from './Gen9Format.ts';
import {
  PLANE_CTL_ENABLE as PLANE_CTL_ENABLE_, PLANE_REG as PLANE_REG_,
  PLANE_SURF_ADDR_MASK as PLANE_SURF_ADDR_MASK_,
} from './GvtRegisters.ts';
import { changed, type RegWrite } from './RegWrite.ts';
import { mapSurface } from './SurfaceMapping.ts';
// Imports bound once at load: the tsx runtime reads an imported binding through a getter,
// and these sit on the per-refresh QUERY path.
const PLANE_CTL_ENABLE = PLANE_CTL_ENABLE_;
const PLANE_REG = PLANE_REG_;
const PLANE_SURF_ADDR_MASK = PLANE_SURF_ADDR_MASK_;

/**
 * A gen9 universal plane (PLANE_CTL/STRIDE/POS/SIZE/SURF/OFFSET/SURFLIVE): the primary plane
 * ("plane 1") and the sprite/overlay plane ("plane 2") share this layout and decoder. Only the
 * source of width/height differs: PIPESRC for the primary (GVT), PLANE_SIZE for the sprite.
 */
export class UniversalPlane {
  private _ctl = 0;
  private _stride = 0;
  private _pos = 0;
  private _size = 0;
  private _offset = 0;
  /** The latched surface (what scanout and decode use). */
  private _surfLive = 0;
  /** The last PLANE_SURF write, pending until the next vblank. */
  private _surfArmed: number | undefined;

  public constructor(public readonly planeType: number) {}

  public get enabled(): boolean {
    return (this._ctl & PLANE_CTL_ENABLE) !== 0;
  }

  public get ctl(): number {
    return this._ctl;
  }

  /** PLANE_SIZE as (width, height). */
  public get sizeWidth(): number {
    return (this._size & 0x1fff) + 1;
  }

  public get sizeHeight(): number {
    return ((this._size >>> 16) & 0xfff) + 1;
  }

  /** Register read at an offset relative to the plane base; undefined if not a plane register. */
  public read(reg: number): number | undefined {
    switch (reg) {
      case PLANE_REG.CTL: return this._ctl;
      case PLANE_REG.STRIDE: return this._stride;
      case PLANE_REG.POS: return this._pos;
      case PLANE_REG.SIZE: return this._size;
      // PLANE_SURF reads back the last write (armed or not); SURFLIVE shows what is latched.
      case PLANE_REG.SURF: return this._surfArmed ?? this._surfLive;
      case PLANE_REG.OFFSET: return this._offset;
      case PLANE_REG.SURFLIVE: return this._surfLive;
      default: return undefined;
    }
  }

  /**
   * `sizeMatters`: whether PLANE_SIZE feeds the decode (sprite) or is only stored (primary).
   */
  public write(reg: number, value: number, sizeMatters: boolean): RegWrite {
    const old = this.read(reg);
    switch (reg) {
      case PLANE_REG.CTL: this._ctl = value; break;
      case PLANE_REG.STRIDE: this._stride = value; break;
      case PLANE_REG.POS: this._pos = value; return 'stored';
      case PLANE_REG.SIZE: this._size = value; if (!sizeMatters) return 'stored'; break;
      case PLANE_REG.SURF: this._surfArmed = value; return 'stored';
      case PLANE_REG.OFFSET: this._offset = value; return 'stored';
      default: return 'ignored';
    }
    return changed(old!, value);
  }

  /** Vblank: latch an armed surface. True when a flip happened (even to the same address). */
  public latch(): boolean {
    if (this._surfArmed === undefined) return false;
    this._surfLive = this._surfArmed;
    this._surfArmed = undefined;
    return true;
  }

  public reset(): void {
    this._ctl = this._stride = this._pos = this._size = this._offset = this._surfLive = 0;
    this._surfArmed = undefined;
  }

  /**
   * Decode from latched state (spec §3.2). width/height come from the caller: PIPESRC for the
   * primary, PLANE_SIZE for the sprite. Position is not exported for these planes (0, 0) and the
   * hotspot is unknown (0xFFFFFFFF): GVT never fills either for a non-cursor plane.
   */
  public decode(width: number, height: number, ggtt: Ggtt, vmId: number): PlaneDecode {
    if (!this.enabled) return null;
    const fmt = decodePlaneFormat(this._ctl);
    if (!fmt) return -Errno.EINVAL;
    const base = (this._surfLive & PLANE_SURF_ADDR_MASK) >>> 0;
    const layout = decodePlaneLayout(this._ctl, this._stride, fmt.bpp);
    const th = layout.tileHeight;
    const size = layout.stride * Math.ceil(height / th) * th;
    const pages = mapSurface(ggtt, vmId, base, size);
    if (typeof pages === 'number') return pages;
    return {
      drmFormat: fmt.drmFormat,
      modifier: layout.modifier,
      width,
      height,
      stride: layout.stride,
      size,
      start: base,
      pages,
      xPos: 0,
      yPos: 0,
      // GVT-g zeroes fb_info and only the cursor decode sets a hotspot: 0 here, not 0xFFFFFFFF.
      xHot: 0,
      yHot: 0,
    };
  }
}
