import { DRM_FORMAT } from '../kms/Fourcc.ts';

/**
 * pixman format codes (PIXMAN_FORMAT(bpp, type, a, r, g, b) = bpp<<24 | type<<16 | a<<12 | r<<8 |
 * g<<4 | b) that QEMU's D-Bus display sends in Scanout/Update/ScanoutMap, mapped to the DRM
 * fourcc describing the same bytes in memory (both name the bits of a little-endian word).
 */
const PIXMAN_TO_DRM = new Map<number, { drm: number; cpp: number; name: string }>([
  [0x20020888, { drm: DRM_FORMAT.XRGB8888, cpp: 4, name: 'x8r8g8b8' }],
  [0x20028888, { drm: DRM_FORMAT.ARGB8888, cpp: 4, name: 'a8r8g8b8' }],
  [0x20030888, { drm: DRM_FORMAT.XBGR8888, cpp: 4, name: 'x8b8g8r8' }],
  [0x20038888, { drm: DRM_FORMAT.ABGR8888, cpp: 4, name: 'a8b8g8r8' }],
  [0x20080888, { drm: DRM_FORMAT.BGRX8888, cpp: 4, name: 'b8g8r8x8' }],
  [0x20090888, { drm: DRM_FORMAT.RGBX8888, cpp: 4, name: 'r8g8b8x8' }],
  [0x10020565, { drm: DRM_FORMAT.RGB565, cpp: 2, name: 'r5g6b5' }],
]);

export interface PixmanInfo {
  readonly drm: number;
  /** Bytes per pixel. */
  readonly cpp: number;
  readonly name: string;
}

export function pixmanFormat(code: number): PixmanInfo | undefined {
  return PIXMAN_TO_DRM.get(code >>> 0);
}
