import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  SERVER_PIXEL_FORMAT, checkPixelFormat, decodePixelFormat, encodePixelFormat, samePixelFormat,
  type PixelFormat,
} from './PixelFormat.ts';
import { PixelPacker } from './PixelPacker.ts';

/** Every true-colour format a real client asks for, and the channel layouts around them. */
function legalFormats(): PixelFormat[] {
  const out: PixelFormat[] = [];
  const layouts: Array<[number, number, number[], number[]]> = [
    // bpp, depth, [rMax,gMax,bMax], [rShift,gShift,bShift]
    [32, 24, [255, 255, 255], [16, 8, 0]], // QEMU / TigerVNC
    [32, 24, [255, 255, 255], [0, 8, 16]], // noVNC, libvncclient
    [32, 24, [255, 255, 255], [24, 16, 8]], // high three bytes
    [32, 30, [1023, 1023, 1023], [20, 10, 0]],
    [16, 16, [31, 63, 31], [11, 5, 0]], // RGB565
    [16, 15, [31, 31, 31], [10, 5, 0]], // RGB555
    [16, 12, [15, 15, 15], [8, 4, 0]],
    [8, 8, [7, 7, 3], [0, 3, 6]], // BGR233 (TigerVNC low colour)
    [8, 6, [3, 3, 3], [4, 2, 0]],
    [8, 3, [1, 1, 1], [2, 1, 0]],
  ];
  for (const [bpp, depth, max, shift] of layouts) {
    for (const bigEndian of [false, true]) {
      out.push({
        bitsPerPixel: bpp, depth, bigEndian, trueColour: true,
        redMax: max[0]!, greenMax: max[1]!, blueMax: max[2]!,
        redShift: shift[0]!, greenShift: shift[1]!, blueShift: shift[2]!,
      });
    }
  }
  return out;
}

describe('PixelFormat', () => {
  it('round-trips the 16-byte wire form of every legal format', () => {
    for (const pf of legalFormats()) {
      assert.equal(checkPixelFormat(pf), undefined, JSON.stringify(pf));
      const wire = encodePixelFormat(pf);
      assert.equal(wire.length, 16);
      assert.ok(samePixelFormat(decodePixelFormat(wire), pf), 'decode(encode(pf)) = pf');
    }
  });

  it('announces QEMU\'s server format bytes', () => {
    assert.deepEqual([...encodePixelFormat(SERVER_PIXEL_FORMAT)],
      [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
  });

  it('refuses illegal formats with a reason', () => {
    const base = SERVER_PIXEL_FORMAT;
    const cases: Array<[Partial<PixelFormat>, RegExp]> = [
      [{ bitsPerPixel: 24 }, /bits-per-pixel 24/],
      [{ bitsPerPixel: 0 }, /bits-per-pixel 0/],
      [{ trueColour: false }, /colour-map/],
      [{ depth: 0 }, /depth 0/],
      [{ depth: 33 }, /depth 33/],
      [{ redMax: 254 }, /red-max 254/],
      [{ greenMax: 0 }, /green-max 0/],
      [{ blueShift: 30 }, /blue channel .* does not fit/],
      [{ redShift: 8 }, /overlaps/],
      [{ bitsPerPixel: 16, depth: 16 }, /does not fit in 16 bits/],
    ];
    for (const [patch, why] of cases) {
      const reason = checkPixelFormat({ ...base, ...patch });
      assert.ok(reason !== undefined && why.test(reason), `${JSON.stringify(patch)} → ${reason}`);
    }
  });
});

describe('PixelPacker', () => {
  it('packs RGB into every legal format, in both byte orders', () => {
    const rgba = new Uint8Array([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 10, 200, 77, 0]);
    for (const pf of legalFormats()) {
      const p = new PixelPacker(pf);
      const out = new Uint8Array(4 * p.bytesPerPixel + 8);
      const end = p.packRect(rgba, 0, 16, 4, 1, out, 1);
      assert.equal(end, 1 + 4 * p.bytesPerPixel);
      for (let k = 0; k < 4; k++) {
        // Read back the pixel in the client's byte order and split the channels.
        let v = 0;
        for (let j = 0; j < p.bytesPerPixel; j++) {
          const byte = out[1 + k * p.bytesPerPixel + j]!;
          v = pf.bigEndian ? v * 256 + byte : v + byte * 2 ** (8 * j);
        }
        const r = Math.floor(v / 2 ** pf.redShift) % (pf.redMax + 1);
        const g = Math.floor(v / 2 ** pf.greenShift) % (pf.greenMax + 1);
        const b = Math.floor(v / 2 ** pf.blueShift) % (pf.blueMax + 1);
        const want = [rgba[4 * k]!, rgba[4 * k + 1]!, rgba[4 * k + 2]!];
        assert.deepEqual([r, g, b], [
          Math.round((want[0]! * pf.redMax) / 255), Math.round((want[1]! * pf.greenMax) / 255),
          Math.round((want[2]! * pf.blueMax) / 255),
        ], `${JSON.stringify(pf)} pixel ${k}`);
      }
    }
  });

  it('uses 3-byte compact pixels exactly when the colour fits in three bytes of a 32 bpp depth ≤ 24 format', () => {
    const sizes = legalFormats().map((pf) => [pf, new PixelPacker(pf).compactBytes] as const);
    for (const [pf, cp] of sizes) {
      const fits = pf.bitsPerPixel === 32 && pf.depth <= 24;
      assert.equal(cp, fits ? 3 : pf.bitsPerPixel / 8, JSON.stringify(pf));
    }
    // noVNC's R0 G8 B16 little-endian: wire bytes R, G, B.
    const p = new PixelPacker({ ...SERVER_PIXEL_FORMAT, redShift: 0, blueShift: 16 });
    const out = new Uint8Array(3);
    p.put(p.value(1, 2, 3), out, 0, 3);
    assert.deepEqual([...out], [1, 2, 3]);
    // High three bytes, big-endian: R at 24, G at 16, B at 8 → R, G, B.
    const hi = new PixelPacker({ ...SERVER_PIXEL_FORMAT, bigEndian: true, redShift: 24, greenShift: 16, blueShift: 8 });
    hi.put(hi.value(1, 2, 3), out, 0, 3);
    assert.deepEqual([...out], [1, 2, 3]);
  });
});
