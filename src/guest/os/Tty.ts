/** ANSI colour indices 0..15 (black, red, green, yellow, blue, magenta, cyan, white, then bright). */
export const PALETTE: readonly number[] = [
  0xff000000, 0xffaa0000, 0xff00aa00, 0xffaa5500, 0xff0000aa, 0xffaa00aa, 0xff00aaaa, 0xffaaaaaa,
  0xff555555, 0xffff5555, 0xff55ff55, 0xffffff55, 0xff5555ff, 0xffff55ff, 0xff55ffff, 0xffffffff,
];

/** Light grey on black. */
export const DEFAULT_ATTR = 0x07;

/**
 * One virtual terminal: a character grid with attributes (fg | bg << 4, palette indices) and a
 * cursor, with no scrollback. It understands \n, \r, \b, \t and a few escape sequences
 * (SGR colours ESC[…m, ESC[2J clear, ESC[H home, ESC[K erase to end of line). It only records
 * which rows changed; fbcon draws it when it is the visible one.
 */
export class Tty {
  public cols: number;
  public rows: number;
  public cursorX = 0;
  public cursorY = 0;
  public attr = DEFAULT_ATTR;
  /** Bumped on every change (content or cursor), so a renderer can tell it is stale. */
  public version = 0;

  private _chars: Uint8Array;
  private _attrs: Uint8Array;
  private _dirty: Uint8Array;
  private _esc: string | undefined;

  public constructor(public readonly index: number, cols: number, rows: number) {
    this.cols = Math.max(1, cols);
    this.rows = Math.max(1, rows);
    this._chars = new Uint8Array(this.cols * this.rows).fill(0x20);
    this._attrs = new Uint8Array(this.cols * this.rows).fill(DEFAULT_ATTR);
    this._dirty = new Uint8Array(this.rows).fill(1);
  }

  public get name(): string {
    return `tty${this.index}`;
  }

  public charAt(x: number, y: number): number {
    return this._chars[y * this.cols + x] ?? 0x20;
  }

  public attrAt(x: number, y: number): number {
    return this._attrs[y * this.cols + x] ?? DEFAULT_ATTR;
  }

  public line(y: number): string {
    let s = '';
    for (let x = 0; x < this.cols; x++) s += String.fromCharCode(this.charAt(x, y));
    return s.replace(/ +$/, '');
  }

  /** All lines, trailing spaces trimmed. */
  public text(): string[] {
    return Array.from({ length: this.rows }, (_, y) => this.line(y));
  }

  public isRowDirty(y: number): boolean {
    return this._dirty[y] === 1;
  }

  public markAllDirty(): void {
    this._dirty.fill(1);
    this.version++;
  }

  /** Calls `fn` for each changed row and clears the marks. */
  public takeDirtyRows(fn: (y: number) => void): void {
    for (let y = 0; y < this.rows; y++) {
      if (this._dirty[y]) {
        this._dirty[y] = 0;
        fn(y);
      }
    }
  }

  public write(text: string): void {
    for (let i = 0; i < text.length; i++) this._put(text[i]!);
    this.version++;
  }

  public clear(): void {
    this._chars.fill(0x20);
    this._attrs.fill(this.attr);
    this.cursorX = 0;
    this.cursorY = 0;
    this.markAllDirty();
  }

  /** New geometry (after a mode change). Keeps the bottom of the text so the cursor stays visible. */
  public resize(cols: number, rows: number): void {
    cols = Math.max(1, cols);
    rows = Math.max(1, rows);
    if (cols === this.cols && rows === this.rows) return;
    const chars = new Uint8Array(cols * rows).fill(0x20);
    const attrs = new Uint8Array(cols * rows).fill(DEFAULT_ATTR);
    const shift = Math.max(0, this.cursorY - rows + 1);
    for (let y = 0; y < rows; y++) {
      const sy = y + shift;
      if (sy >= this.rows) break;
      for (let x = 0; x < Math.min(cols, this.cols); x++) {
        chars[y * cols + x] = this._chars[sy * this.cols + x]!;
        attrs[y * cols + x] = this._attrs[sy * this.cols + x]!;
      }
    }
    this._chars = chars;
    this._attrs = attrs;
    this.cols = cols;
    this.rows = rows;
    this.cursorY -= shift;
    this.cursorX = Math.min(this.cursorX, cols);
    this._dirty = new Uint8Array(rows).fill(1);
    this.version++;
  }

  private _put(ch: string): void {
    if (this._esc !== undefined) {
      this._escape(ch);
      return;
    }
    switch (ch) {
      case '\x1b': this._esc = ''; return;
      case '\n': this.cursorX = 0; this._lineFeed(); return;
      case '\r': this.cursorX = 0; return;
      case '\b': if (this.cursorX > 0) this.cursorX--; return;
      case '\t': {
        const next = Math.min(this.cols, (Math.floor(this.cursorX / 8) + 1) * 8);
        while (this.cursorX < next) this._put(' ');
        return;
      }
    }
    let code = ch.charCodeAt(0);
    if (code < 0x20) return;
    if (code > 0x7e) code = 0x3f; // '?': the font is ASCII only
    if (this.cursorX >= this.cols) {
      this.cursorX = 0;
      this._lineFeed();
    }
    const i = this.cursorY * this.cols + this.cursorX;
    this._chars[i] = code;
    this._attrs[i] = this.attr;
    this._dirty[this.cursorY] = 1;
    this.cursorX++;
  }

  private _lineFeed(): void {
    if (this.cursorY + 1 < this.rows) {
      this.cursorY++;
      return;
    }
    // Scroll up one line.
    this._chars.copyWithin(0, this.cols);
    this._attrs.copyWithin(0, this.cols);
    this._chars.fill(0x20, (this.rows - 1) * this.cols);
    this._attrs.fill(this.attr, (this.rows - 1) * this.cols);
    this._dirty.fill(1);
  }

  private _escape(ch: string): void {
    const seq = this._esc!;
    if (seq === '' && ch !== '[') {
      this._esc = undefined;
      return;
    }
    if (seq === '' || /[0-9;]/.test(ch)) {
      this._esc = seq + ch;
      if (this._esc.length > 16) this._esc = undefined;
      return;
    }
    this._esc = undefined;
    const params = seq.slice(1).split(';').filter((p) => p !== '').map(Number);
    switch (ch) {
      case 'm': this._sgr(params.length ? params : [0]); break;
      case 'J': if ((params[0] ?? 0) === 2) this.clear(); break;
      case 'H':
        this.cursorX = Math.min(this.cols - 1, Math.max(0, (params[1] ?? 1) - 1));
        this.cursorY = Math.min(this.rows - 1, Math.max(0, (params[0] ?? 1) - 1));
        break;
      case 'K': {
        const from = this.cursorY * this.cols + Math.min(this.cursorX, this.cols);
        this._chars.fill(0x20, from, (this.cursorY + 1) * this.cols);
        this._dirty[this.cursorY] = 1;
        break;
      }
    }
  }

  private _sgr(params: number[]): void {
    for (const p of params) {
      if (p === 0) this.attr = DEFAULT_ATTR;
      else if (p === 1) this.attr |= 0x08;
      else if (p === 7) this.attr = ((this.attr & 0x0f) << 4) | (this.attr >> 4);
      else if (p >= 30 && p <= 37) this.attr = (this.attr & 0xf8) | (p - 30);
      else if (p === 39) this.attr = (this.attr & 0xf0) | (DEFAULT_ATTR & 0x0f);
      else if (p >= 40 && p <= 47) this.attr = (this.attr & 0x0f) | ((p - 40) << 4);
      else if (p === 49) this.attr &= 0x0f;
      else if (p >= 90 && p <= 97) this.attr = (this.attr & 0xf0) | (p - 90 + 8);
    }
  }
}
