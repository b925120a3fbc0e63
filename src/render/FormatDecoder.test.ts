import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DRM_FORMAT, FORMATS, fourcc } from '../kms/Fourcc.ts';
import { DECODABLE_FORMATS, decodePixels, getConverter, greyRamp, isDecodeError } from './FormatDecoder.ts';

/** Decode literal bytes, return the RGBA pixels as arrays. */
function dec(code: number, bytes: number[], count: number, palette?: number[], ignoreAlpha = false): number[][] {
  const out = new Uint8Array(count * 4);
  const err = decodePixels(code, Uint8Array.from(bytes), out, count, { palette, ignoreAlpha });
  assert.equal(err, null, err?.message);
  return Array.from({ length: count }, (_, i) => Array.from(out.subarray(i * 4, i * 4 + 4)));
}

test('every kms format has a converter', () => {
  for (const f of FORMATS) assert.ok(DECODABLE_FORMATS.includes(f.fourcc), f.name);
  for (const f of FORMATS) assert.ok(!isDecodeError(getConverter(f.fourcc)), f.name);
});

test('32-bit RGB formats: channel byte positions, X ignored, A kept (literal bytes)', () => {
  // Colour R=0x11 G=0x22 B=0x33; X bytes are garbage (0x99), alpha 0x80.
  assert.deepEqual(dec(DRM_FORMAT.XRGB8888, [0x33, 0x22, 0x11, 0x99], 1), [[0x11, 0x22, 0x33, 255]]);
  assert.deepEqual(dec(DRM_FORMAT.ARGB8888, [0x33, 0x22, 0x11, 0x80], 1), [[0x11, 0x22, 0x33, 0x80]]);
  assert.deepEqual(dec(DRM_FORMAT.XBGR8888, [0x11, 0x22, 0x33, 0x99], 1), [[0x11, 0x22, 0x33, 255]]);
  assert.deepEqual(dec(DRM_FORMAT.ABGR8888, [0x11, 0x22, 0x33, 0x80], 1), [[0x11, 0x22, 0x33, 0x80]]);
  assert.deepEqual(dec(DRM_FORMAT.RGBX8888, [0x99, 0x33, 0x22, 0x11], 1), [[0x11, 0x22, 0x33, 255]]);
  assert.deepEqual(dec(DRM_FORMAT.BGRX8888, [0x99, 0x11, 0x22, 0x33], 1), [[0x11, 0x22, 0x33, 255]]);
});

test('ignoreAlpha turns A formats into their X twins', () => {
  assert.deepEqual(dec(DRM_FORMAT.ARGB8888, [0x33, 0x22, 0x11, 0x00], 1, undefined, true), [[0x11, 0x22, 0x33, 255]]);
  assert.deepEqual(dec(DRM_FORMAT.ABGR8888, [0x11, 0x22, 0x33, 0x00], 1, undefined, true), [[0x11, 0x22, 0x33, 255]]);
});

test('RGB565 expands by bit replication', () => {
  assert.deepEqual(dec(DRM_FORMAT.RGB565, [0x00, 0xf8, 0xe0, 0x07, 0x1f, 0x00, 0x00, 0x80], 4), [
    [255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [132, 0, 0, 255],
  ]);
});

test('2:10:10:10 formats keep the top 8 of 10 bits', () => {
  // X=3, R=1023, G=512, B=0 → word 0xFFF80000.
  assert.deepEqual(dec(DRM_FORMAT.XRGB2101010, [0x00, 0x00, 0xf8, 0xff], 1), [[255, 128, 0, 255]]);
  assert.deepEqual(dec(DRM_FORMAT.XBGR2101010, [0x00, 0x00, 0xf8, 0xff], 1), [[0, 128, 255, 255]]);
});

test('C8: grey ramp by default, palette when given, missing entries black', () => {
  assert.deepEqual(dec(DRM_FORMAT.C8, [0, 128, 255], 3), [[0, 0, 0, 255], [128, 128, 128, 255], [255, 255, 255, 255]]);
  const pal = [0xff0000, 0x00ff00, 0x0000ff, 0x112233, 0x445566, 0x112233];
  assert.deepEqual(dec(DRM_FORMAT.C8, [5, 1, 200], 3, pal), [[0x11, 0x22, 0x33, 255], [0, 255, 0, 255], [0, 0, 0, 255]]);
  assert.equal(greyRamp()[7], 0x070707);
});

test('packed YUV 4:2:2: byte order of each fourcc and BT.601 limited range', () => {
  // Luma only: Y0 = 16 (black), Y1 = 235 (white), neutral chroma.
  const bw: Record<string, number[]> = {
    YUYV: [16, 128, 235, 128], UYVY: [128, 16, 128, 235], YVYU: [16, 128, 235, 128], VYUY: [128, 16, 128, 235],
  };
  // Red: Y=81 Cb=90 Cr=240, placed where each order puts Cb and Cr.
  const red: Record<string, number[]> = {
    YUYV: [81, 90, 81, 240], UYVY: [90, 81, 240, 81], YVYU: [81, 240, 81, 90], VYUY: [240, 81, 90, 81],
  };
  for (const name of ['YUYV', 'UYVY', 'YVYU', 'VYUY'] as const) {
    const code = DRM_FORMAT[name];
    assert.deepEqual(dec(code, bw[name]!, 2), [[0, 0, 0, 255], [255, 255, 255, 255]], name);
    assert.deepEqual(dec(code, red[name]!, 2), [[255, 0, 0, 255], [255, 0, 0, 255]], name);
  }
});

test('YUV phase: a span may start on the second pixel of a pair', () => {
  const c = getConverter(DRM_FORMAT.YUYV);
  assert.ok(!isDecodeError(c));
  const out = new Uint8Array(12);
  // Two pairs: (black, white) (white, black); start at pixel 1 for 3 pixels.
  c.convert(Uint8Array.from([16, 128, 235, 128, 235, 128, 16, 128]), 0, out, 0, 3, 1);
  assert.deepEqual(Array.from(out), [255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
});

test('unknown format is an error value, not an exception', () => {
  const bogus = fourcc('N', 'V', '1', '2');
  const c = getConverter(bogus);
  assert.ok(isDecodeError(c));
  assert.equal(c.error, 'unsupported-format');
  assert.match(c.message, /NV12/);
  const err = decodePixels(bogus, new Uint8Array(4), new Uint8Array(4), 1);
  assert.equal(err?.error, 'unsupported-format');
  assert.equal(decodePixels(DRM_FORMAT.XRGB8888, new Uint8Array(4), new Uint8Array(8), 2)?.error, 'short-buffer');
});
