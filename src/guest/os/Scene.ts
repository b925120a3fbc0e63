import { FONT_HEIGHT, FONT_WIDTH, glyph } from './Font8x16.ts';
import { addDamage, contains, intersects, rect, union } from './Rect.ts';
import type { Rect, Surface } from './Surface.ts';
import type { Tty } from './Tty.ts';

export type WindowKind = 'term' | 'clock' | 'anim';

export interface SceneWindow {
  readonly kind: WindowKind;
  readonly title: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export const PANEL_HEIGHT = 24;
const TITLE_HEIGHT = 20;
const BORDER = 2;
const CLOCK_SCALE = 3;

const C = {
  deskTop: 0xff1d3b5a,
  deskBottom: 0xff0b1622,
  panel: 0xff202830,
  panelText: 0xffe8e8e8,
  frame: 0xff101418,
  titleActive: 0xff3a6ea5,
  title: 0xff4a5560,
  titleText: 0xffffffff,
  body: 0xffe8e4dc,
  termBody: 0xff101010,
  termText: 0xff33dd66,
  ink: 0xff202020,
  ball: 0xffe0503a,
  track: 0xffc8c0b4,
};

/** Inner margins of the Terminal window's text grid. */
const TERM_PAD_X = 4;
const TERM_PAD_Y = 2;

/** Clock text for a time in ms since the epoch, UTC. */
export function clockText(nowMs: number): string {
  const s = Math.floor(nowMs / 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600) % 24)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/**
 * The graphical session's content: a desktop gradient, a top panel with a clock, and three
 * windows (a terminal, a big clock, an animation). `update()` advances time and returns the
 * damaged area; `draw()` paints any clip rectangle of the scene, so a renderer redraws only damage.
 * Windows can be dragged by their title bars. The Terminal window shows `terminal`, a tty the OS
 * runs a shell on, sized to the window; a click in flip-demo's body starts or pauses it.
 */
export class Scene {
  public width = 0;
  public height = 0;
  public readonly windows: SceneWindow[] = [];
  /** The tty the Terminal window shows (its rows are redrawn when they change). */
  public readonly terminal: Tty | undefined;
  private _clock = '';
  private _animating = false;
  private _phase = 0;
  private _drag: { win: SceneWindow; dx: number; dy: number } | undefined;
  private _termCursor = { x: -1, y: -1 };

  public constructor(width: number, height: number, nowMs: number, terminal?: Tty) {
    this._clock = clockText(nowMs);
    this.terminal = terminal;
    this.layout(width, height);
  }

  public get clock(): string {
    return this._clock;
  }

  public get animating(): boolean {
    return this._animating;
  }

  /** Animation frames advanced so far. */
  public get phase(): number {
    return this._phase;
  }

  /** Place the windows for a screen size (a new mode). */
  public layout(width: number, height: number): void {
    this.width = width;
    this.height = height;
    const W = (f: number, min: number): number => Math.max(min, Math.floor(width * f));
    const H = (f: number, min: number): number => Math.max(min, Math.floor(height * f));
    this.windows.length = 0;
    const P = PANEL_HEIGHT;
    this.windows.push(
      { kind: 'term', title: 'Terminal', x: W(0.04, 4), y: P + H(0.05, 4), w: W(0.44, 240), h: H(0.36, 140) },
      { kind: 'clock', title: 'Clock', x: W(0.54, 8), y: P + H(0.08, 8), w: W(0.40, 220), h: H(0.22, 100) },
      { kind: 'anim', title: 'flip-demo', x: W(0.24, 8), y: H(0.52, P + 8), w: W(0.52, 200), h: H(0.36, 110) },
    );
    const t = this.terminal;
    if (t !== undefined) {
      const b = this._body(this._find('term'));
      t.resize(Math.floor((b.w - 2 * TERM_PAD_X) / FONT_WIDTH), Math.floor((b.h - TERM_PAD_Y) / FONT_HEIGHT));
      t.markAllDirty();
    }
  }

  /** Advance to time `nowMs`; returns what must be redrawn (empty when nothing changed). */
  public update(nowMs: number): Rect[] {
    let damage: Rect[] = [];
    const t = clockText(nowMs);
    if (t !== this._clock) {
      this._clock = t;
      damage = addDamage(damage, this._panelClockRect());
      damage = addDamage(damage, this._bigClockRect());
    }
    if (this._animating) {
      this._phase++;
      damage = addDamage(damage, this._animRect());
    }
    for (const r of this._terminalDamage()) damage = addDamage(damage, r);
    return damage;
  }

  public setAnimating(on: boolean): Rect | undefined {
    if (on === this._animating) return undefined;
    this._animating = on;
    return this._animRect();
  }

  public pointerDown(x: number, y: number): Rect | undefined {
    for (let i = this.windows.length - 1; i >= 0; i--) {
      const w = this.windows[i]!;
      if (!contains(rect(w.x, w.y, w.w, w.h), x, y)) continue;
      // Raise it; a click on the title bar starts a drag, one in flip-demo's body toggles it.
      const raised = i !== this.windows.length - 1;
      this.windows.splice(i, 1);
      this.windows.push(w);
      const onTitle = y < w.y + TITLE_HEIGHT + BORDER;
      if (onTitle) this._drag = { win: w, dx: x - w.x, dy: y - w.y };
      const toggled = !onTitle && w.kind === 'anim' ? this.setAnimating(!this._animating) : undefined;
      return raised ? rect(w.x, w.y, w.w, w.h) : toggled;
    }
    return undefined;
  }

  public pointerMove(x: number, y: number): Rect | undefined {
    const d = this._drag;
    if (!d) return undefined;
    const before = rect(d.win.x, d.win.y, d.win.w, d.win.h);
    const nx = Math.max(-d.win.w + 32, Math.min(this.width - 32, x - d.dx));
    const ny = Math.max(PANEL_HEIGHT, Math.min(this.height - TITLE_HEIGHT, y - d.dy));
    if (nx === d.win.x && ny === d.win.y) return undefined;
    d.win.x = nx;
    d.win.y = ny;
    return union(before, rect(nx, ny, d.win.w, d.win.h));
  }

  public pointerUp(): void {
    this._drag = undefined;
  }

  /** Paint the part of the scene inside `clip`. */
  public draw(s: Surface, clip: Rect): void {
    s.setClip(clip);
    try {
      const y1 = Math.min(this.height, clip.y + clip.h);
      const den = Math.max(1, this.height - 1);
      for (let y = Math.max(0, clip.y); y < y1; y++) {
        s.fillRect(clip.x, y, clip.w, 1, lerp(C.deskTop, C.deskBottom, y / den));
      }
      s.fillRect(0, 0, this.width, PANEL_HEIGHT, C.panel);
      s.drawText(8, 4, 'vgpu-os  Activities', C.panelText);
      const pc = this._panelClockRect();
      s.drawText(pc.x, pc.y, this._clock, C.panelText);
      const top = this.windows[this.windows.length - 1];
      for (const w of this.windows) {
        if (intersects(clip, rect(w.x, w.y, w.w, w.h))) this._drawWindow(s, w, w === top);
      }
    } finally {
      s.resetClip();
    }
  }

  private _drawWindow(s: Surface, w: SceneWindow, focused: boolean): void {
    s.fillRect(w.x, w.y, w.w, w.h, C.frame);
    s.fillRect(w.x + BORDER, w.y + BORDER, w.w - 2 * BORDER, TITLE_HEIGHT, focused ? C.titleActive : C.title);
    s.drawText(w.x + BORDER + 6, w.y + BORDER + 2, w.title, C.titleText);
    const b = this._body(w);
    switch (w.kind) {
      case 'term': {
        s.fillRect(b.x, b.y, b.w, b.h, C.termBody);
        const t = this.terminal;
        if (t === undefined) break;
        for (let row = 0; row < t.rows; row++) {
          s.drawText(b.x + TERM_PAD_X, b.y + TERM_PAD_Y + row * FONT_HEIGHT, t.line(row), C.termText);
        }
        // A steady block cursor (no blinking: an idle desktop must not flip).
        const cx = Math.min(t.cursorX, t.cols - 1);
        s.fillRect(b.x + TERM_PAD_X + cx * FONT_WIDTH, b.y + TERM_PAD_Y + t.cursorY * FONT_HEIGHT + FONT_HEIGHT - 3,
          FONT_WIDTH, 2, C.termText);
        this._termCursor = { x: cx, y: t.cursorY };
        break;
      }
      case 'clock': {
        s.fillRect(b.x, b.y, b.w, b.h, C.body);
        const r = this._bigClockRect();
        drawScaledText(s, r.x, r.y, this._clock, CLOCK_SCALE, C.ink);
        s.drawText(b.x + 6, b.y + b.h - FONT_HEIGHT - 4, 'UTC', C.ink);
        break;
      }
      case 'anim': {
        s.fillRect(b.x, b.y, b.w, b.h, C.body);
        const label = this._animating ? 'flip-demo: running' : 'flip-demo: paused';
        s.drawText(b.x + 6, b.y + 4, label, C.ink);
        const r = 12;
        const trackY = b.y + Math.floor(b.h / 2) + 8;
        s.fillRect(b.x + 8, trackY - 1, b.w - 16, 3, C.track);
        const span = Math.max(1, b.w - 16 - 2 * r);
        const period = span * 2;
        const p = (this._phase * 6) % period;
        const bx = b.x + 8 + r + (p < span ? p : period - p);
        s.fillCircle(bx, trackY, r, C.ball);
        // A bar that grows with the phase, so every animation frame differs visibly.
        const bar = Math.floor(((this._phase % 60) / 59) * (b.w - 16));
        s.fillRect(b.x + 8, b.y + b.h - 10, bar, 4, C.titleActive);
        break;
      }
    }
  }

  private _body(w: SceneWindow): Rect {
    const top = BORDER + TITLE_HEIGHT;
    return rect(w.x + BORDER, w.y + top, w.w - 2 * BORDER, w.h - top - BORDER);
  }

  private _find(kind: WindowKind): SceneWindow {
    return this.windows.find((w) => w.kind === kind)!;
  }

  private _panelClockRect(): Rect {
    return rect(this.width - 8 * FONT_WIDTH - 8, 4, 8 * FONT_WIDTH, FONT_HEIGHT);
  }

  private _bigClockRect(): Rect {
    const b = this._body(this._find('clock'));
    return rect(b.x + 8, b.y + 8, 8 * FONT_WIDTH * CLOCK_SCALE, FONT_HEIGHT * CLOCK_SCALE);
  }

  private _animRect(): Rect {
    return this._body(this._find('anim'));
  }

  /** The Terminal rows whose text changed, and the rows the cursor left and entered. */
  private _terminalDamage(): Rect[] {
    const t = this.terminal;
    if (t === undefined) return [];
    const b = this._body(this._find('term'));
    const rows = new Set<number>();
    t.takeDirtyRows((y) => rows.add(y));
    const cx = Math.min(t.cursorX, t.cols - 1);
    if (cx !== this._termCursor.x || t.cursorY !== this._termCursor.y) {
      if (this._termCursor.y >= 0 && this._termCursor.y < t.rows) rows.add(this._termCursor.y);
      rows.add(t.cursorY);
    }
    return [...rows].map((y) => rect(b.x, b.y + TERM_PAD_Y + y * FONT_HEIGHT, b.w, FONT_HEIGHT));
  }
}

/** Text with each font pixel drawn as a scale×scale square (transparent background). */
export function drawScaledText(s: Surface, x: number, y: number, text: string, scale: number,
  argb: number): void {
  for (let i = 0; i < text.length; i++) {
    const rows = glyph(text.charCodeAt(i));
    for (let r = 0; r < FONT_HEIGHT; r++) {
      const bits = rows[r]!;
      if (!bits) continue;
      for (let b = 0; b < 8; b++) {
        if (bits & (0x80 >>> b)) s.fillRect(x + (i * 8 + b) * scale, y + r * scale, scale, scale, argb);
      }
    }
  }
}

function lerp(a: number, b: number, t: number): number {
  const ch = (sh: number): number => {
    const x = (a >>> sh) & 0xff;
    const y = (b >>> sh) & 0xff;
    return Math.round(x + (y - x) * t) << sh;
  };
  return (0xff000000 | ch(16) | ch(8) | ch(0)) >>> 0;
}
