import { Disposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import type { DisplayBuffer, Rect } from './DisplayBuffer.ts';

/**
 * Why the display shows what it shows. Anything but 'ok' keeps the last frame on screen (never a
 * silent black): the renderer may overlay the reason.
 */
export type StatusReason =
  | 'ok'
  /** Probe found neither DMABUF nor REGION support. */
  | 'no-display'
  /** The guest disabled the primary plane (drm_format or size 0). */
  | 'plane-disabled'
  /** The device exports a format/modifier this client cannot show. */
  | 'unsupported-format'
  /** QUERY/GET/mmap failed with an errno other than ENOMEM/EAGAIN. */
  | 'device-error'
  /** The VM behind the device stopped (halted, crashed, killed, destroyed): last frame kept. */
  | 'vm-stopped'
  /** The requested refresh policy is not available; `message` says what runs instead. */
  | 'policy-fallback';

export interface DisplayStatus {
  readonly reason: StatusReason;
  readonly message: string;
  /** Positive errno for 'device-error', else 0. */
  readonly errno: number;
}

export interface CursorShape {
  /** null: the cursor plane went away. */
  readonly buffer: DisplayBuffer | null;
  /** Hotspot as the device reported it; 0xFFFFFFFF = unknown (see hotKnown). */
  readonly hotX: number;
  readonly hotY: number;
  readonly hotKnown: boolean;
}

/** Cursor plane top-left on screen, signed (the ABI's u32 read as two's complement). */
export interface CursorPosition {
  readonly x: number;
  readonly y: number;
}

export interface DisplaySize {
  readonly width: number;
  readonly height: number;
}

const INITIAL_STATUS: DisplayStatus = { reason: 'ok', message: 'not started', errno: 0 };

/**
 * What a display client tells renderers (QEMU's QemuConsole, reduced to what VFIO display needs).
 * The producer (VfioDisplay) calls the verbs; renderers subscribe to the `onX` events. The latest
 * state is kept, so a renderer that attaches late can replay it (`scanout`, `cursor`, ...).
 *
 * Order guarantees: onResize before the onScanout that changes the size; onRelease after the
 * buffer's fd was closed and never for the buffer currently shown.
 */
export class DisplayConsole extends Disposable {
  private readonly _onScanout = this._register(new Emitter<DisplayBuffer>());
  /** A new primary buffer is shown (page flip to another buffer, resize, plane back on). */
  public readonly onScanout = this._onScanout.event;
  private readonly _onResize = this._register(new Emitter<DisplaySize>());
  public readonly onResize = this._onResize.event;
  private readonly _onCursorDefine = this._register(new Emitter<CursorShape>());
  /** Cursor shape or hotspot changed, or the cursor went away (buffer null). */
  public readonly onCursorDefine = this._onCursorDefine.event;
  private readonly _onCursorMove = this._register(new Emitter<CursorPosition>());
  public readonly onCursorMove = this._onCursorMove.event;
  private readonly _onUpdate = this._register(new Emitter<readonly Rect[]>());
  /** Pixels of the shown primary changed inside these rectangles (clipped, non-overlapping). */
  public readonly onUpdate = this._onUpdate.event;
  private readonly _onStatus = this._register(new Emitter<DisplayStatus>());
  public readonly onStatus = this._onStatus.event;
  private readonly _onRelease = this._register(new Emitter<DisplayBuffer>());
  /** Drop whatever was made from this buffer (texture): its fd is already closed. */
  public readonly onRelease = this._onRelease.event;

  private _scanout: DisplayBuffer | undefined;
  private _cursor: CursorShape = { buffer: null, hotX: 0, hotY: 0, hotKnown: false };
  private _cursorPos: CursorPosition = { x: 0, y: 0 };
  private _status: DisplayStatus = INITIAL_STATUS;
  private _size: DisplaySize = { width: 0, height: 0 };
  private _written: readonly number[] | undefined;
  private _vblankAt: number | undefined;

  /** The primary buffer on screen (kept while the plane is off or failing). */
  public get scanout(): DisplayBuffer | undefined {
    return this._scanout;
  }

  public get cursor(): CursorShape {
    return this._cursor;
  }

  public get cursorPosition(): CursorPosition {
    return this._cursorPos;
  }

  public get status(): DisplayStatus {
    return this._status;
  }

  public get size(): DisplaySize {
    return this._size;
  }

  /**
   * During onScanout and onUpdate: the buffer pages (4 KiB, in buffer order) the guest wrote that
   * the event reports — on a scanout, those written since the buffer was last shown — when the
   * producer knows them from the dirty log; undefined when the event only says "may have changed"
   * (a mirror must then compare content). Valid until the next scanout or update.
   */
  public get written(): readonly number[] | undefined {
    return this._written;
  }

  /**
   * During onScanout: when the vblank IRQ that latched this flip was taken (the producer's clock,
   * ms; RealClock: performance.now()), as the display client recorded it — not when it got round
   * to the refresh. undefined when the producer does not know (a timer poll, a push source).
   */
  public get vblankAt(): number | undefined {
    return this._vblankAt;
  }

  // ---- producer side ---------------------------------------------------------------------------

  public showScanout(buffer: DisplayBuffer, written?: readonly number[], vblankAt?: number): void {
    this._written = written;
    this._vblankAt = vblankAt;
    if (buffer.width !== this._size.width || buffer.height !== this._size.height) {
      this._size = { width: buffer.width, height: buffer.height };
      this._onResize.fire(this._size);
    }
    this._scanout = buffer;
    this._onScanout.fire(buffer);
  }

  public defineCursor(shape: CursorShape): void {
    this._cursor = shape;
    this._onCursorDefine.fire(shape);
  }

  public moveCursor(x: number, y: number): void {
    this._cursorPos = { x, y };
    this._onCursorMove.fire(this._cursorPos);
  }

  public update(damage: readonly Rect[], written?: readonly number[]): void {
    this._written = written;
    if (damage.length > 0) this._onUpdate.fire(damage);
  }

  /** Fires only when reason, errno or message differ from the current status. */
  public setStatus(reason: StatusReason, message: string, errno = 0): boolean {
    const s = this._status;
    if (s.reason === reason && s.errno === errno && s.message === message) return false;
    this._status = { reason, message, errno };
    this._onStatus.fire(this._status);
    return true;
  }

  public release(buffer: DisplayBuffer): void {
    if (this._scanout === buffer) this._scanout = undefined;
    if (this._cursor.buffer === buffer) this._cursor = { buffer: null, hotX: 0, hotY: 0, hotKnown: false };
    this._onRelease.fire(buffer);
  }
}
