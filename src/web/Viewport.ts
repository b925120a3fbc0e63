/**
 * Where the guest frame goes on the canvas, and the way back for pointer positions. Everything is
 * in device pixels (the canvas backing store), so the picture is exact at any devicePixelRatio.
 */
export type ScaleMode = 'off' | 'fit' | 'integer';
export type FilterMode = 'auto' | 'nearest' | 'linear';

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The destination rectangle of a `guestW`×`guestH` frame on a `canvasW`×`canvasH` canvas:
 * - off: 1:1 device pixels, centred when the canvas is larger, top-left when smaller (the page
 *   scrolls: the canvas is sized to the guest in that mode);
 * - fit: the largest aspect-preserving size, centred (letterbox);
 * - integer: the largest whole multiple that fits; a guest larger than the canvas shrinks as fit.
 * Offsets are whole pixels so a 1:1 or integer frame lands on the pixel grid.
 */
export function destRect(mode: ScaleMode, guestW: number, guestH: number, canvasW: number,
  canvasH: number): Rect {
  if (guestW <= 0 || guestH <= 0 || canvasW <= 0 || canvasH <= 0) {
    return { x: 0, y: 0, width: 0, height: 0 };
  }
  let w: number;
  let h: number;
  const fit = Math.min(canvasW / guestW, canvasH / guestH);
  if (mode === 'off') {
    w = guestW;
    h = guestH;
  } else if (mode === 'integer' && fit >= 1) {
    const k = Math.floor(fit);
    w = guestW * k;
    h = guestH * k;
  } else {
    w = Math.max(1, Math.min(canvasW, Math.round(guestW * fit)));
    h = Math.max(1, Math.min(canvasH, Math.round(guestH * fit)));
  }
  return {
    x: Math.max(0, Math.floor((canvasW - w) / 2)),
    y: Math.max(0, Math.floor((canvasH - h) / 2)),
    width: w,
    height: h,
  };
}

/** Nearest filtering when the scale is a whole number in both axes (crisp), else linear. */
export function effectiveFilter(filter: FilterMode, dest: Rect, guestW: number,
  guestH: number): 'nearest' | 'linear' {
  if (filter !== 'auto') return filter;
  return dest.width % guestW === 0 && dest.height % guestH === 0 ? 'nearest' : 'linear';
}

/**
 * A device-pixel position on the canvas → the guest pixel under it, clamped to the frame (so a
 * drag that leaves the picture still reaches the edge). `inside` is false outside the frame.
 */
export function guestPoint(dest: Rect, guestW: number, guestH: number, devX: number,
  devY: number): { x: number; y: number; inside: boolean } {
  if (dest.width <= 0 || dest.height <= 0) return { x: 0, y: 0, inside: false };
  const gx = Math.floor(((devX - dest.x) * guestW) / dest.width);
  const gy = Math.floor(((devY - dest.y) * guestH) / dest.height);
  const inside = gx >= 0 && gy >= 0 && gx < guestW && gy < guestH;
  return {
    x: Math.min(guestW - 1, Math.max(0, gx)),
    y: Math.min(guestH - 1, Math.max(0, gy)),
    inside,
  };
}

/** A guest-space rectangle (a cursor plane) → device pixels on the canvas, unclipped. */
export function toDevice(dest: Rect, guestW: number, guestH: number, r: Rect): Rect {
  const sx = dest.width / guestW;
  const sy = dest.height / guestH;
  return { x: dest.x + r.x * sx, y: dest.y + r.y * sy, width: r.width * sx, height: r.height * sy };
}
