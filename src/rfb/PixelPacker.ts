import type { PixelFormat } from './PixelFormat.ts';

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The one place where RGBA8 pixels (the software renderer's output) become a client's pixel
 * format: per-channel lookup tables built once per SetPixelFormat, then one OR per pixel.
 *
 * `bytesPerPixel` is the full PIXEL size; `compactBytes` the CPIXEL size ZRLE uses (and the TPIXEL
 * size of Tight): 3 when the format is true-colour 32 bpp, depth <= 24 and every channel fits in
 * the low (or high) three bytes, else the full size (RFC 6143 §7.7.6).
 */
export class PixelPacker {
  public readonly format: PixelFormat;
  public readonly bytesPerPixel: number;
  public readonly compactBytes: number;
  private readonly _r = new Uint32Array(256);
  private readonly _g = new Uint32Array(256);
  private readonly _b = new Uint32Array(256);
  /** Byte index (little-endian numbering) of the first byte kept in a compact pixel. */
  private readonly _compactFrom: number;

  public constructor(format: PixelFormat) {
    this.format = format;
    this.bytesPerPixel = format.bitsPerPixel >> 3;
    const fill = (lut: Uint32Array, max: number, shift: number): void => {
      for (let v = 0; v < 256; v++) lut[v] = (Math.round((v * max) / 255) * 2 ** shift) >>> 0;
    };
    fill(this._r, format.redMax, format.redShift);
    fill(this._g, format.greenMax, format.greenShift);
    fill(this._b, format.blueMax, format.blueShift);
    const top = Math.max(...[
      [format.redMax, format.redShift], [format.greenMax, format.greenShift], [format.blueMax, format.blueShift],
    ].map(([m, s]) => (m! * 2 ** s!)));
    const low = Math.min(format.redShift, format.greenShift, format.blueShift);
    if (format.trueColour && format.bitsPerPixel === 32 && format.depth <= 24 && top < 2 ** 24) {
      this.compactBytes = 3;
      this._compactFrom = 0;
    } else if (format.trueColour && format.bitsPerPixel === 32 && format.depth <= 24 && low >= 8) {
      this.compactBytes = 3;
      this._compactFrom = 1;
    } else {
      this.compactBytes = this.bytesPerPixel;
      this._compactFrom = 0;
    }
  }

  /** The client pixel value of one RGB colour. */
  public value(r: number, g: number, b: number): number {
    return (this._r[r & 255]! | this._g[g & 255]! | this._b[b & 255]!) >>> 0;
  }

  /** The pixel value of RGBA8 bytes at `i` (alpha ignored). */
  public valueAt(rgba: Uint8Array | Uint8ClampedArray, i: number): number {
    return (this._r[rgba[i]!]! | this._g[rgba[i + 1]!]! | this._b[rgba[i + 2]!]!) >>> 0;
  }

  /** Write one pixel value as `size` bytes (bytesPerPixel or compactBytes) at out[at]. Returns at + size. */
  public put(value: number, out: Uint8Array, at: number, size: number): number {
    const be = this.format.bigEndian;
    if (size === 3) {
      // Little-endian byte numbering of the kept bytes, emitted in the client's byte order.
      const b0 = (value >>> (8 * this._compactFrom)) & 255;
      const b1 = (value >>> (8 * (this._compactFrom + 1))) & 255;
      const b2 = (value >>> (8 * (this._compactFrom + 2))) & 255;
      if (be) { out[at] = b2; out[at + 1] = b1; out[at + 2] = b0; } else { out[at] = b0; out[at + 1] = b1; out[at + 2] = b2; }
      return at + 3;
    }
    if (size === 4) {
      if (be) {
        out[at] = value >>> 24; out[at + 1] = (value >>> 16) & 255; out[at + 2] = (value >>> 8) & 255; out[at + 3] = value & 255;
      } else {
        out[at] = value & 255; out[at + 1] = (value >>> 8) & 255; out[at + 2] = (value >>> 16) & 255; out[at + 3] = value >>> 24;
      }
      return at + 4;
    }
    if (size === 2) {
      if (be) { out[at] = (value >>> 8) & 255; out[at + 1] = value & 255; } else { out[at] = value & 255; out[at + 1] = (value >>> 8) & 255; }
      return at + 2;
    }
    out[at] = value & 255;
    return at + 1;
  }

  /**
   * Convert a w×h rectangle of RGBA8 (`src` from `srcIndex`, `srcStride` bytes per row) into
   * `out` at `at`, `size` bytes per pixel. Returns the index after the last byte written.
   */
  public packRect(src: Uint8Array | Uint8ClampedArray, srcIndex: number, srcStride: number, w: number, h: number,
    out: Uint8Array, at: number, size = this.bytesPerPixel): number {
    const r = this._r, g = this._g, b = this._b;
    const fast32le = HOST_LITTLE_ENDIAN && size === 4 && !this.format.bigEndian && (at & 3) === 0 && ((out.byteOffset + at) & 3) === 0;
    if (fast32le) {
      const words = new Uint32Array(out.buffer, out.byteOffset + at, w * h);
      let k = 0;
      for (let y = 0; y < h; y++) {
        let i = srcIndex + y * srcStride;
        for (let x = 0; x < w; x++, i += 4) words[k++] = r[src[i]!]! | g[src[i + 1]!]! | b[src[i + 2]!]!;
      }
      return at + 4 * w * h;
    }
    for (let y = 0; y < h; y++) {
      let i = srcIndex + y * srcStride;
      for (let x = 0; x < w; x++, i += 4) at = this.put((r[src[i]!]! | g[src[i + 1]!]! | b[src[i + 2]!]!) >>> 0, out, at, size);
    }
    return at;
  }
}
