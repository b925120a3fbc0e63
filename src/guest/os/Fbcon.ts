import { FONT_HEIGHT, FONT_WIDTH } from './Font8x16.ts';
import type { Surface } from './Surface.ts';
import { PALETTE, Tty } from './Tty.ts';

export const TTY_COUNT = 6;

export interface FbconOptions {
  /** Vblanks per cursor blink phase (on, then off): 30 ≈ 0.5 s at 60 Hz. */
  readonly blinkVblanks?: number;
}

/**
 * The framebuffer console: tty1..tty6 share one surface; only the active tty is drawn, row by
 * row as rows change. cols = width / 8, rows = height / 16. The cursor is the cell under it drawn
 * inverted, blinking on a timer driven by vblank counts; typing shows it at once.
 */
export class Fbcon {
  public readonly ttys: readonly Tty[];
  private _surface: Surface | undefined;
  private _active = 0;
  private _visible = true;
  private readonly _blink: number;
  private _blinkBase = 0;
  private _seq = 0;
  private _cursorOn = true;
  /** Where the inverted cursor cell is drawn now (-1: nowhere). */
  private _drawnX = -1;
  private _drawnY = -1;
  private _fullRedraw = true;
  private _drawnVersion = -1;
  /** Glyph cells drawn, for tests and stats. */
  public cellsDrawn = 0;

  public constructor(opts: FbconOptions = {}) {
    this._blink = Math.max(1, opts.blinkVblanks ?? 30);
    this.ttys = Array.from({ length: TTY_COUNT }, (_, i) => new Tty(i + 1, 80, 25));
  }

  public get surface(): Surface | undefined {
    return this._surface;
  }

  public get cols(): number {
    return this._surface ? Math.floor(this._surface.width / FONT_WIDTH) : 0;
  }

  public get rows(): number {
    return this._surface ? Math.floor(this._surface.height / FONT_HEIGHT) : 0;
  }

  /** 0-based index of the tty shown (tty1 = 0). */
  public get activeIndex(): number {
    return this._active;
  }

  public get active(): Tty {
    return this.ttys[this._active]!;
  }

  public get visible(): boolean {
    return this._visible;
  }

  public get cursorVisible(): boolean {
    return this._cursorOn;
  }

  /** Use `surface` (a new mode): re-layout every tty and redraw. */
  public attach(surface: Surface): void {
    this._surface = surface;
    const cols = Math.max(1, Math.floor(surface.width / FONT_WIDTH));
    const rows = Math.max(1, Math.floor(surface.height / FONT_HEIGHT));
    for (const t of this.ttys) t.resize(cols, rows);
    this._fullRedraw = true;
    this.render();
  }

  public setActive(index: number): void {
    if (index < 0 || index >= TTY_COUNT) return;
    this._active = index;
    this._fullRedraw = true;
    this.render();
  }

  /** Fbcon owns the screen again (VT switch from the graphical session): redraw it all. */
  public show(): void {
    this._visible = true;
    this._fullRedraw = true;
    this.render();
  }

  /** Another VT owns the screen: stop drawing. */
  public hide(): void {
    this._visible = false;
  }

  /** Typing: show the cursor now and restart its blink phase. */
  public poke(): void {
    this._blinkBase = this._seq;
    this._cursorOn = true;
  }

  /** Vblank: advance the blink timer; redraws the cursor cell when its phase changes. */
  public tick(seq: number): void {
    this._seq = seq;
    const on = Math.floor((seq - this._blinkBase) / this._blink) % 2 === 0;
    if (on !== this._cursorOn) {
      this._cursorOn = on;
      this.render();
    }
  }

  /** Draw what changed on the active tty (all of it after attach/switch/show). */
  public render(): void {
    const s = this._surface;
    if (!s || !this._visible) return;
    const tty = this.active;
    const cur = this._cursorCell(tty);
    const cursorSame = this._cursorOn ? cur.x === this._drawnX && cur.y === this._drawnY : this._drawnX < 0;
    // Nothing changed: write nothing (an idle console leaves the dirty log clean).
    if (!this._fullRedraw && tty.version === this._drawnVersion && cursorSame) return;
    if (this._fullRedraw) {
      this._fullRedraw = false;
      // The strips right of and below the character grid.
      const gw = tty.cols * FONT_WIDTH;
      const gh = tty.rows * FONT_HEIGHT;
      if (s.width > gw) s.fillRect(gw, 0, s.width - gw, s.height, PALETTE[0]!);
      if (s.height > gh) s.fillRect(0, gh, gw, s.height - gh, PALETTE[0]!);
      tty.markAllDirty();
      this._drawnX = this._drawnY = -1;
    }
    // The previously drawn cursor cell goes back to normal unless its row is redrawn anyway.
    if (this._drawnY >= 0 && this._drawnY < tty.rows && !tty.isRowDirty(this._drawnY)) {
      if (!this._cursorOn || cur.x !== this._drawnX || cur.y !== this._drawnY) {
        this._drawCell(tty, this._drawnX, this._drawnY, false);
      }
    }
    tty.takeDirtyRows((y) => {
      for (let x = 0; x < tty.cols; x++) this._drawCell(tty, x, y, false);
      if (y === this._drawnY) this._drawnX = this._drawnY = -1;
    });
    if (this._cursorOn) {
      this._drawCell(tty, cur.x, cur.y, true);
      this._drawnX = cur.x;
      this._drawnY = cur.y;
    } else {
      this._drawnX = this._drawnY = -1;
    }
    this._drawnVersion = tty.version;
  }

  private _cursorCell(tty: Tty): { x: number; y: number } {
    return { x: Math.min(tty.cursorX, tty.cols - 1), y: Math.min(tty.cursorY, tty.rows - 1) };
  }

  private _drawCell(tty: Tty, x: number, y: number, inverted: boolean): void {
    const s = this._surface!;
    const a = tty.attrAt(x, y);
    let fg = PALETTE[a & 0x0f]!;
    let bg = PALETTE[(a >> 4) & 0x0f]!;
    if (inverted) [fg, bg] = [bg, fg];
    s.drawGlyph(x * FONT_WIDTH, y * FONT_HEIGHT, tty.charAt(x, y), fg, bg);
    this.cellsDrawn++;
  }
}
