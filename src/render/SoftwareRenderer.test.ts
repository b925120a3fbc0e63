import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DRM_FORMAT, fourcc } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD, fourccModCode } from '../kms/Modifier.ts';
import { contiguousSource } from './PixelSource.ts';
import type { PixelSource } from './PixelSource.ts';
import { normalizeRects, SoftwareRenderer, toSigned32 } from './SoftwareRenderer.ts';
import type { CursorPlaneInput, PrimaryPlaneInput, Rect } from './SoftwareRenderer.ts';

// ---------------------------------------------------------------------------------------------
// An independent encoder: pixels → bytes per format, bytes → memory per layout. Written from the
// format definitions (drm_fourcc.h) and the Intel tile descriptions, not from the code under test.

type Rgba = [number, number, number, number];
type Layout = 'linear' | 'x' | 'y';
const MODS: Record<Layout, bigint> = {
  linear: DRM_FORMAT_MOD.LINEAR, x: DRM_FORMAT_MOD.I915_X_TILED, y: DRM_FORMAT_MOD.I915_Y_TILED,
};

const le32 = (w: number): number[] => [w & 255, (w >>> 8) & 255, (w >>> 16) & 255, (w >>> 24) & 255];
const ten = (c: number): number => (c << 2) | (c >> 6);
const rep5 = (c: number): number => ((c >> 3) << 3) | ((c >> 3) >> 2);
const rep6 = (c: number): number => ((c >> 2) << 2) | ((c >> 2) >> 4);

interface RgbFormat {
  readonly cpp: number;
  /** Bytes of one pixel in memory order. */
  encode(c: Rgba): number[];
  /** What a correct decoder must produce for `c`. */
  expect(c: Rgba): Rgba;
}

const RGB: Record<string, RgbFormat> = {
  XRGB8888: { cpp: 4, encode: ([r, g, b]) => [b, g, r, 0xa5], expect: ([r, g, b]) => [r, g, b, 255] },
  ARGB8888: { cpp: 4, encode: ([r, g, b, a]) => [b, g, r, a], expect: (c) => c },
  XBGR8888: { cpp: 4, encode: ([r, g, b]) => [r, g, b, 0x5a], expect: ([r, g, b]) => [r, g, b, 255] },
  ABGR8888: { cpp: 4, encode: ([r, g, b, a]) => [r, g, b, a], expect: (c) => c },
  RGBX8888: { cpp: 4, encode: ([r, g, b]) => [0x3c, b, g, r], expect: ([r, g, b]) => [r, g, b, 255] },
  BGRX8888: { cpp: 4, encode: ([r, g, b]) => [0xc3, r, g, b], expect: ([r, g, b]) => [r, g, b, 255] },
  RGB565: {
    cpp: 2,
    encode: ([r, g, b]) => { const w = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3); return [w & 255, w >> 8]; },
    expect: ([r, g, b]) => [rep5(r), rep6(g), rep5(b), 255],
  },
  XRGB2101010: {
    cpp: 4,
    encode: ([r, g, b]) => le32(((2 << 30) | (ten(r) << 20) | (ten(g) << 10) | ten(b)) >>> 0),
    expect: ([r, g, b]) => [r, g, b, 255],
  },
  XBGR2101010: {
    cpp: 4,
    encode: ([r, g, b]) => le32(((1 << 30) | (ten(b) << 20) | (ten(g) << 10) | ten(r)) >>> 0),
    expect: ([r, g, b]) => [r, g, b, 255],
  },
};

/** Byte offset of byte column `xb` of row `y`, straight from the tile descriptions. */
function place(layout: Layout, stride: number, xb: number, y: number): number {
  if (layout === 'linear') return y * stride + xb;
  if (layout === 'x') {
    // 4 KiB tiles of 512 bytes × 8 rows, rows one after another.
    const tile = Math.floor(y / 8) * (stride / 512) + Math.floor(xb / 512);
    return tile * 4096 + (y % 8) * 512 + (xb % 512);
  }
  // 4 KiB tiles of 128 bytes × 32 rows, as 8 columns of 16 bytes, each column 32 rows tall.
  const tile = Math.floor(y / 32) * (stride / 128) + Math.floor(xb / 128);
  return tile * 4096 + Math.floor((xb % 128) / 16) * 512 + (y % 32) * 16 + (xb % 16);
}

/** Lay out packed rows (`rows[y]`, each `rowBytes` long) in memory. */
function layOut(rows: number[][], layout: Layout, stride: number): Uint8Array {
  const tileRows = layout === 'linear' ? 1 : layout === 'x' ? 8 : 32;
  const h = Math.ceil(rows.length / tileRows) * tileRows;
  const mem = new Uint8Array(stride * h).fill(0xee);
  rows.forEach((row, y) => row.forEach((v, xb) => { mem[place(layout, stride, xb, y)] = v; }));
  return mem;
}

/** Memory split into `chunk`-byte pieces, each stored at a shuffled spot of a larger buffer. */
function scatter(mem: Uint8Array, chunk = 4096, seed = 1): PixelSource {
  const n = Math.ceil(mem.length / chunk);
  const slots = Array.from({ length: n + 3 }, (_, i) => i);
  let s = seed;
  for (let i = slots.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [slots[i], slots[j]] = [slots[j]!, slots[i]!];
  }
  const backing = new Uint8Array((n + 3) * chunk);
  const chunks: Uint8Array[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = Math.min(chunk, mem.length - i * chunk);
    const view = backing.subarray(slots[i]! * chunk, slots[i]! * chunk + len);
    view.set(mem.subarray(i * chunk, i * chunk + len));
    chunks.push(view);
    offsets.push(i * chunk);
  }
  return { chunks, chunkOffsets: offsets, length: mem.length };
}

// ---------------------------------------------------------------------------------------------
// Golden images with sentinel colours.

const RED: Rgba = [255, 0, 0, 255];
const GREEN: Rgba = [0, 255, 0, 255];
const BLUE: Rgba = [0, 0, 255, 255];
const WHITE: Rgba = [255, 255, 255, 255];
const BLACK: Rgba = [0, 0, 0, 255];
const YELLOW: Rgba = [255, 255, 0, 255];
const CYAN: Rgba = [0, 255, 255, 255];
const MAGENTA: Rgba = [255, 0, 255, 255];
const SENTINELS = [RED, GREEN, BLUE, WHITE, BLACK, YELLOW, CYAN, MAGENTA];

/** Row bytes 600 → several X tiles (512 B) and Y tiles (128 B); 40 rows → X and Y tile rows. */
const ROW_BYTES = 600;
const H = 40;
const STRIDE: Record<Layout, number> = { linear: 640, x: 1024, y: 1024 };

/** Sentinel pixels at corners and either side of OWord, Y-tile, X-tile and tile-row boundaries. */
function sentinelMap(width: number, cpp: number): Map<string, Rgba> {
  const xbs = [0, 12, 16, 124, 128, 508, 512, ROW_BYTES - cpp];
  const ys = [0, 7, 8, 31, 32, H - 1];
  const m = new Map<string, Rgba>();
  let k = 0;
  for (const y of ys) {
    for (const xb of xbs) {
      const x = Math.min(width - 1, Math.floor(xb / cpp));
      m.set(`${x},${y}`, SENTINELS[k++ % SENTINELS.length]!);
    }
  }
  return m;
}

const patternColour = (x: number, y: number): Rgba =>
  [(x * 37 + y * 11) & 255, (x * 5 + y * 71) & 255, (x ^ (y * 3)) & 255, (x * 3 + y * 5 + 17) & 255];

interface Golden {
  readonly width: number;
  readonly rows: number[][];
  readonly expected: (x: number, y: number) => Rgba;
  readonly tolerance: number;
  readonly sentinels: Map<string, Rgba>;
}

function rgbGolden(name: string): Golden {
  const f = RGB[name]!;
  const width = ROW_BYTES / f.cpp;
  const sentinels = sentinelMap(width, f.cpp);
  const colour = (x: number, y: number): Rgba => sentinels.get(`${x},${y}`) ?? patternColour(x, y);
  const rows = Array.from({ length: H }, (_, y) =>
    Array.from({ length: width }, (_, x) => f.encode(colour(x, y))).flat());
  return { width, rows, expected: (x, y) => f.expect(colour(x, y)), tolerance: 0, sentinels };
}

const PALETTE = Array.from({ length: 256 }, (_, i) => (((i * 97) & 255) << 16) | (((i * 53) & 255) << 8) | (255 - i));
const paletteRgba = (i: number): Rgba => [(PALETTE[i]! >> 16) & 255, (PALETTE[i]! >> 8) & 255, PALETTE[i]! & 255, 255];

function c8Golden(): Golden {
  const width = ROW_BYTES;
  const sentinelIdx = new Map<string, number>();
  for (const [k] of sentinelMap(width, 1)) sentinelIdx.set(k, sentinelIdx.size % 2 === 0 ? 0 : 255);
  const index = (x: number, y: number): number => sentinelIdx.get(`${x},${y}`) ?? ((x * 7 + y * 13) & 255);
  const rows = Array.from({ length: H }, (_, y) => Array.from({ length: width }, (_, x) => index(x, y)));
  const sentinels = new Map([...sentinelIdx].map(([k, v]) => [k, paletteRgba(v)]));
  return { width, rows, expected: (x, y) => paletteRgba(index(x, y)), tolerance: 0, sentinels };
}

/** BT.601 limited range, in floating point. */
function yuvToRgb(y: number, u: number, v: number): Rgba {
  const c = (n: number): number => Math.max(0, Math.min(255, Math.round(n)));
  const l = 1.164 * (y - 16);
  return [c(l + 1.596 * (v - 128)), c(l - 0.391 * (u - 128) - 0.813 * (v - 128)), c(l + 2.018 * (u - 128)), 255];
}

/** Byte order of the 4-byte pair for each packed YUV fourcc: which of Y0, U, Y1, V sits where. */
const YUV_ORDER: Record<string, ('y0' | 'u' | 'y1' | 'v')[]> = {
  YUYV: ['y0', 'u', 'y1', 'v'], UYVY: ['u', 'y0', 'v', 'y1'],
  YVYU: ['y0', 'v', 'y1', 'u'], VYUY: ['v', 'y0', 'u', 'y1'],
};

function yuvGolden(name: string): Golden {
  const width = ROW_BYTES / 2;
  // Sentinel pairs: black/white luma with neutral chroma, and pure red (Y 81, Cb 90, Cr 240).
  const specials = [{ y0: 16, y1: 235, u: 128, v: 128 }, { y0: 81, y1: 81, u: 90, v: 240 }];
  const sentinelPairs = new Map<string, number>();
  for (const [k] of sentinelMap(width, 2)) {
    const [x, y] = k.split(',').map(Number) as [number, number];
    sentinelPairs.set(`${x & ~1},${y}`, sentinelPairs.size % 2);
  }
  const pair = (x: number, y: number): { y0: number; y1: number; u: number; v: number } => {
    const s = sentinelPairs.get(`${x},${y}`);
    if (s !== undefined) return specials[s]!;
    return {
      y0: 16 + ((x * 3 + y * 7) % 220), y1: 16 + ((x * 5 + y * 11 + 50) % 220),
      u: 16 + ((x * 9 + y * 5) % 225), v: 16 + ((x * 13 + y * 3 + 100) % 225),
    };
  };
  const order = YUV_ORDER[name]!;
  const rows = Array.from({ length: H }, (_, y) => {
    const row: number[] = [];
    for (let x = 0; x < width; x += 2) { const p = pair(x, y); row.push(...order.map((k) => p[k])); }
    return row;
  });
  const expected = (x: number, y: number): Rgba => {
    const p = pair(x & ~1, y);
    return yuvToRgb(x & 1 ? p.y1 : p.y0, p.u, p.v);
  };
  const sentinels = new Map<string, Rgba>();
  for (const [k, s] of sentinelPairs) {
    const [x, y] = k.split(',').map(Number) as [number, number];
    sentinels.set(`${x},${y}`, s === 0 ? BLACK : RED);
    if (s === 0) sentinels.set(`${x + 1},${y}`, WHITE);
  }
  return { width, rows, expected, tolerance: 2, sentinels };
}

function golden(name: string): Golden {
  if (name === 'C8') return c8Golden();
  if (name in YUV_ORDER) return yuvGolden(name);
  return rgbGolden(name);
}

const pixel = (fb: Uint8Array, w: number, x: number, y: number): Rgba =>
  Array.from(fb.subarray((y * w + x) * 4, (y * w + x) * 4 + 4)) as Rgba;

/** Compare a rendered frame with the golden image; report the first mismatches. */
function assertFrame(fb: Uint8Array, g: Golden, label: string): void {
  const bad: string[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < g.width; x++) {
      const got = pixel(fb, g.width, x, y);
      const want = g.expected(x, y);
      if (got.some((v, i) => Math.abs(v - want[i]!) > g.tolerance)) {
        if (bad.length < 5) bad.push(`(${x},${y}) got ${got} want ${want}`);
        else if (bad.length === 5) bad.push('…');
      }
    }
  }
  assert.deepEqual(bad, [], label);
  // The sentinels, as literal colours.
  for (const [k, want] of g.sentinels) {
    const [x, y] = k.split(',').map(Number) as [number, number];
    const got = pixel(fb, g.width, x, y);
    assert.ok(got.every((v, i) => Math.abs(v - want[i]!) <= g.tolerance), `${label} sentinel (${k}) ${got} ≠ ${want}`);
  }
}

const ALL_FORMATS = [...Object.keys(RGB), 'C8', ...Object.keys(YUV_ORDER)];
const FMT_CODE = (name: string): number => DRM_FORMAT[name as keyof typeof DRM_FORMAT];

function primaryFor(name: string, layout: Layout, source?: (mem: Uint8Array) => PixelSource): {
  input: PrimaryPlaneInput; g: Golden; mem: Uint8Array;
} {
  const g = golden(name);
  const mem = layOut(g.rows, layout, STRIDE[layout]);
  return {
    g, mem,
    input: {
      source: (source ?? contiguousSource)(mem), drmFormat: FMT_CODE(name), modifier: MODS[layout],
      width: g.width, height: H, stride: STRIDE[layout],
    },
  };
}

for (const layout of ['linear', 'x', 'y'] as const) {
  test(`golden: every format, ${layout} layout, contiguous and scattered sources`, () => {
    for (const name of ALL_FORMATS) {
      const { input, g, mem } = primaryFor(name, layout);
      const r = new SoftwareRenderer({ palette: name === 'C8' ? PALETTE : undefined });
      assert.equal(r.setPrimary(input), 'ok', name);
      const res = r.render();
      assert.equal(res.status, 'ok', `${name}: ${res.message}`);
      assert.equal(res.pixelsConverted, g.width * H);
      assert.equal(r.width, g.width);
      assert.equal(r.height, H);
      assertFrame(r.framebuffer, g, `${name} ${layout}`);

      // Pages in shuffled memory order render the same pixels.
      const s = new SoftwareRenderer({ palette: name === 'C8' ? PALETTE : undefined });
      s.setPrimary({ ...input, source: scatter(mem, 4096, name.length) });
      assert.equal(s.render().status, 'ok');
      assert.deepEqual(s.framebuffer, r.framebuffer, `${name} ${layout} scattered`);

      // A contiguous source at an odd address (no aligned word access) renders the same too.
      const odd = new Uint8Array(mem.length + 1).subarray(1);
      odd.set(mem);
      const u = new SoftwareRenderer({ palette: name === 'C8' ? PALETTE : undefined });
      u.setPrimary({ ...input, source: contiguousSource(odd) });
      assert.equal(u.render().status, 'ok');
      assert.deepEqual(u.framebuffer, r.framebuffer, `${name} ${layout} unaligned`);
    }
  });
}

test('chunks that split pixels (odd sizes) render the same as contiguous', () => {
  for (const name of ['XRGB8888', 'RGB565', 'YUYV', 'UYVY', 'C8', 'XBGR2101010']) {
    for (const layout of ['linear', 'y'] as const) {
      const { input, mem } = primaryFor(name, layout);
      const a = new SoftwareRenderer({ palette: PALETTE });
      a.setPrimary(input);
      a.render();
      for (const chunk of [1001, 4093, 3]) {
        const b = new SoftwareRenderer({ palette: PALETTE });
        assert.equal(b.setPrimary({ ...input, source: scatter(mem, chunk, chunk) }), 'ok');
        b.render();
        assert.deepEqual(b.framebuffer, a.framebuffer, `${name} ${layout} chunk ${chunk}`);
      }
      // Irregular chunk sizes (binary search path): pages merged in runs.
      const sizes = [5000, 4096, 12288, 7, 4089];
      const chunks: Uint8Array[] = [];
      const offsets: number[] = [];
      for (let at = 0, i = 0; at < mem.length; i++) {
        const n = Math.min(sizes[i % sizes.length]!, mem.length - at);
        chunks.push(mem.slice(at, at + n));
        offsets.push(at);
        at += n;
      }
      const c = new SoftwareRenderer({ palette: PALETTE });
      c.setPrimary({ ...input, source: { chunks, chunkOffsets: offsets, length: mem.length } });
      c.render();
      assert.deepEqual(c.framebuffer, a.framebuffer, `${name} ${layout} irregular`);
    }
  }
});

test('C8 uses a grey ramp without a palette', () => {
  const r = new SoftwareRenderer();
  const mem = Uint8Array.from({ length: 64 * 4 }, (_, i) => i & 255);
  r.setPrimary({ source: contiguousSource(mem), drmFormat: DRM_FORMAT.C8, modifier: 0n, width: 64, height: 4, stride: 64 });
  r.render();
  assert.deepEqual(pixel(r.framebuffer, 64, 5, 2), [133, 133, 133, 255]);
});

test('the renderer reads the guest buffer live (a view, not a snapshot)', () => {
  const { input, mem } = primaryFor('XRGB8888', 'y');
  const r = new SoftwareRenderer();
  r.setPrimary(input);
  r.render();
  // The guest writes pixel (40, 33) after the plane was set up.
  mem.set(RGB.XRGB8888!.encode(MAGENTA), place('y', STRIDE.y, 40 * 4, 33));
  r.render([{ x: 40, y: 33, width: 1, height: 1 }]);
  assert.deepEqual(pixel(r.framebuffer, r.width, 40, 33), MAGENTA);
});

// ---------------------------------------------------------------------------------------------
// Cursor.

const PW = 64;
const PH = 48;
const BG: Rgba = [10, 20, 30, 255];

function solidPrimary(colour: Rgba = BG): { input: PrimaryPlaneInput; mem: Uint8Array } {
  const mem = new Uint8Array(PW * PH * 4);
  for (let i = 0; i < PW * PH; i++) mem.set(RGB.XRGB8888!.encode(colour), i * 4);
  return { mem, input: { source: contiguousSource(mem), drmFormat: DRM_FORMAT.XRGB8888, modifier: 0n,
    width: PW, height: PH, stride: PW * 4 } };
}

const CW = 16;
const CH = 12;
/** Cursor pixel (u, v): left third opaque, middle translucent, right transparent. */
const cursorColour = (u: number, v: number): Rgba =>
  [200 + (u & 7), 100 + v, 50, u < 5 ? 255 : u < 11 ? 96 + v : 0];

function cursorAt(x: number, y: number, hotX = 0xffffffff, hotY = 0xffffffff): CursorPlaneInput {
  const stride = 80; // padded rows
  const mem = new Uint8Array(stride * CH).fill(0x77);
  for (let v = 0; v < CH; v++) {
    for (let u = 0; u < CW; u++) mem.set(RGB.ARGB8888!.encode(cursorColour(u, v)), v * stride + u * 4);
  }
  return { source: contiguousSource(mem), drmFormat: DRM_FORMAT.ARGB8888, width: CW, height: CH, stride,
    x, y, hotX, hotY };
}

/** Independent straight-alpha "over" onto an opaque background. */
function over(s: Rgba, d: Rgba): Rgba {
  const a = s[3] / 255;
  return [0, 1, 2].map((i) => Math.round(s[i]! * a + d[i]! * (1 - a))).concat(255) as Rgba;
}

function expectCursorFrame(fb: Uint8Array, cx: number, cy: number, label: string): number {
  let covered = 0;
  for (let y = 0; y < PH; y++) {
    for (let x = 0; x < PW; x++) {
      const u = x - cx;
      const v = y - cy;
      const inside = u >= 0 && v >= 0 && u < CW && v < CH;
      if (inside) covered++;
      const want = inside ? over(cursorColour(u, v), BG) : BG;
      assert.deepEqual(pixel(fb, PW, x, y), want, `${label} at (${x},${y})`);
    }
  }
  return covered;
}

test('cursor blends at (x, y) with straight alpha, clipped on every edge incl. negative positions', () => {
  const positions: [number, number][] = [
    [10, 10], [-5, -7], [PW - 6, PH - 4], [-CW + 1, 20], [30, -CH + 1], [PW - 1, 0], [-100, 5], [PW, PH], [0, 0],
  ];
  for (const [cx, cy] of positions) {
    const r = new SoftwareRenderer();
    r.setPrimary(solidPrimary().input);
    assert.equal(r.setCursor(cursorAt(cx, cy)), 'ok');
    const res = r.render();
    const covered = expectCursorFrame(r.framebuffer, cx, cy, `cursor at ${cx},${cy}`);
    assert.equal(res.cursorPixels, covered, `blended count at ${cx},${cy}`);
    assert.equal(res.cursorStatus, 'ok');
  }
});

test('ABI u32 positions convert to signed; the hotspot does not move the composed cursor', () => {
  assert.equal(toSigned32(0xfffffffb), -5);
  assert.equal(toSigned32(7), 7);
  const r = new SoftwareRenderer();
  r.setPrimary(solidPrimary().input);
  r.setCursor(cursorAt(toSigned32(0xfffffffb), toSigned32(0xfffffff9), 4, 3));
  assert.equal(r.render().cursorPixels, (CW - 5) * (CH - 7));
  expectCursorFrame(r.framebuffer, -5, -7, 'hotspot ignored');
  assert.deepEqual(r.hostCursor, { x: -5, y: -7, width: CW, height: CH, hotX: 4, hotY: 3, hotspotKnown: true });
  r.setCursor(cursorAt(20, 20, 9, 5));
  assert.equal(r.render().cursorPixels, CW * CH);
  expectCursorFrame(r.framebuffer, 20, 20, 'hotspot ignored inside the frame');
  r.setCursor(cursorAt(1, 2));
  assert.deepEqual(r.hostCursor, { x: 1, y: 2, width: CW, height: CH, hotX: 0, hotY: 0, hotspotKnown: false });
});

test('moving the cursor redraws only its old and new rectangles', () => {
  const r = new SoftwareRenderer();
  r.setPrimary(solidPrimary().input);
  r.setCursor(cursorAt(4, 4));
  assert.equal(r.render().pixelsConverted, PW * PH);
  assert.equal(r.render([]).pixelsConverted, 0, 'nothing damaged, nothing moved');
  r.moveCursor(10, 8); // overlaps the old rectangle
  const res = r.render([]);
  // Union of two 16×12 rectangles offset by (6, 4): 2·192 − 10·8.
  assert.equal(res.pixelsConverted, 2 * CW * CH - (CW - 6) * (CH - 4));
  assert.equal(res.rects.reduce((n, q) => n + q.width * q.height, 0), res.pixelsConverted);
  expectCursorFrame(r.framebuffer, 10, 8, 'after move');
  r.moveCursor(-8, -6); // partly off screen: clipped rectangle only
  const res2 = r.render([]);
  assert.equal(res2.pixelsConverted, CW * CH + 8 * 6);
  expectCursorFrame(r.framebuffer, -8, -6, 'after second move');
  r.setCursor(null);
  assert.equal(r.render([]).pixelsConverted, 8 * 6);
  assert.ok(pixel(r.framebuffer, PW, 0, 0).every((v, i) => v === BG[i]), 'old cursor erased');
});

test('cursor over a translucent primary uses the general over operator', () => {
  const mem = new Uint8Array(4 * 4 * 4);
  for (let i = 0; i < 16; i++) mem.set([200, 0, 0, 128], i * 4); // ARGB bytes B,G,R,A: blue 200, alpha 128
  const r = new SoftwareRenderer();
  r.setPrimary({ source: contiguousSource(mem), drmFormat: DRM_FORMAT.ARGB8888, modifier: 0n, width: 4, height: 4, stride: 16 });
  const cur = new Uint8Array(4);
  cur.set([0, 0, 255, 128]); // red, alpha 128
  r.setCursor({ source: contiguousSource(cur), drmFormat: DRM_FORMAT.ARGB8888, width: 1, height: 1, stride: 4,
    x: 1, y: 1, hotX: 0, hotY: 0 });
  r.render();
  // αo = .502 + .502·.498 = .752; r = 255·.502/.752 = 170.2; b = 200·.25/.752 = 66.5 (66.49).
  assert.deepEqual(pixel(r.framebuffer, 4, 1, 1), [170, 0, 66, 192]);
  assert.deepEqual(pixel(r.framebuffer, 4, 0, 0), [0, 0, 200, 128]);
  const o = new SoftwareRenderer({ opaquePrimary: true });
  o.setPrimary({ source: contiguousSource(mem), drmFormat: DRM_FORMAT.ARGB8888, modifier: 0n, width: 4, height: 4, stride: 16 });
  o.render();
  assert.deepEqual(pixel(o.framebuffer, 4, 0, 0), [0, 0, 200, 255]);
});

// ---------------------------------------------------------------------------------------------
// Damage.

test('damage re-renders only the damaged pixels', () => {
  const { input, mem } = primaryFor('XRGB8888', 'x');
  const r = new SoftwareRenderer();
  r.setPrimary(input);
  const w = r.width;
  assert.equal(r.render().pixelsConverted, w * H);
  // The guest changes two pixels; only one is inside the damage.
  mem.set(RGB.XRGB8888!.encode(CYAN), place('x', STRIDE.x, 130 * 4, 9));
  mem.set(RGB.XRGB8888!.encode(CYAN), place('x', STRIDE.x, 2 * 4, 2));
  const before = pixel(r.framebuffer, w, 2, 2);
  const res = r.render([{ x: 120, y: 5, width: 20, height: 10 }]);
  assert.equal(res.pixelsConverted, 200);
  assert.deepEqual(res.rects, [{ x: 120, y: 5, width: 20, height: 10 }]);
  assert.deepEqual(pixel(r.framebuffer, w, 130, 9), CYAN);
  assert.deepEqual(pixel(r.framebuffer, w, 2, 2), before, 'undamaged pixel not redrawn');
  // Overlapping rectangles count each pixel once; rectangles are clipped to the frame.
  const res2 = r.render([{ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 5, width: 10, height: 10 },
    { x: w - 3, y: H - 2, width: 50, height: 50 }, { x: -10, y: 0, width: 5, height: 5 }]);
  assert.equal(res2.pixelsConverted, 100 + 100 - 25 + 3 * 2);
  assert.deepEqual(pixel(r.framebuffer, w, 2, 2), CYAN);
  assert.equal(r.totals.pixelsConverted, w * H + 200 + 181);
  // A new primary forces a full frame even with damage given.
  r.setPrimary(input);
  assert.equal(r.render([{ x: 0, y: 0, width: 1, height: 1 }]).pixelsConverted, w * H);
});

test('damage on packed YUV may start and end on odd pixels', () => {
  const { input, g } = primaryFor('YVYU', 'y');
  const full = new SoftwareRenderer();
  full.setPrimary(input);
  full.render();
  const r = new SoftwareRenderer();
  r.setPrimary(input);
  r.render([]); // first frame is full anyway
  r.framebuffer.fill(0);
  const res = r.render([{ x: 3, y: 1, width: 6, height: 3 }, { x: 33, y: 30, width: 1, height: 5 }]);
  assert.equal(res.pixelsConverted, 18 + 5);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < g.width; x++) {
      const inside = (x >= 3 && x < 9 && y >= 1 && y < 4) || (x === 33 && y >= 30 && y < 35);
      assert.deepEqual(pixel(r.framebuffer, g.width, x, y), inside ? pixel(full.framebuffer, g.width, x, y) : [0, 0, 0, 0],
        `(${x},${y})`);
    }
  }
});

test('normalizeRects: clipped, disjoint, exact cover', () => {
  const bounds: Rect = { x: 0, y: 0, width: 20, height: 20 };
  const rs = normalizeRects([{ x: 2, y: 2, width: 10, height: 10 }, { x: 0, y: 0, width: 20, height: 4 },
    { x: 5, y: 5, width: 2, height: 2 }, { x: 15, y: 15, width: 0, height: 3 }, { x: NaN, y: 0, width: 1, height: 1 }], bounds);
  const cover = new Uint8Array(400);
  for (const q of rs) for (let y = q.y; y < q.y + q.height; y++) for (let x = q.x; x < q.x + q.width; x++) cover[y * 20 + x]!++;
  for (let y = 0; y < 20; y++) {
    for (let x = 0; x < 20; x++) {
      const want = y < 4 || (x >= 2 && x < 12 && y >= 2 && y < 12) ? 1 : 0;
      assert.equal(cover[y * 20 + x], want, `(${x},${y})`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Errors are values.

test('unsupported format, modifier, bad geometry and sources are reported, never thrown', () => {
  const { input } = primaryFor('XRGB8888', 'linear');
  const cases: [Partial<PrimaryPlaneInput>, string][] = [
    [{ drmFormat: fourcc('N', 'V', '1', '2') }, 'unsupported-format'],
    [{ modifier: DRM_FORMAT_MOD.I915_Yf_TILED }, 'unsupported-modifier'],
    [{ modifier: fourccModCode(0x02n, 5n) }, 'unsupported-modifier'],
    [{ stride: 100 }, 'bad-geometry'],
    [{ height: 1000 }, 'bad-geometry'],
    [{ width: 0 }, 'bad-geometry'],
    [{ width: 1e9, stride: 4e9 }, 'bad-geometry'],
    [{ modifier: DRM_FORMAT_MOD.I915_X_TILED, stride: 640 }, 'bad-geometry'],
    [{ source: { chunks: [new Uint8Array(10)], chunkOffsets: [5], length: 10 } }, 'bad-source'],
  ];
  for (const [patch, status] of cases) {
    const r = new SoftwareRenderer();
    assert.equal(r.setPrimary({ ...input, ...patch }), status, JSON.stringify(patch, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)));
    const res = r.render();
    assert.equal(res.status, status);
    assert.ok(res.message && res.message.length > 0);
    assert.equal(res.pixelsConverted, 0);
  }
  const r = new SoftwareRenderer();
  assert.equal(r.render().status, 'no-primary');
  // YUV needs an even width.
  const y = primaryFor('YUYV', 'linear').input;
  assert.equal(r.setPrimary({ ...y, width: y.width - 1 }), 'bad-geometry');
});

test('a bad cursor is reported while the primary still renders; plane off keeps the last frame', () => {
  const r = new SoftwareRenderer();
  r.setPrimary(solidPrimary().input);
  assert.equal(r.setCursor({ ...cursorAt(3, 3), drmFormat: 0x20203852 }), 'unsupported-format');
  const res = r.render();
  assert.equal(res.status, 'ok');
  assert.equal(res.cursorStatus, 'unsupported-format');
  assert.match(res.message ?? '', /cursor/);
  assert.equal(res.cursorPixels, 0);
  assert.equal(r.hostCursor, null);
  expectCursorFrame(r.framebuffer, 1000, 1000, 'no cursor');
  assert.equal(r.setCursor({ ...cursorAt(3, 3), stride: 8 }), 'bad-geometry');
  assert.equal(r.setCursor({ ...cursorAt(3, 3), x: 1.5 }), 'bad-geometry');
  assert.equal(r.setCursor(cursorAt(3, 3)), 'ok');
  assert.equal(r.moveCursor(NaN, 2), false);
  assert.equal(r.moveCursor(4, 2), true);
  assert.equal(r.setPrimary(null), 'no-primary');
  assert.equal(r.render().status, 'no-primary');
  assert.deepEqual(pixel(r.framebuffer, PW, 0, 0), BG);
});
