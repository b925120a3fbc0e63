import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { layoutForModifier, type TileLayout } from '../kms/Tiling.ts';
import type { Rect } from './DisplayBuffer.ts';

export interface DamageGeometry {
  readonly width: number;
  readonly height: number;
  /** Bytes per row of the untiled surface. */
  readonly stride: number;
  readonly modifier: bigint;
  /** Bytes per pixel. */
  readonly cpp: number;
}

/** More rectangles than this are merged into their bounding box (a renderer uploads less often). */
export const MAX_DAMAGE_RECTS = 32;

/**
 * Turns dirty pages of one buffer into damage rectangles. Page p of the buffer covers bytes
 * [p*4096, (p+1)*4096): for a linear buffer that is rows floor(start/stride)..floor((end-1)/stride),
 * full width; for X/Y tiling a page is exactly one tile, so it is that tile's rows and columns.
 * Marks accumulate in a reused bitmap (no allocation per page); `take()` coalesces them: runs of
 * rows for linear buffers, runs of tiles per tile row merged downwards for tiled ones.
 */
export class DamageMapper {
  public readonly geometry: DamageGeometry;
  /** The tile layout, or undefined when the modifier is not addressable (no damage: full frames). */
  public readonly layout: TileLayout | undefined;
  private readonly _bits: Uint8Array;
  private readonly _tilesPerRow: number;
  private readonly _tileRows: number;
  private _marked = 0;

  public constructor(geometry: DamageGeometry) {
    this.geometry = geometry;
    const layout = layoutForModifier(geometry.modifier);
    const valid = layout !== undefined && geometry.stride > 0 && geometry.width > 0 && geometry.height > 0 &&
      geometry.cpp > 0 && (layout.name === 'linear' || geometry.stride % layout.tileWidth === 0);
    this.layout = valid ? layout : undefined;
    if (this.layout === undefined || this.layout.name === 'linear') {
      this._tilesPerRow = 1;
      this._tileRows = valid ? geometry.height : 0;
    } else {
      this._tilesPerRow = geometry.stride / this.layout.tileWidth;
      this._tileRows = Math.ceil(geometry.height / this.layout.tileHeight);
    }
    this._bits = new Uint8Array(this._tilesPerRow * this._tileRows);
  }

  /** Pages the buffer spans. */
  public get pageCount(): number {
    const g = this.geometry;
    if (!this.layout) return 0;
    const rows = this.layout.name === 'linear' ? g.height : this._tileRows * this.layout.tileHeight;
    return Math.ceil((g.stride * rows) / PAGE_SIZE);
  }

  public get pending(): boolean {
    return this._marked > 0;
  }

  /** Mark page `p` of the buffer (0-based) dirty. Pages outside the visible area are ignored. */
  public markPage(p: number): void {
    const layout = this.layout;
    if (!layout || p < 0) return;
    const bits = this._bits;
    if (layout.name === 'linear') {
      const stride = this.geometry.stride;
      const start = p * PAGE_SIZE;
      const first = Math.floor(start / stride);
      const last = Math.min(this._tileRows - 1, Math.floor((start + PAGE_SIZE - 1) / stride));
      for (let r = first; r <= last; r++) {
        if (bits[r] === 0) { bits[r] = 1; this._marked++; }
      }
      return;
    }
    if (p >= bits.length) return;
    if (bits[p] === 0) { bits[p] = 1; this._marked++; }
  }

  /** Everything marked as rectangles (clipped to the buffer, non-overlapping); clears the marks. */
  public take(): Rect[] {
    if (this._marked === 0 || !this.layout) return [];
    const rects = this.layout.name === 'linear' ? this._takeRows() : this._takeTiles(this.layout);
    this._bits.fill(0);
    this._marked = 0;
    return rects.length > MAX_DAMAGE_RECTS ? [boundingBox(rects)] : rects;
  }

  private _takeRows(): Rect[] {
    const bits = this._bits;
    const width = this.geometry.width;
    const out: Rect[] = [];
    let r = 0;
    while (r < bits.length) {
      if (bits[r] === 0) { r++; continue; }
      const y = r;
      while (r < bits.length && bits[r] !== 0) r++;
      out.push({ x: 0, y, width, height: r - y });
    }
    return out;
  }

  private _takeTiles(layout: TileLayout): Rect[] {
    const { width, height, cpp } = this.geometry;
    const bits = this._bits;
    const tw = layout.tileWidth / cpp; // tile width in pixels
    const th = layout.tileHeight;
    const out: Rect[] = [];
    // Rectangles that ended on the previous tile row, candidates for growing downwards.
    let open: { x: number; y: number; width: number; height: number }[] = [];
    for (let tr = 0; tr < this._tileRows; tr++) {
      const y = tr * th;
      const h = Math.min(th, height - y);
      const next: typeof open = [];
      let tc = 0;
      while (tc < this._tilesPerRow) {
        if (bits[tr * this._tilesPerRow + tc] === 0) { tc++; continue; }
        const c0 = tc;
        while (tc < this._tilesPerRow && bits[tr * this._tilesPerRow + tc] !== 0) tc++;
        const x = Math.floor(c0 * tw);
        if (x >= width) continue; // tiles right of the visible width (stride padding)
        const w = Math.min(width, Math.floor(tc * tw)) - x;
        const above = open.find((o) => o.x === x && o.width === w && o.y + o.height === y);
        if (above) {
          above.height += h;
          next.push(above);
        } else {
          const rect = { x, y, width: w, height: h };
          out.push(rect);
          next.push(rect);
        }
      }
      open = next;
    }
    return out;
  }
}

function boundingBox(rects: readonly Rect[]): Rect {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = 0;
  let y1 = 0;
  for (const r of rects) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.width);
    y1 = Math.max(y1, r.y + r.height);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}
