import { decode, encode } from 'fast-png';

/** RGBA8 pixels, straight alpha, row-major, `width * height * 4` bytes. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

/** Encode an RGBA8 frame as PNG (8-bit RGBA). Throws RangeError when the sizes disagree. */
export function encodePng(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`bad PNG size ${width}x${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`RGBA data is ${rgba.length} bytes, ${width}x${height} needs ${width * height * 4}`);
  }
  return encode({ width, height, data: rgba, channels: 4, depth: 8 });
}

/**
 * Decode any PNG into RGBA8 (grey, grey+alpha, RGB, palette and 16-bit inputs are widened or
 * narrowed), so tests compare pixels, not file bytes. Throws on a malformed file.
 */
export function decodePng(png: Uint8Array): RgbaImage {
  const img = decode(png);
  const { width, height, channels, depth } = img;
  const n = width * height;
  const out = new Uint8Array(n * 4);
  if (img.palette !== undefined) {
    if (depth !== 8) throw new RangeError(`indexed PNG of depth ${depth} is not supported`);
    const idx = img.data;
    const alpha = img.transparency;
    for (let i = 0; i < n; i++) {
      const e = img.palette[idx[i]!] ?? [0, 0, 0];
      out[i * 4] = e[0]!;
      out[i * 4 + 1] = e[1]!;
      out[i * 4 + 2] = e[2]!;
      out[i * 4 + 3] = e[3] ?? (alpha !== undefined && idx[i]! < alpha.length ? alpha[idx[i]!]! : 255);
    }
    return { width, height, rgba: out };
  }
  if (depth !== 8 && depth !== 16) throw new RangeError(`PNG depth ${depth} is not supported`);
  const data = img.data;
  // 16-bit samples keep their top byte.
  const sample = depth === 16 ? (i: number): number => data[i]! >>> 8 : (i: number): number => data[i]!;
  for (let i = 0; i < n; i++) {
    const s = i * channels;
    const o = i * 4;
    if (channels >= 3) {
      out[o] = sample(s);
      out[o + 1] = sample(s + 1);
      out[o + 2] = sample(s + 2);
      out[o + 3] = channels === 4 ? sample(s + 3) : 255;
    } else {
      const g = sample(s);
      out[o] = g;
      out[o + 1] = g;
      out[o + 2] = g;
      out[o + 3] = channels === 2 ? sample(s + 1) : 255;
    }
  }
  return { width, height, rgba: out };
}
