import { Disposable } from '../../base/Disposable.ts';
import { Errno } from '../../base/Errno.ts';
import { DRM_FORMAT, formatName } from '../../kms/Fourcc.ts';
import { LINEAR, type TileLayout } from '../../kms/Tiling.ts';
import { drawCursorImage, type CursorShape } from './CursorImage.ts';
import type { DisplayDriver, ModeConfig } from './DisplayDriver.ts';
import { addDamage, rect } from './Rect.ts';
import { Scene } from './Scene.ts';
import type { Rect, Surface } from './Surface.ts';
import type { Tty } from './Tty.ts';

export interface SessionOptions {
  /** Scanout buffers: 2 or 3 page-flip; 1 = software rendering into the front buffer, no flips. */
  readonly buffers?: 1 | 2 | 3;
  /** Buffer tiling; default: the mode's. */
  readonly tiling?: TileLayout;
  readonly cursor?: CursorShape;
  /** Wall-clock time in ms since the epoch (the clock shows UTC seconds). */
  readonly now: () => number;
  /** The tty the desktop's Terminal window shows (the OS runs a shell on it). */
  readonly terminal?: Tty;
}

// Frames of damage history kept for buffer-age rendering.
const HISTORY = 8;

/**
 * The graphical session on tty7, a compositor in miniature. It renders the scene into one of its
 * buffers and page-flips to it at vblank, only when something changed (the clock each second,
 * the animation while it runs, a dragged window): an idle session does not flip. Each frame
 * repaints only the damage since that buffer was last drawn (buffer age). With one buffer it draws
 * into the front buffer in place and never flips, like a software-rendered X server. The pointer
 * moves a 64×64 ARGB cursor plane and never causes a redraw.
 */
export class Session extends Disposable {
  public readonly scene: Scene;
  /** Frames rendered and flips requested, for tests and `info`. */
  public framesRendered = 0;
  public flipsRequested = 0;

  private readonly _driver: DisplayDriver;
  private readonly _opts: SessionOptions;
  private _mode: ModeConfig | undefined;
  private _buffers: Surface[] = [];
  /** The frame each buffer holds (-1: never drawn). */
  private _bufFrame: number[] = [];
  private _front = 0;
  private _frame = 0;
  private readonly _history = new Map<number, Rect[]>();
  private _damage: Rect[] = [];
  private _cursor: Surface | undefined;
  private _hot = { hotX: 0, hotY: 0 };
  private _active = false;
  private _px = 0;
  private _py = 0;

  public constructor(driver: DisplayDriver, opts: SessionOptions) {
    super();
    this._driver = driver;
    this._opts = opts;
    this.scene = new Scene(64, 64, opts.now(), opts.terminal);
  }

  public get active(): boolean {
    return this._active;
  }

  public get software(): boolean {
    return (this._opts.buffers ?? 2) === 1;
  }

  public get buffers(): readonly Surface[] {
    return this._buffers;
  }

  /** The buffer the session last presented (what tty7 shows). */
  public get front(): Surface | undefined {
    return this._buffers[this._front];
  }

  public get cursorImage(): Surface | undefined {
    return this._cursor;
  }

  public get hotspot(): { hotX: number; hotY: number } {
    return { ...this._hot };
  }

  /** Allocate buffers for `mode` and draw the first frame. 0 or -errno (nothing kept on failure). */
  public start(mode: ModeConfig): number {
    this._freeBuffers();
    const tiling = this._opts.tiling ?? mode.tiling;
    const n = this._opts.buffers ?? 2;
    const bufs: Surface[] = [];
    for (let i = 0; i < n; i++) {
      const s = this._driver.allocSurface({
        width: mode.width, height: mode.height, format: mode.format, tiling, purpose: 'scanout',
        label: `session#${i}`,
      });
      if (typeof s === 'number') {
        for (const b of bufs) this._driver.freeSurface(b);
        return s;
      }
      bufs.push(s);
    }
    if (this._driver.caps.cursor && !this._cursor) {
      const c = this._driver.allocSurface({
        width: this._driver.caps.cursorSize, height: this._driver.caps.cursorSize,
        format: DRM_FORMAT.ARGB8888, tiling: LINEAR, purpose: 'cursor', label: 'cursor',
      });
      if (typeof c !== 'number') {
        this._cursor = c;
        this._hot = drawCursorImage(c, this._opts.cursor ?? 'arrow');
      }
    }
    this._mode = mode;
    this._buffers = bufs;
    this._bufFrame = bufs.map(() => -1);
    this._history.clear();
    this.scene.layout(mode.width, mode.height);
    this.scene.update(this._opts.now());
    this._px = Math.min(this._px, mode.width - 1);
    this._py = Math.min(this._py, mode.height - 1);
    // First frame: everything, into buffer 0.
    this._frame = 0;
    this._front = 0;
    this._render(0, [rect(0, 0, mode.width, mode.height)]);
    this._bufFrame[0] = 0;
    this._damage = [];
    if (this._active) return this.activate();
    return 0;
  }

  /** The mode changed: new buffers at the new size. */
  public resize(mode: ModeConfig): number {
    return this.start(mode);
  }

  /** tty7 shows the session: program the primary plane to the current front and show the cursor. */
  public activate(): number {
    const front = this.front;
    if (!front) return -Errno.ENODEV;
    this._active = true;
    const r = this._driver.show(front);
    if (r < 0) return r;
    if (this._cursor) {
      this._driver.setCursor(this._cursor, this._hot.hotX, this._hot.hotY);
      this._moveCursorPlane();
    }
    return 0;
  }

  /** Another VT takes the screen: stop presenting and hide the cursor plane. */
  public deactivate(): void {
    this._active = false;
    if (this._cursor) this._driver.setCursor(null, 0, 0);
  }

  public setAnimating(on: boolean): void {
    this._damage = addDamage(this._damage, this.scene.setAnimating(on));
  }

  /** Pointer at screen position (x, y): moves the cursor plane, drags windows. */
  public pointer(x: number, y: number): void {
    this._px = x;
    this._py = y;
    if (!this._active) return;
    this._moveCursorPlane();
    this._damage = addDamage(this._damage, this.scene.pointerMove(x, y));
  }

  public button(down: boolean): void {
    if (!this._active) return;
    if (down) this._damage = addDamage(this._damage, this.scene.pointerDown(this._px, this._py));
    else this.scene.pointerUp();
  }

  /**
   * Vblank: advance the scene, and when something changed render it and present it. A frame is
   * only started once the previous flip has latched, so the buffer being scanned out is never
   * drawn into.
   */
  public tick(): void {
    if (!this._active || !this._mode) return;
    for (const r of this.scene.update(this._opts.now())) this._damage = addDamage(this._damage, r);
    if (this._damage.length === 0) return;
    if (this.software) {
      this._frame++;
      this._render(0, this._damage);
      this._damage = [];
      return;
    }
    if (this._driver.pending !== undefined) return;
    const back = this._pickBack();
    const frame = this._frame + 1;
    this._history.set(frame, this._damage);
    this._history.delete(frame - HISTORY);
    let clip: Rect[] = [];
    const age = this._bufFrame[back]!;
    if (age < 0 || frame - age > HISTORY - 1) {
      clip = [rect(0, 0, this._mode.width, this._mode.height)];
    } else {
      for (let f = age + 1; f <= frame; f++) {
        for (const r of this._history.get(f) ?? []) clip = addDamage(clip, r);
      }
    }
    this._frame = frame;
    this._damage = [];
    this._render(back, clip);
    this._bufFrame[back] = frame;
    this._front = back;
    this.flipsRequested++;
    this._driver.show(this._buffers[back]!);
  }

  public describe(): string {
    const m = this._mode;
    if (!m) return 'session: not started';
    const b = this._buffers[0];
    const how = this.software ? 'software rendering, no flips' : `${this._buffers.length} buffers, page flip`;
    return `session: ${m.width}x${m.height} ${formatName(m.format)} ${b?.tiling.name ?? ''}, ${how}, ` +
      `${this.framesRendered} frames, animation ${this.scene.animating ? 'on' : 'off'}`;
  }

  public override dispose(): void {
    if (this._active) this.deactivate();
    this._freeBuffers();
    if (this._cursor) this._driver.freeSurface(this._cursor);
    this._cursor = undefined;
    super.dispose();
  }

  private _pickBack(): number {
    // The least recently drawn buffer that is not the front.
    let best = -1;
    for (let i = 0; i < this._buffers.length; i++) {
      if (i === this._front) continue;
      if (best < 0 || this._bufFrame[i]! < this._bufFrame[best]!) best = i;
    }
    return best;
  }

  private _render(index: number, damage: readonly Rect[]): void {
    for (const r of damage) this.scene.draw(this._buffers[index]!, r);
    this.framesRendered++;
  }

  private _moveCursorPlane(): void {
    this._driver.moveCursor(this._px - this._hot.hotX, this._py - this._hot.hotY);
  }

  private _freeBuffers(): void {
    for (const b of this._buffers) this._driver.freeSurface(b);
    this._buffers = [];
    this._bufFrame = [];
  }
}
