import type { DisplayBuffer } from '../display/DisplayBuffer.ts';
import { formatInfo } from '../kms/Fourcc.ts';
import { layoutForModifier, type TileLayout } from '../kms/Tiling.ts';
import { BLOCK_SIZE } from '../server/BufferShadow.ts';

/** Something that collects marked pixel spans per row (a DirtyMap). */
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
