import { DRM_FORMAT, formatName } from '../kms/Fourcc.ts';

/** RGBA8 output: 4 bytes per pixel, straight (non-premultiplied) alpha. */
export type RgbaBuffer = Uint8Array | Uint8ClampedArray;

/**
 * Converts pixels of one DRM format to RGBA8. Pixels come in *units*: one pixel for packed RGB
 * formats, a pair of pixels sharing chroma (4 bytes) for packed YUV 4:2:2. `srcIndex` is the
 * first byte of the unit holding the first pixel and `phase` that pixel's index inside its unit
 * (0 except for an odd x in YUV), so a span may start and end anywhere.
 *
 * One call converts `rows` spans of `count` pixels, the source stepping `srcPitch` bytes and the
 * destination `dstPitch` bytes between them: a tile's rows (X: 512-byte pitch; Y: a 16-byte OWord
 * column of 32 rows) or a linear rectangle (pitch = stride) in a single call.
 */
export interface PixelConverter {
  readonly fourcc: number;
  readonly name: string;
  readonly unitBytes: number;
  readonly unitPixels: number;
  /** Write `rows` × `count` pixels to `dst`. `src` must hold every byte of those units. */
  convert(src: Uint8Array, srcIndex: number, dst: RgbaBuffer, dstIndex: number, count: number,
    phase: number, rows?: number, srcPitch?: number, dstPitch?: number): void;
}

/** An error value (not an exception): the render loop reports it and carries on. */
export interface DecodeError {
  readonly error: 'unsupported-format' | 'bad-palette' | 'short-buffer';
  readonly fourcc: number;
  readonly message: string;
}

export function isDecodeError(v: PixelConverter | DecodeError): v is DecodeError {
  return (v as DecodeError).error !== undefined;
}

export interface ConverterOptions {
  /** C8 colour map: 256 entries of 0xRRGGBB (alpha 255). Missing entries are black. */
  readonly palette?: ArrayLike<number>;
  /**
   * Treat alpha formats as their X twin (alpha 255). For a primary plane that is the bottom of
   * the stack, where scanout hardware ignores per-pixel alpha.
   */
  readonly ignoreAlpha?: boolean;
}

/** The default C8 palette: a grey ramp, entry i = (i, i, i). */
export function greyRamp(): Uint32Array {
  const p = new Uint32Array(256);
  for (let i = 0; i < 256; i++) p[i] = (i << 16) | (i << 8) | i;
  return p;
}

type Factory = (opts: ConverterOptions) => PixelConverter | DecodeError;

// One converter per format, keyed by fourcc (noVNC-style decoder table). Byte positions below are
// the little-endian byte order of the packed pixel word given in kms/Fourcc.ts.

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** 32-bit views of the last byte arrays seen (null when unaligned), to move whole pixels. */
class WordViews {
  private _src: Uint8Array | undefined;
  private _src32: Uint32Array | null = null;
  private _dst: RgbaBuffer | undefined;
  private _dst32: Uint32Array | null = null;

  public src(a: Uint8Array): Uint32Array | null {
    if (a !== this._src) {
      this._src = a;
      this._src32 = (a.byteOffset & 3) === 0 ? new Uint32Array(a.buffer, a.byteOffset, a.length >>> 2) : null;
    }
    return this._src32;
  }

  public dst(a: RgbaBuffer): Uint32Array | null {
    if (a !== this._dst) {
      this._dst = a;
      this._dst32 = (a.byteOffset & 3) === 0 ? new Uint32Array(a.buffer, a.byteOffset, a.length >>> 2) : null;
    }
    return this._dst32;
  }
}

/** Word shuffles of the 8888 formats (one loop each, so no call per pixel and no shared call site). */
const enum Swizzle { XRGB, ARGB, XBGR, ABGR, RGBX, BGRX }

/**
 * Aligned rows of 8888 pixels, one 32-bit word each: little-endian source word → RGBA word
 * (R | G << 8 | B << 16 | A << 24). Indices and pitches are in words.
 */
function words8888(mode: Swizzle, s32: Uint32Array, s: number, sp: number, d32: Uint32Array, d: number,
  dp: number, count: number, rows: number): void {
  for (let r = 0; r < rows; r++, s += sp, d += dp) {
    switch (mode) {
      case Swizzle.XRGB:
        for (let i = 0; i < count; i++) {
          const w = s32[s + i]!;
          d32[d + i] = ((w >>> 16) & 0xff) | (w & 0xff00) | ((w & 0xff) << 16) | 0xff000000;
        }
        break;
      case Swizzle.ARGB:
        for (let i = 0; i < count; i++) {
          const w = s32[s + i]!;
          d32[d + i] = ((w >>> 16) & 0xff) | (w & 0xff00ff00) | ((w & 0xff) << 16);
        }
        break;
      case Swizzle.XBGR:
        for (let i = 0; i < count; i++) d32[d + i] = s32[s + i]! | 0xff000000;
        break;
      case Swizzle.ABGR:
        // Already RGBA in memory: a straight word copy into the output.
        if (count >= 64) d32.set(s32.subarray(s, s + count), d);
        else for (let i = 0; i < count; i++) d32[d + i] = s32[s + i]!;
        break;
      case Swizzle.RGBX:
        for (let i = 0; i < count; i++) {
          const w = s32[s + i]!;
          d32[d + i] = (w >>> 24) | ((w >>> 8) & 0xff00) | ((w << 8) & 0xff0000) | 0xff000000;
        }
        break;
      case Swizzle.BGRX:
        for (let i = 0; i < count; i++) d32[d + i] = (s32[s + i]! >>> 8) | 0xff000000;
        break;
    }
  }
}

/**
 * 32-bit formats with 8-bit channels: byte indices of R, G, B and A (-1: opaque) for the byte
 * path, `mode` for the word path. Aligned spans (the normal case) move one word per pixel;
 * unaligned ones (odd chunk offsets or strides) go byte by byte.
 */
function bytes8888(fourcc: number, mode: Swizzle, ri: number, gi: number, bi: number,
  ai: number): PixelConverter {
  const views = new WordViews();
  return {
    fourcc, name: formatName(fourcc), unitBytes: 4, unitPixels: 1,
    convert(src, si, dst, di, count, _phase, rows = 1, sp = 0, dp = 0) {
      const s32 = LITTLE_ENDIAN && ((si | sp) & 3) === 0 ? views.src(src) : null;
      const d32 = s32 !== null && ((di | dp) & 3) === 0 ? views.dst(dst) : null;
      if (s32 !== null && d32 !== null) {
        words8888(mode, s32, si >>> 2, sp >>> 2, d32, di >>> 2, dp >>> 2, count, rows);
        return;
      }
      for (let r = 0; r < rows; r++, si += sp, di += dp) {
        for (let s = si, d = di, end = di + count * 4; d < end; d += 4, s += 4) {
          dst[d] = src[s + ri]!;
          dst[d + 1] = src[s + gi]!;
          dst[d + 2] = src[s + bi]!;
          dst[d + 3] = ai < 0 ? 255 : src[s + ai]!;
        }
      }
    },
  };
}

const rgb565: PixelConverter = {
  fourcc: DRM_FORMAT.RGB565, name: 'RGB565', unitBytes: 2, unitPixels: 1,
  convert(src, si, dst, di, count, _phase, rows = 1, sp = 0, dp = 0) {
    for (let row = 0; row < rows; row++, si += sp, di += dp) {
      for (let s = si, d = di, end = di + count * 4; d < end; d += 4, s += 2) {
        const w = src[s]! | (src[s + 1]! << 8);
        const r = w >>> 11;
        const g = (w >>> 5) & 63;
        const b = w & 31;
        // Replicate the top bits so 0 → 0 and full scale → 255.
        dst[d] = (r << 3) | (r >>> 2);
        dst[d + 1] = (g << 2) | (g >>> 4);
        dst[d + 2] = (b << 3) | (b >>> 2);
        dst[d + 3] = 255;
      }
    }
  },
};

/** 2:10:10:10 with X in the top bits; `rShift`/`bShift` pick RGB or BGR order. 10 → 8 bits. */
function x2101010(fourcc: number, rShift: number, bShift: number): PixelConverter {
  return {
    fourcc, name: formatName(fourcc), unitBytes: 4, unitPixels: 1,
    convert(src, si, dst, di, count, _phase, rows = 1, sp = 0, dp = 0) {
      for (let r = 0; r < rows; r++, si += sp, di += dp) {
        for (let s = si, d = di, end = di + count * 4; d < end; d += 4, s += 4) {
          const w = src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16) | (src[s + 3]! << 24);
          dst[d] = (w >>> (rShift + 2)) & 255;
          dst[d + 1] = (w >>> 12) & 255;
          dst[d + 2] = (w >>> (bShift + 2)) & 255;
          dst[d + 3] = 255;
        }
      }
    },
  };
}

function c8(palette: ArrayLike<number>): PixelConverter {
  // RGBA bytes per entry, so a pixel is four table reads.
  const lut = new Uint8Array(1024);
  for (let i = 0; i < 256; i++) {
    const v = i < palette.length ? palette[i]! : 0;
    lut[i * 4] = (v >>> 16) & 255;
    lut[i * 4 + 1] = (v >>> 8) & 255;
    lut[i * 4 + 2] = v & 255;
    lut[i * 4 + 3] = 255;
  }
  return {
    fourcc: DRM_FORMAT.C8, name: 'C8', unitBytes: 1, unitPixels: 1,
    convert(src, si, dst, di, count, _phase, rows = 1, sp = 0, dp = 0) {
      for (let r = 0; r < rows; r++, si += sp, di += dp) {
        for (let s = si, d = di, end = di + count * 4; d < end; d += 4, s++) {
          const e = src[s]! << 2;
          dst[d] = lut[e]!;
          dst[d + 1] = lut[e + 1]!;
          dst[d + 2] = lut[e + 2]!;
          dst[d + 3] = 255;
        }
      }
    },
  };
}

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/**
 * Packed YUV 4:2:2, BT.601 limited range (Y 16..235, Cb/Cr 16..240), in 8.8 fixed point:
 * R = 1.164(Y-16) + 1.596(Cr-128), G = 1.164(Y-16) - 0.391(Cb-128) - 0.813(Cr-128),
 * B = 1.164(Y-16) + 2.018(Cb-128). Byte indices of Y0, Cb, Y1, Cr inside the 4-byte unit.
 */
function yuv422(fourcc: number, y0: number, u: number, y1: number, v: number): PixelConverter {
  return {
    fourcc, name: formatName(fourcc), unitBytes: 4, unitPixels: 2,
    convert(src, si, dst, di, count, phase, rows = 1, sp = 0, dp = 0) {
      for (let r = 0; r < rows; r++, si += sp, di += dp) {
        let p = phase;
        for (let s = si, d = di, end = di + count * 4; d < end; d += 4) {
          const cb = src[s + u]! - 128;
          const cr = src[s + v]! - 128;
          const c = 298 * ((p === 0 ? src[s + y0]! : src[s + y1]!) - 16) + 128;
          dst[d] = clamp8((c + 409 * cr) >> 8);
          dst[d + 1] = clamp8((c - 100 * cb - 208 * cr) >> 8);
          dst[d + 2] = clamp8((c + 516 * cb) >> 8);
          dst[d + 3] = 255;
          if (p === 1) {
            p = 0;
            s += 4;
          } else {
            p = 1;
          }
        }
      }
    },
  };
}

const fixed = (c: PixelConverter): Factory => () => c;

const XRGB8888 = bytes8888(DRM_FORMAT.XRGB8888, Swizzle.XRGB, 2, 1, 0, -1);
const XBGR8888 = bytes8888(DRM_FORMAT.XBGR8888, Swizzle.XBGR, 0, 1, 2, -1);

const FACTORIES = new Map<number, Factory>([
  [DRM_FORMAT.XRGB8888, fixed(XRGB8888)],
  [DRM_FORMAT.ARGB8888, (o) => (o.ignoreAlpha ? { ...XRGB8888, fourcc: DRM_FORMAT.ARGB8888, name: 'ARGB8888' }
    : bytes8888(DRM_FORMAT.ARGB8888, Swizzle.ARGB, 2, 1, 0, 3))],
  [DRM_FORMAT.XBGR8888, fixed(XBGR8888)],
  [DRM_FORMAT.ABGR8888, (o) => (o.ignoreAlpha ? { ...XBGR8888, fourcc: DRM_FORMAT.ABGR8888, name: 'ABGR8888' }
    : bytes8888(DRM_FORMAT.ABGR8888, Swizzle.ABGR, 0, 1, 2, 3))],
  [DRM_FORMAT.RGBX8888, fixed(bytes8888(DRM_FORMAT.RGBX8888, Swizzle.RGBX, 3, 2, 1, -1))],
  [DRM_FORMAT.BGRX8888, fixed(bytes8888(DRM_FORMAT.BGRX8888, Swizzle.BGRX, 1, 2, 3, -1))],
  [DRM_FORMAT.RGB565, fixed(rgb565)],
  [DRM_FORMAT.XRGB2101010, fixed(x2101010(DRM_FORMAT.XRGB2101010, 20, 0))],
  [DRM_FORMAT.XBGR2101010, fixed(x2101010(DRM_FORMAT.XBGR2101010, 0, 20))],
  [DRM_FORMAT.C8, (o) => {
    if (o.palette === undefined) return C8_GREY;
    if (typeof o.palette.length !== 'number') {
      return { error: 'bad-palette', fourcc: DRM_FORMAT.C8, message: 'C8 palette is not an array' };
    }
    return c8(o.palette);
  }],
  [DRM_FORMAT.YUYV, fixed(yuv422(DRM_FORMAT.YUYV, 0, 1, 2, 3))],
  [DRM_FORMAT.UYVY, fixed(yuv422(DRM_FORMAT.UYVY, 1, 0, 3, 2))],
  [DRM_FORMAT.YVYU, fixed(yuv422(DRM_FORMAT.YVYU, 0, 3, 2, 1))],
  [DRM_FORMAT.VYUY, fixed(yuv422(DRM_FORMAT.VYUY, 1, 2, 3, 0))],
]);

const C8_GREY = c8(greyRamp());

/** Fourcc codes that have a converter. */
export const DECODABLE_FORMATS: readonly number[] = [...FACTORIES.keys()];

/** The converter for `fourcc`, or an error value for a format we cannot decode. Never throws. */
export function getConverter(fourcc: number, options: ConverterOptions = {}): PixelConverter | DecodeError {
  const f = FACTORIES.get(fourcc >>> 0);
  if (f === undefined) {
    return {
      error: 'unsupported-format', fourcc: fourcc >>> 0,
      message: `no converter for pixel format ${formatName(fourcc)}`,
    };
  }
  return f(options);
}

/**
 * Convert `count` pixels packed contiguously in `src` from pixel 0 (a convenience for tests and
 * one-off conversions; renderers call the converter per span). Returns the error value or null.
 */
export function decodePixels(fourcc: number, src: Uint8Array, dst: RgbaBuffer, count: number,
  options?: ConverterOptions): DecodeError | null {
  const c = getConverter(fourcc, options);
  if (isDecodeError(c)) return c;
  const need = Math.ceil(count / c.unitPixels) * c.unitBytes;
  if (src.length < need || dst.length < count * 4) {
    return { error: 'short-buffer', fourcc, message: `buffers too small for ${count} pixels` };
  }
  c.convert(src, 0, dst, 0, count, 0);
  return null;
}
