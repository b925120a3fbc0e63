import type { DisplayBuffer, Rect } from '../display/DisplayBuffer.ts';
import { formatInfo } from '../kms/Fourcc.ts';
import { layoutForModifier, type TileLayout } from '../kms/Tiling.ts';
import { BLOCK_SIZE } from '../server/BufferShadow.ts';

/** Something that collects marked pixel spans per row (DirtyRows, DirtyMap). */
export interface RowMarks {
  add(y: number, x0: number, x1: number): void;
}

/**
 * Where the server's 4 KiB content blocks (BufferShadow) lie on screen, for one buffer layout:
 * block i → the pixels holding its bytes. A linear block is the tail of a row, whole rows and the
 * head of another; an X or Y tile is exactly one 4 KiB block (512 B × 8 rows, 128 B × 32 rows).
 * `key` names the layout: two buffers with the same key put the same pixels in the same blocks,
 * so comparing block hashes between them says which pixels differ.
 */
export class BlockRects {
  public readonly key: string;
  public readonly width: number;
  public readonly height: number;
  private readonly _stride: number;
  private readonly _cpp: number;
  private readonly _layout: TileLayout | undefined;

  public constructor(b: DisplayBuffer) {
    this.width = b.width;
    this.height = b.height;
    this._stride = b.stride;
    this._cpp = (formatInfo(b.drmFormat)?.bpp ?? 32) / 8;
    this._layout = layoutForModifier(b.modifier);
    this.key = `${b.width}x${b.height}:${b.stride}:${b.drmFormat}:${b.modifier}`;
  }

  /** False when blocks cannot be placed (unknown tiling): every change is a full update. */
  public get addressable(): boolean {
    const l = this._layout;
    if (l === undefined || this._stride <= 0 || this._cpp <= 0) return false;
    if (l.name === 'linear') return true;
    return this._stride % l.tileWidth === 0 && l.tileWidth * l.tileHeight === BLOCK_SIZE;
  }

  /**
   * Mark the pixels of block i in `rows` (clipped to the frame): a linear block is the tail of one
   * row, whole rows, and the head of another; a tile is one rectangle.
   */
  public mark(i: number, rows: RowMarks): void {
    const l = this._layout!;
    const stride = this._stride;
    const cpp = this._cpp;
    if (l.name === 'linear') {
      const s = i * BLOCK_SIZE;
      const e = s + BLOCK_SIZE; // exclusive
      const y0 = Math.floor(s / stride);
      const y1 = Math.floor((e - 1) / stride);
      for (let y = y0; y <= y1 && y < this.height; y++) {
        const rowStart = y * stride;
        const a = Math.max(s, rowStart) - rowStart;
        const b = Math.min(e, rowStart + stride) - rowStart;
        const x0 = Math.floor(a / cpp);
        const x1 = Math.min(this.width, Math.ceil(b / cpp));
        if (x0 < x1) rows.add(y, x0, x1);
      }
      return;
    }
    const perRow = stride / l.tileWidth;
    const col = i % perRow;
    const row = Math.floor(i / perRow);
    const tw = l.tileWidth / cpp;
    const x0 = col * tw;
    const x1 = Math.min(this.width, x0 + tw);
    if (x0 >= x1) return;
    for (let y = row * l.tileHeight; y < (row + 1) * l.tileHeight && y < this.height; y++) rows.add(y, x0, x1);
  }
}

/**
 * Changed pixels as one span per row (the union of what was marked on it), turned into
 * rectangles: consecutive rows are joined while the joined rectangle wastes at most half of its
 * area on unmarked pixels. Every marked pixel is in exactly one rectangle.
 */
export class DirtyRows {
  private readonly _x0: Int32Array;
  private readonly _x1: Int32Array;
  private _count = 0;

  public constructor(public readonly height: number) {
    this._x0 = new Int32Array(height).fill(-1);
    this._x1 = new Int32Array(height);
  }

  public get empty(): boolean {
    return this._count === 0;
  }

  public add(y: number, x0: number, x1: number): void {
    if (y < 0 || y >= this.height || x1 <= x0) return;
    if (this._x0[y] === -1) {
      this._x0[y] = x0;
      this._x1[y] = x1;
      this._count++;
      return;
    }
    if (x0 < this._x0[y]!) this._x0[y] = x0;
    if (x1 > this._x1[y]!) this._x1[y] = x1;
  }

  public addRect(r: Rect): void {
    for (let y = r.y; y < r.y + r.height; y++) this.add(y, r.x, r.x + r.width);
  }

  public rects(): Rect[] {
    const out: Rect[] = [];
    let cur: { x0: number; x1: number; y0: number; y1: number; used: number } | undefined;
    const close = (): void => {
      if (cur !== undefined) out.push({ x: cur.x0, y: cur.y0, width: cur.x1 - cur.x0, height: cur.y1 - cur.y0 });
      cur = undefined;
    };
    for (let y = 0; y < this.height; y++) {
      const a = this._x0[y]!;
      if (a === -1) {
        close();
        continue;
      }
      const b = this._x1[y]!;
      if (cur !== undefined) {
        const x0 = Math.min(cur.x0, a);
        const x1 = Math.max(cur.x1, b);
        const used = cur.used + (b - a);
        if ((x1 - x0) * (y + 1 - cur.y0) <= 2 * used) {
          cur.x0 = x0;
          cur.x1 = x1;
          cur.y1 = y + 1;
          cur.used = used;
          continue;
        }
        close();
      }
      cur = { x0: a, x1: b, y0: y, y1: y + 1, used: b - a };
    }
    close();
    return out;
  }
}
