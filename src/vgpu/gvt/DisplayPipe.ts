import { PlaneType } from '../../kms/PlaneType.ts';
import type { DisplayEventKind } from '../Plane.ts';
import { CURSOR_REG, CursorPlane } from './CursorPlane.ts';
import {
  PIPECONF_ENABLE as PIPECONF_ENABLE_, PIPECONF_STATE as PIPECONF_STATE_,
} from './GvtRegisters.ts';
import { changed, type RegWrite } from './RegWrite.ts';
import { UniversalPlane } from './UniversalPlane.ts';
// Imports bound once at load: the tsx runtime reads an imported binding through a getter,
// and these sit on the per-refresh QUERY path.
const PIPECONF_ENABLE = PIPECONF_ENABLE_;
const PIPECONF_STATE = PIPECONF_STATE_;

/** Offsets inside one pipe's 4 KiB block at 0x70000 + pipe * 0x1000. */
export const PIPE_BLOCK_BASE = 0x70000;
const R_CONF = 0x008;
const R_FRMCOUNT = 0x040;
const R_FLIPCOUNT = 0x044;
const CURSOR_FIRST = 0x080;
const CURSOR_LAST = 0x0ac;
const PRIMARY_FIRST = 0x180;
const SPRITE_FIRST = 0x280;
const PLANE_SPAN = 0x30;

export type EmitFn = (kind: DisplayEventKind, planeType: number) => void;

/**
 * One display pipe (pipe + transcoder): PIPECONF, PIPESRC, the frame and flip counters, and its
 * planes (primary, sprite, cursor). Changes that alter what decodePlane would report are signalled
 * through `emit` as they happen; flips are signalled by `vblank`.
 */
export class DisplayPipe {
  public readonly primary = new UniversalPlane(PlaneType.PRIMARY);
  public readonly sprite = new UniversalPlane(PlaneType.OVERLAY);
  public readonly cursor = new CursorPlane();
  private _conf = 0;
  private _src = 0;
  private _frameCount = 0;
  private _flipCount = 0;

  public constructor(public readonly index: number, private readonly _emit: EmitFn) {}

  public get enabled(): boolean {
    return (this._conf & PIPECONF_ENABLE) !== 0;
  }

  /** Source size from PIPESRC: width bits 28:16, height bits 11:0, each minus one. */
  public get width(): number {
    return ((this._src >>> 16) & 0x1fff) + 1;
  }

  public get height(): number {
    return (this._src & 0xfff) + 1;
  }

  public get frameCount(): number {
    return this._frameCount;
  }

  public get src(): number {
    return this._src;
  }

  public writeSrc(value: number): void {
    const old = this._src;
    this._src = value;
    if (changed(old, value) === 'changed') this._emit('mode', PlaneType.PRIMARY);
  }

  /** Read at an offset inside the pipe block; undefined when nothing is there. */
  public read(reg: number): number | undefined {
    switch (reg) {
      // Bit 30 (state) follows bit 31 at once: the emulated pipe has no enable latency.
      case R_CONF:
        return (this.enabled ? this._conf | PIPECONF_STATE : this._conf & ~PIPECONF_STATE) >>> 0;
      case R_FRMCOUNT: return this._frameCount;
      case R_FLIPCOUNT: return this._flipCount;
    }
    if (reg >= CURSOR_FIRST && reg <= CURSOR_LAST) return this.cursor.read(reg - CURSOR_FIRST);
    if (reg >= PRIMARY_FIRST && reg < PRIMARY_FIRST + PLANE_SPAN) {
      return this.primary.read(reg - PRIMARY_FIRST);
    }
    if (reg >= SPRITE_FIRST && reg < SPRITE_FIRST + PLANE_SPAN) {
      return this.sprite.read(reg - SPRITE_FIRST);
    }
    return undefined;
  }

  /** Write at an offset inside the pipe block; false when nothing writable is there. */
  public write(reg: number, value: number): boolean {
    if (reg === R_CONF) {
      const old = this._conf;
      this._conf = value & ~PIPECONF_STATE;
      if (changed(old, this._conf) === 'changed') this._emit('mode', PlaneType.PRIMARY);
      return true;
    }
    let r: RegWrite = 'ignored';
    let type: number = PlaneType.PRIMARY;
    let kind: DisplayEventKind = 'plane';
    if (reg >= CURSOR_FIRST && reg <= CURSOR_LAST) {
      const off = reg - CURSOR_FIRST;
      r = this.cursor.write(off, value);
      type = PlaneType.CURSOR;
      // CURPOS moves the cursor; CURCNTR enables, disables or resizes it.
      if (off === CURSOR_REG.POS) kind = 'cursor';
    } else if (reg >= PRIMARY_FIRST && reg < PRIMARY_FIRST + PLANE_SPAN) {
      r = this.primary.write(reg - PRIMARY_FIRST, value, false);
    } else if (reg >= SPRITE_FIRST && reg < SPRITE_FIRST + PLANE_SPAN) {
      r = this.sprite.write(reg - SPRITE_FIRST, value, true);
      type = PlaneType.OVERLAY;
    }
    if (r === 'changed') this._emit(kind, type);
    return r !== 'ignored';
  }

  /** Vblank: latch armed surfaces, count the frame, signal each flip. */
  public vblank(): void {
    if (this.enabled) this._frameCount = (this._frameCount + 1) >>> 0;
    if (this.primary.latch()) {
      this._flipCount = (this._flipCount + 1) >>> 0;
      this._emit('flip', PlaneType.PRIMARY);
    }
    if (this.sprite.latch()) this._emit('flip', PlaneType.OVERLAY);
    if (this.cursor.latch()) this._emit('flip', PlaneType.CURSOR);
  }

  public reset(): void {
    this._conf = this._src = this._frameCount = this._flipCount = 0;
    this.primary.reset();
    this.sprite.reset();
    this.cursor.reset();
  }
}
