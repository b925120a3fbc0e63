import { formatName } from '../kms/Fourcc.ts';
import { modifierName } from '../kms/Modifier.ts';
import { layoutForModifier, strideFits, tiledOffset } from '../kms/Tiling.ts';
import type { TileLayout } from '../kms/Tiling.ts';
import { getConverter, isDecodeError } from '../render/FormatDecoder.ts';
import type { RemoteBuffer } from './BufferStore.ts';

/** Why a buffer cannot be shown; `kind` picks the status sentence. */
export interface PlaneProblem {
  readonly kind: 'format' | 'modifier' | 'geometry';
  readonly message: string;
}

/** What a renderer needs to address a buffer: its layout and packing. */
export interface PlaneLayout {
  readonly layout: TileLayout;
  /** Bytes per pixel unit, pixels per unit (2 for packed YUV 4:2:2). */
  readonly unitBytes: number;
  readonly unitPixels: number;
}

/**
 * Can this buffer be shown? The same rules as the CPU reference (render/SoftwareRenderer): a
 * known format, an addressable modifier, a stride of whole tiles, and every byte in the buffer.
 */
export function checkPlane(b: RemoteBuffer): PlaneLayout | PlaneProblem {
  const conv = getConverter(b.drmFormat);
  if (isDecodeError(conv)) return { kind: 'format', message: `pixel format ${formatName(b.drmFormat)}` };
  const layout = layoutForModifier(b.modifier);
  if (layout === undefined) return { kind: 'modifier', message: `modifier ${modifierName(b.modifier)}` };
  const name = formatName(b.drmFormat);
  if (conv.unitPixels > 1 && b.width % conv.unitPixels !== 0) {
    return { kind: 'geometry', message: `${name} needs an even width, got ${b.width}` };
  }
  const rowBytes = (b.width / conv.unitPixels) * conv.unitBytes;
  if (b.stride < rowBytes) {
    return { kind: 'geometry', message: `stride ${b.stride} < ${rowBytes} bytes of ${b.width} ${name} pixels` };
  }
  if (!strideFits(layout, b.stride)) {
    return { kind: 'geometry', message: `stride ${b.stride} is not whole ${layout.name} tiles` };
  }
  const need = tiledOffset(layout, b.stride, rowBytes - 1, b.height - 1) + 1;
  if (need > b.size) return { kind: 'geometry', message: `buffer of ${b.size} bytes < ${need} needed` };
  return { layout, unitBytes: conv.unitBytes, unitPixels: conv.unitPixels };
}

export function isPlaneProblem<T extends object>(p: T | PlaneProblem): p is PlaneProblem {
  return (p as PlaneProblem).kind !== undefined;
}

/**
 * Rows of the picture touched by bytes [lo, hi): tiles are row-major, so one tile row (stride ×
 * tile height bytes) covers whole picture rows. Returns [y0, y1), clipped to the height.
 */
export function rowsOfBytes(b: RemoteBuffer, layout: TileLayout, lo: number, hi: number): [number, number] {
  const th = layout.tileHeight;
  const band = b.stride * th;
  const y0 = Math.floor(lo / band) * th;
  const y1 = Math.min(b.height, Math.ceil(hi / band) * th);
  return [Math.min(y0, b.height), y1];
}
