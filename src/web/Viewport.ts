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
 * The whole scale factor a `guestW`×`guestH` frame gets in an `areaW`×`areaH` area: 1 for `off`,
 * the largest multiple that fits (never below 1) for `integer`; 0 for `fit` (not whole).
 */
export function wholeFactor(mode: ScaleMode, guestW: number, guestH: number, areaW: number,
  areaH: number): number {
  if (mode === 'fit') return 0;
  if (mode === 'off' || guestW <= 0 || guestH <= 0) return 1;
  return Math.max(1, Math.floor(Math.min(areaW / guestW, areaH / guestH)));
}

/**
 * The destination rectangle of a `guestW`×`guestH` frame on a `canvasW`×`canvasH` canvas:
 * - off: 1:1 device pixels, centred when the canvas is larger, top-left when smaller (the tile
 *   scrolls: the canvas is sized to the guest then);
 * - fit: the largest aspect-preserving size, centred (letterbox) — the one fractional mode, and
 *   only when the user picks it;
 * - integer (default): the largest whole multiple ≥ 1 that fits; a guest larger than the canvas
 *   stays 1:1 (top-left, the tile scrolls), never shrunk.
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
  } else if (mode === 'integer') {
    const k = wholeFactor(mode, guestW, guestH, canvasW, canvasH);
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

/**
 * The canvas backing store for a CSS box of `cssW`×`cssH` at `dpr`. ResizeObserver's
 * device-pixel-content-box is exact at fractional ratios, but Chromium's DPR emulation does not
 * reach it (it reports 1×): when it disagrees with CSS × DPR by more than a pixel, CSS × DPR wins.
 */
export function backingSize(cssW: number, cssH: number, dpr: number,
  devicePx?: { width: number; height: number }): { width: number; height: number } {
  const w = Math.max(1, Math.round(cssW * dpr));
  const h = Math.max(1, Math.round(cssH * dpr));
  if (devicePx !== undefined && Math.abs(devicePx.width - w) <= 1 && Math.abs(devicePx.height - h) <= 1) {
    return { width: Math.max(1, devicePx.width), height: Math.max(1, devicePx.height) };
  }
  return { width: w, height: h };
}

/** The scale in use, for the toolbar: '1:1', '2×', 'fit 0.62×'. */
export function scaleLabel(mode: ScaleMode, dest: Rect, guestW: number): string {
  if (guestW <= 0 || dest.width <= 0) return '—';
  const f = dest.width / guestW;
  if (mode === 'fit' && !Number.isInteger(f)) return `fit ${f.toFixed(2)}×`;
  return f === 1 ? '1:1' : `${f}×`;
}
