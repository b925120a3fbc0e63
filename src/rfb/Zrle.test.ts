import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeZrleTiles } from '../testkit/ZrleDecoder.ts';
import { SERVER_PIXEL_FORMAT, type PixelFormat } from './PixelFormat.ts';
import { PixelPacker } from './PixelPacker.ts';
import { ByteSink, ZrleEncoder } from './Zrle.ts';

function expected(p: PixelPacker, rgba: Uint8Array, stride: number, x0: number, y0: number, w: number, h: number): Uint32Array {
  const out = new Uint32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = p.valueAt(rgba, (y0 + y) * stride + (x0 + x) * 4);
  return out;
}

function compactValue(p: PixelPacker, v: Uint32Array): Uint32Array {
  // The decoder reads the kept bytes only: a compact pixel is the value shifted to its kept bytes.
  if (p.compactBytes !== 3) return v;
  const pf = p.format;
  const low = Math.min(pf.redShift, pf.greenShift, pf.blueShift);
  const top = Math.max(pf.redMax * 2 ** pf.redShift, pf.greenMax * 2 ** pf.greenShift, pf.blueMax * 2 ** pf.blueShift);
  const shift = top < 2 ** 24 ? 0 : low >= 8 ? 8 : 0;
  return v.map((x) => x >>> shift);
}

function roundTrip(pf: PixelFormat, rgba: Uint8Array, width: number, x: number, y: number, w: number, h: number): number {
  const p = new PixelPacker(pf);
  const sink = new ByteSink(16);
  new ZrleEncoder().encode(p, rgba, (y * width + x) * 4, width * 4, w, h, sink);
  const got = decodeZrleTiles(sink.view(), w, h, p.compactBytes, pf.bigEndian);
  assert.deepEqual(got, compactValue(p, expected(p, rgba, width * 4, x, y, w, h)));
  return sink.length;
}

describe('ZRLE encoder', () => {
  it('encodes solid, few-colour, run-heavy and noisy tiles that an independent decoder reads back', () => {
    const W = 150, H = 70;
    const rgba = new Uint8Array(W * H * 4);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = (y * W + x) * 4;
        if (x < 64) rgba.set([20, 40, 60, 255], i); // solid tile
        else if (x < 128) rgba.set(((x >> 2) + y) & 1 ? [255, 255, 255, 255] : [0, 0, 0, 255], i); // 2 colours
        else rgba.set([(x * 37 + y * 11) & 255, (x * y) & 255, (x ^ y) & 255, 255], i); // noise
      }
    }
    const size = roundTrip(SERVER_PIXEL_FORMAT, rgba, W, 0, 0, W, H);
    assert.ok(size < W * H * 3, `${size} bytes: smaller than raw compact pixels`);
    // A solid tile is 1 + 3 bytes.
    assert.equal(roundTrip(SERVER_PIXEL_FORMAT, rgba, W, 0, 0, 64, 64), 4);
  });

  it('round-trips random rectangles in random pixel formats (property)', () => {
    const formats: PixelFormat[] = [
      SERVER_PIXEL_FORMAT,
      { ...SERVER_PIXEL_FORMAT, redShift: 0, blueShift: 16 },
      { ...SERVER_PIXEL_FORMAT, bigEndian: true },
      { ...SERVER_PIXEL_FORMAT, bigEndian: true, redShift: 24, greenShift: 16, blueShift: 8 },
      { bitsPerPixel: 16, depth: 16, bigEndian: false, trueColour: true, redMax: 31, greenMax: 63, blueMax: 31, redShift: 11, greenShift: 5, blueShift: 0 },
      { bitsPerPixel: 16, depth: 16, bigEndian: true, trueColour: true, redMax: 31, greenMax: 63, blueMax: 31, redShift: 11, greenShift: 5, blueShift: 0 },
      { bitsPerPixel: 8, depth: 8, bigEndian: false, trueColour: true, redMax: 7, greenMax: 7, blueMax: 3, redShift: 0, greenShift: 3, blueShift: 6 },
      { bitsPerPixel: 32, depth: 30, bigEndian: false, trueColour: true, redMax: 1023, greenMax: 1023, blueMax: 1023, redShift: 20, greenShift: 10, blueShift: 0 },
    ];
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 140 }), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 200 }),
      fc.integer({ min: 0, max: formats.length - 1 }), fc.integer(),
      (w, h, colours, f, seed) => {
        const rgba = new Uint8Array(w * h * 4);
        let s = seed | 1;
        const rnd = (): number => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return s >>> 0; };
        const palette = Array.from({ length: colours }, () => rnd());
        let run = 0, c = 0;
        for (let i = 0; i < w * h; i++) {
          if (run-- <= 0) { c = palette[rnd() % colours]!; run = rnd() % 40; }
          rgba[4 * i] = c & 255; rgba[4 * i + 1] = (c >>> 8) & 255; rgba[4 * i + 2] = (c >>> 16) & 255; rgba[4 * i + 3] = 255;
        }
        roundTrip(formats[f]!, rgba, w, 0, 0, w, h);
      }), { numRuns: 150 });
  });
});
