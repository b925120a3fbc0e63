import { DRM_FORMAT_MOD } from './Modifier.ts';

/**
 * Memory layouts of a 2-D surface. Offsets are in bytes from the start of the surface; `xBytes`
 * is the byte column (x * cpp). Intel tiles are 4 KiB:
 *  - X: 512 bytes × 8 rows, rows stored one after another inside the tile.
 *  - Y (legacy): 128 bytes × 32 rows, stored as 8 columns of 16-byte OWords, each column 32 rows
 *    tall, so a vertical run of 16-byte units is contiguous.
 * Tiles are laid out row-major with `stride / tileWidth` tiles per tile row.
 */
export interface TileLayout {
  readonly name: 'linear' | 'x' | 'y';
  /** Width of one tile in bytes (1 for linear: no constraint beyond the stride). */
  readonly tileWidth: number;
  /** Height of one tile in rows (1 for linear). */
  readonly tileHeight: number;
}

export const LINEAR: TileLayout = { name: 'linear', tileWidth: 1, tileHeight: 1 };
export const X_TILED: TileLayout = { name: 'x', tileWidth: 512, tileHeight: 8 };
export const Y_TILED: TileLayout = { name: 'y', tileWidth: 128, tileHeight: 32 };

/** The layout a modifier describes, or undefined when we cannot address it (Yf, unknown). */
export function layoutForModifier(mod: bigint): TileLayout | undefined {
  if (mod === DRM_FORMAT_MOD.LINEAR) return LINEAR;
  if (mod === DRM_FORMAT_MOD.I915_X_TILED) return X_TILED;
  if (mod === DRM_FORMAT_MOD.I915_Y_TILED) return Y_TILED;
  return undefined;
}

/** Byte offset of (xBytes, y) in a surface of the given layout and stride. */
export function tiledOffset(layout: TileLayout, stride: number, xBytes: number, y: number): number {
  switch (layout.name) {
    case 'linear':
      return y * stride + xBytes;
    case 'x': {
      const tile = (y >>> 3) * (stride >>> 9) + (xBytes >>> 9);
      return tile * 4096 + (y & 7) * 512 + (xBytes & 511);
    }
    case 'y': {
      const tile = (y >>> 5) * (stride >>> 7) + (xBytes >>> 7);
      return tile * 4096 + ((xBytes & 127) >>> 4) * 512 + (y & 31) * 16 + (xBytes & 15);
    }
  }
}

/** Rows rounded up to whole tiles: the surface size is `stride * tileRoundedHeight`. */
export function tileRoundedHeight(layout: TileLayout, height: number): number {
  const th = layout.tileHeight;
  return Math.ceil(height / th) * th;
}

/** True when a stride is usable with this layout (a whole number of tiles per row). */
export function strideFits(layout: TileLayout, stride: number): boolean {
  return stride > 0 && stride % layout.tileWidth === 0;
}
