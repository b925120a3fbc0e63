import { formatInfo } from '../kms/Fourcc.ts';
import { layoutForModifier, tiledOffset } from '../kms/Tiling.ts';
import { FONT_HEIGHT, FONT_WIDTH } from '../guest/os/Font8x16.ts';
import { ocrGrid } from '../guest/os/TextOcr.ts';
import { PixelReader, type PixelSource } from '../render/PixelSource.ts';

/** What OCR needs to know about a plane (a QUERY reply has all of it). */
export interface PlaneGeometry {
  readonly drmFormat: number;
  readonly drmFormatMod: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
}

/**
 * Read the text console off a mapped plane (the host's view: the dma-buf bytes, any supported
 * format and tiling) by matching the 8×16 font cell by cell. Empty for a layout it cannot address
 * or a buffer too short for the geometry (never throws for guest-controlled input).
 */
export function planeText(g: PlaneGeometry, source: PixelSource): string[] {
  const fmt = formatInfo(g.drmFormat);
  const layout = layoutForModifier(g.drmFormatMod);
  if (!fmt || !layout || (fmt.cpp !== 2 && fmt.cpp !== 4) || g.width <= 0 || g.height <= 0) return [];
  if (g.stride < g.width * fmt.cpp || g.stride % layout.tileWidth !== 0) return [];
  const last = tiledOffset(layout, g.stride, g.width * fmt.cpp - 1, g.height - 1);
  if (last >= source.length) return [];
  const reader = new PixelReader(source);
  const cpp = fmt.cpp;
  const pixelAt = (x: number, y: number): number => {
    const off = tiledOffset(layout, g.stride, x * cpp, y);
    reader.seek(off);
    const c = reader.chunk;
    const i = off - reader.chunkStart;
    // A pixel never straddles a chunk: chunks are whole pages and cpp divides 4096.
    return cpp === 4 ? (c[i]! | (c[i + 1]! << 8) | (c[i + 2]! << 16) | (c[i + 3]! << 24)) >>> 0
      : c[i]! | (c[i + 1]! << 8);
  };
  return ocrGrid(pixelAt, Math.floor(g.width / FONT_WIDTH), Math.floor(g.height / FONT_HEIGHT));
}
