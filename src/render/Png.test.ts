import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from 'fast-png';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { decodePng, encodePng } from './Png.ts';
import { contiguousSource } from './PixelSource.ts';
import { SoftwareRenderer } from './SoftwareRenderer.ts';

test('PNG round trip keeps every RGBA pixel, alpha included', () => {
  const w = 37;
  const h = 11;
  const rgba = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i * 89 + (i >> 7)) & 255);
  const png = encodePng(rgba, w, h);
  assert.deepEqual(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10]);
  const back = decodePng(png);
  assert.equal(back.width, w);
  assert.equal(back.height, h);
  assert.deepEqual(back.rgba, rgba);
});

test('a rendered frame survives PNG (Uint8ClampedArray input too)', () => {
  const mem = new Uint8Array(8 * 2 * 4);
  for (let i = 0; i < 16; i++) mem.set([i * 16, 255 - i * 16, i, 0x12], i * 4); // XRGB: B, G, R, X
  const r = new SoftwareRenderer();
  r.setPrimary({ source: contiguousSource(mem), drmFormat: DRM_FORMAT.XRGB8888, modifier: DRM_FORMAT_MOD.LINEAR,
    width: 8, height: 2, stride: 32 });
  r.render();
  const back = decodePng(encodePng(r.clampedFramebuffer, r.width, r.height));
  assert.deepEqual(back.rgba, r.framebuffer);
  assert.deepEqual(Array.from(back.rgba.subarray(12, 16)), [3, 255 - 48, 48, 255]);
});

test('decodePng widens RGB, grey and 16-bit files to RGBA8', () => {
  const rgb = decodePng(encode({ width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]), channels: 3 }));
  assert.deepEqual(Array.from(rgb.rgba), [1, 2, 3, 255, 4, 5, 6, 255]);
  const grey = decodePng(encode({ width: 2, height: 1, data: Uint8Array.from([9, 200]), channels: 1 }));
  assert.deepEqual(Array.from(grey.rgba), [9, 9, 9, 255, 200, 200, 200, 255]);
  const deep = decodePng(encode({ width: 1, height: 1, data: Uint16Array.from([0x1234, 0xff00, 0x0100, 0x8000]),
    channels: 4, depth: 16 }));
  assert.deepEqual(Array.from(deep.rgba), [0x12, 0xff, 0x01, 0x80]);
});

test('encodePng rejects mismatched sizes', () => {
  assert.throws(() => encodePng(new Uint8Array(15), 2, 2), RangeError);
  assert.throws(() => encodePng(new Uint8Array(0), 0, 0), RangeError);
});
