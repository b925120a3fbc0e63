/**
 * DRM fourcc pixel formats (include/uapi/drm/drm_fourcc.h). All are little-endian packed: the
 * channel layout below is the bit position inside one little-endian pixel word.
 */
export function fourcc(a: string, b: string, c: string, d: string): number {
  return (a.charCodeAt(0) | (b.charCodeAt(0) << 8) | (c.charCodeAt(0) << 16) | (d.charCodeAt(0) << 24)) >>> 0;
}

/** A channel: `shift` and `bits` within the pixel word. */
export interface Channel { readonly shift: number; readonly bits: number }

export interface FormatInfo {
  readonly fourcc: number;
  readonly name: string;
  /** Bits per pixel (the whole packed pixel). */
  readonly bpp: number;
  /** Bytes per pixel. */
  readonly cpp: number;
  readonly r?: Channel;
  readonly g?: Channel;
  readonly b?: Channel;
  /** Present only when the alpha channel is meaningful (A formats, not X formats). */
  readonly a?: Channel;
  /** Palette-indexed (C8): one byte per pixel indexes a colour map. */
  readonly indexed?: boolean;
  /** Packed YUV 4:2:2: two pixels per 32-bit word; `yuvOrder` names the byte order. */
  readonly yuvOrder?: 'YUYV' | 'UYVY' | 'YVYU' | 'VYUY';
}

const ch = (shift: number, bits: number): Channel => ({ shift, bits });

export const DRM_FORMAT = {
  XRGB8888: fourcc('X', 'R', '2', '4'),
  ARGB8888: fourcc('A', 'R', '2', '4'),
  XBGR8888: fourcc('X', 'B', '2', '4'),
  ABGR8888: fourcc('A', 'B', '2', '4'),
  RGBX8888: fourcc('R', 'X', '2', '4'),
  BGRX8888: fourcc('B', 'X', '2', '4'),
  RGB565: fourcc('R', 'G', '1', '6'),
  XRGB2101010: fourcc('X', 'R', '3', '0'),
  XBGR2101010: fourcc('X', 'B', '3', '0'),
  C8: fourcc('C', '8', ' ', ' '),
  YUYV: fourcc('Y', 'U', 'Y', 'V'),
  UYVY: fourcc('U', 'Y', 'V', 'Y'),
  YVYU: fourcc('Y', 'V', 'Y', 'U'),
  VYUY: fourcc('V', 'Y', 'U', 'Y'),
  INVALID: 0,
} as const;

const TABLE: FormatInfo[] = [
  { fourcc: DRM_FORMAT.XRGB8888, name: 'XRGB8888', bpp: 32, cpp: 4, r: ch(16, 8), g: ch(8, 8), b: ch(0, 8) },
  { fourcc: DRM_FORMAT.ARGB8888, name: 'ARGB8888', bpp: 32, cpp: 4, r: ch(16, 8), g: ch(8, 8), b: ch(0, 8), a: ch(24, 8) },
  { fourcc: DRM_FORMAT.XBGR8888, name: 'XBGR8888', bpp: 32, cpp: 4, r: ch(0, 8), g: ch(8, 8), b: ch(16, 8) },
  { fourcc: DRM_FORMAT.ABGR8888, name: 'ABGR8888', bpp: 32, cpp: 4, r: ch(0, 8), g: ch(8, 8), b: ch(16, 8), a: ch(24, 8) },
  { fourcc: DRM_FORMAT.RGBX8888, name: 'RGBX8888', bpp: 32, cpp: 4, r: ch(24, 8), g: ch(16, 8), b: ch(8, 8) },
  { fourcc: DRM_FORMAT.BGRX8888, name: 'BGRX8888', bpp: 32, cpp: 4, r: ch(8, 8), g: ch(16, 8), b: ch(24, 8) },
  { fourcc: DRM_FORMAT.RGB565, name: 'RGB565', bpp: 16, cpp: 2, r: ch(11, 5), g: ch(5, 6), b: ch(0, 5) },
  { fourcc: DRM_FORMAT.XRGB2101010, name: 'XRGB2101010', bpp: 32, cpp: 4, r: ch(20, 10), g: ch(10, 10), b: ch(0, 10) },
  { fourcc: DRM_FORMAT.XBGR2101010, name: 'XBGR2101010', bpp: 32, cpp: 4, r: ch(0, 10), g: ch(10, 10), b: ch(20, 10) },
  { fourcc: DRM_FORMAT.C8, name: 'C8', bpp: 8, cpp: 1, indexed: true },
  { fourcc: DRM_FORMAT.YUYV, name: 'YUYV', bpp: 16, cpp: 2, yuvOrder: 'YUYV' },
  { fourcc: DRM_FORMAT.UYVY, name: 'UYVY', bpp: 16, cpp: 2, yuvOrder: 'UYVY' },
  { fourcc: DRM_FORMAT.YVYU, name: 'YVYU', bpp: 16, cpp: 2, yuvOrder: 'YVYU' },
  { fourcc: DRM_FORMAT.VYUY, name: 'VYUY', bpp: 16, cpp: 2, yuvOrder: 'VYUY' },
];

const BY_CODE = new Map<number, FormatInfo>(TABLE.map((f) => [f.fourcc, f]));
const BY_NAME = new Map<string, FormatInfo>(TABLE.map((f) => [f.name.toLowerCase(), f]));

/** Every format this code base knows, in table order. */
export const FORMATS: readonly FormatInfo[] = TABLE;

export function formatInfo(code: number): FormatInfo | undefined {
  return BY_CODE.get(code >>> 0);
}

export function formatByName(name: string): FormatInfo | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** `0x34325258` → `'XRGB8888'`; unknown codes print as their four characters and hex. */
export function formatName(code: number): string {
  const f = BY_CODE.get(code >>> 0);
  if (f) return f.name;
  if (code === 0) return 'none';
  const s = String.fromCharCode(code & 0xff, (code >>> 8) & 0xff, (code >>> 16) & 0xff, (code >>> 24) & 0xff);
  return `'${s}'(0x${(code >>> 0).toString(16)})`;
}
