/**
 * RFB PIXEL_FORMAT (RFC 6143 §7.4): how a client wants pixels on the wire. Only true-colour
 * formats are served; a colour-map request is refused with a reason (the server never sends
 * SetColourMapEntries).
 */
export interface PixelFormat {
  readonly bitsPerPixel: number;
  readonly depth: number;
  readonly bigEndian: boolean;
  readonly trueColour: boolean;
  readonly redMax: number;
  readonly greenMax: number;
  readonly blueMax: number;
  readonly redShift: number;
  readonly greenShift: number;
  readonly blueShift: number;
}

export const PIXEL_FORMAT_BYTES = 16;

/** What ServerInit announces: 32 bpp, depth 24, little-endian, R at 16, G at 8, B at 0 (as QEMU). */
export const SERVER_PIXEL_FORMAT: PixelFormat = {
  bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true,
  redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0,
};

export function decodePixelFormat(b: Uint8Array, at = 0): PixelFormat {
  const v = new DataView(b.buffer, b.byteOffset + at, PIXEL_FORMAT_BYTES);
  return {
    bitsPerPixel: v.getUint8(0), depth: v.getUint8(1), bigEndian: v.getUint8(2) !== 0,
    trueColour: v.getUint8(3) !== 0,
    redMax: v.getUint16(4), greenMax: v.getUint16(6), blueMax: v.getUint16(8),
    redShift: v.getUint8(10), greenShift: v.getUint8(11), blueShift: v.getUint8(12),
  };
}

export function encodePixelFormat(pf: PixelFormat, out = new Uint8Array(PIXEL_FORMAT_BYTES), at = 0): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset + at, PIXEL_FORMAT_BYTES);
  v.setUint8(0, pf.bitsPerPixel);
  v.setUint8(1, pf.depth);
  v.setUint8(2, pf.bigEndian ? 1 : 0);
  v.setUint8(3, pf.trueColour ? 1 : 0);
  v.setUint16(4, pf.redMax);
  v.setUint16(6, pf.greenMax);
  v.setUint16(8, pf.blueMax);
  v.setUint8(10, pf.redShift);
  v.setUint8(11, pf.greenShift);
  v.setUint8(12, pf.blueShift);
  return out;
}

function channelBits(max: number): number {
  // max must be 2^n - 1 with 1 <= n <= 16.
  for (let n = 1; n <= 16; n++) if (max === (1 << n) - 1) return n;
  return 0;
}

/** Why `pf` cannot be served, or undefined when it can. */
export function checkPixelFormat(pf: PixelFormat): string | undefined {
  const bpp = pf.bitsPerPixel;
  if (bpp !== 8 && bpp !== 16 && bpp !== 32) return `bits-per-pixel ${bpp} is not 8, 16 or 32`;
  if (!pf.trueColour) return 'colour-map pixel formats are not supported (true-colour only)';
  if (pf.depth === 0 || pf.depth > bpp) return `depth ${pf.depth} is not within 1..${bpp}`;
  let used = 0;
  for (const [name, max, shift] of [
    ['red', pf.redMax, pf.redShift], ['green', pf.greenMax, pf.greenShift], ['blue', pf.blueMax, pf.blueShift],
  ] as const) {
    const n = channelBits(max);
    if (n === 0) return `${name}-max ${max} is not 2^n - 1`;
    if (shift + n > bpp) return `${name} channel (${n} bits at ${shift}) does not fit in ${bpp} bits`;
    const mask = (2 ** n - 1) * 2 ** shift;
    if ((used & mask) !== 0) return `${name} channel overlaps another channel`;
    used |= mask;
  }
  return undefined;
}

export function samePixelFormat(a: PixelFormat, b: PixelFormat): boolean {
  return a.bitsPerPixel === b.bitsPerPixel && a.depth === b.depth && a.bigEndian === b.bigEndian
    && a.trueColour === b.trueColour && a.redMax === b.redMax && a.greenMax === b.greenMax
    && a.blueMax === b.blueMax && a.redShift === b.redShift && a.greenShift === b.greenShift
    && a.blueShift === b.blueShift;
}
