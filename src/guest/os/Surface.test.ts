import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DirtyLog } from '../../gpu/DirtyLog.ts';
import { GuestMemory } from '../../gpu/GuestMemory.ts';
import { PageAllocator } from '../../gpu/PageAllocator.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { LINEAR, X_TILED, Y_TILED } from '../../kms/Tiling.ts';
import { Surface } from './Surface.ts';
import { surfaceText } from './TextOcr.ts';

function setup(pages = 512) {
  const memory = new GuestMemory(pages * 4096);
  const dirty = new DirtyLog(memory.pageCount);
  const alloc = new PageAllocator(8, pages - 8);
  const view = new DataView(memory.buffer);
  const takeDirty = (): number[] => {
    const out: number[] = [];
    dirty.fetchAndClear(0, memory.pageCount, (p) => out.push(p));
    return out;
  };
  return { memory, dirty, alloc, view, takeDirty };
}

// Independent address math (not the code under test): surface byte offset → guest physical.
function linearOff(stride: number, x: number, y: number, cpp: number): number {
  return y * stride + x * cpp;
}
function xTiledOff(stride: number, x: number, y: number, cpp: number): number {
  const xb = x * cpp;
  const tile = Math.floor(y / 8) * (stride / 512) + Math.floor(xb / 512);
  return tile * 4096 + (y % 8) * 512 + (xb % 512);
}
function phys(pages: Uint32Array, off: number): number {
  return pages[Math.floor(off / 4096)]! * 4096 + (off % 4096);
}

test('fillRect through scattered pages lands where the address math says', () => {
  const { memory, dirty, alloc, view, takeDirty } = setup();
  const stride = Surface.strideFor(300, DRM_FORMAT.XRGB8888, LINEAR);
  assert.equal(stride, 1216);
  const pages = alloc.allocScattered(Surface.pagesFor(40, stride, LINEAR), 3)!;
  assert.ok(pages.some((p, i) => i > 0 && p !== pages[i - 1]! + 1), 'pages are scattered');
  const s = new Surface(memory, dirty, { pages, width: 300, height: 40, stride, format: DRM_FORMAT.XRGB8888, tiling: LINEAR });
  assert.equal(s.modifier, DRM_FORMAT_MOD.LINEAR);
  takeDirty();
  s.fillRect(10, 5, 280, 30, 0xff112233);
  const expectDirty = new Set<number>();
  for (let y = 0; y < 40; y++) {
    for (let x = 0; x < 300; x++) {
      const a = phys(s.pages, linearOff(stride, x, y, 4));
      const inside = x >= 10 && x < 290 && y >= 5 && y < 35;
      assert.equal(view.getUint32(a, true), inside ? 0x00112233 : 0, `(${x},${y})`);
      if (inside) expectDirty.add(Math.floor(a / 4096));
    }
  }
  assert.deepEqual(takeDirty(), [...expectDirty].sort((a, b) => a - b));
});

test('X-tiled surface: pixels, glyphs and fills follow the 512×8 tile layout', () => {
  const { memory, dirty, alloc, view, takeDirty } = setup();
  const w = 300;
  const h = 21; // not a multiple of 8: size rounds up to whole tile rows
  const stride = Surface.strideFor(w, DRM_FORMAT.XRGB8888, X_TILED);
  assert.equal(stride, 1536);
  const pages = alloc.allocScattered(Surface.pagesFor(h, stride, X_TILED), 2)!;
  assert.equal(pages.length, 9);
  const s = new Surface(memory, dirty, { pages, width: w, height: h, stride, format: DRM_FORMAT.XRGB8888, tiling: X_TILED });
  assert.equal(s.size, 1536 * 24);
  assert.equal(s.modifier, DRM_FORMAT_MOD.I915_X_TILED);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) s.putPixel(x, y, (x << 8) | y);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      assert.equal(view.getUint32(phys(s.pages, xTiledOff(stride, x, y, 4)), true), ((x << 8) | y) & 0xffffff);
      assert.equal(s.getPixel(x, y), (0xff000000 | (x << 8) | y) >>> 0);
    }
  }
  takeDirty();
  // A span crossing tile columns (x 120..135 spans bytes 480..543).
  s.fillRect(120, 9, 16, 1, 0xffabcdef);
  const tilesTouched = new Set([Math.floor(xTiledOff(stride, 120, 9, 4) / 4096), Math.floor(xTiledOff(stride, 135, 9, 4) / 4096)]);
  assert.equal(tilesTouched.size, 2);
  assert.deepEqual(takeDirty(), [...tilesTouched].map((t) => s.pages[t]!).sort((a, b) => a - b));
  for (let x = 120; x < 136; x++) assert.equal(view.getUint32(phys(s.pages, xTiledOff(stride, x, 9, 4)), true), 0xabcdef);
  s.clear(0xff000000);
  s.drawText(130, 3, 'Tiled!', 0xffffffff, 0xff000000);
  // Read the text back through the tiled layout (cells start at x=130, not on the 8-px grid).
  const sub = { getRaw: (x: number, y: number) => s.getRaw(x + 130, y + 3), width: 48, height: 16 };
  assert.deepEqual(surfaceText(sub as unknown as Surface), ['Tiled!']);
});

test('RGB565 packs, unpacks and fills 16-bit spans', () => {
  const { memory, dirty, alloc, view } = setup();
  const stride = Surface.strideFor(100, DRM_FORMAT.RGB565, LINEAR);
  const s = new Surface(memory, dirty, { pages: alloc.alloc(Surface.pagesFor(10, stride, LINEAR))!, width: 100, height: 10, stride, format: DRM_FORMAT.RGB565, tiling: LINEAR });
  assert.equal(s.cpp, 2);
  assert.equal(s.pack(0xffff0000), 0xf800);
  assert.equal(s.pack(0xff00ff00), 0x07e0);
  assert.equal(s.pack(0xff0000ff), 0x001f);
  s.fillRect(0, 0, 100, 10, 0xffff0000);
  assert.equal(view.getUint16(phys(s.pages, linearOff(stride, 99, 9, 2)), true), 0xf800);
  assert.equal(s.getPixel(50, 5), 0xffff0000);
  s.putPixel(1, 1, 0xff808080);
  assert.equal(s.getRaw(1, 1), (16 << 11) | (32 << 5) | 16);
});

test('ARGB8888 keeps alpha; blit blends; other formats pack by their channel layout', () => {
  const { memory, alloc } = setup();
  const mk = (format: number) => new Surface(memory, undefined, { pages: alloc.alloc(1)!, width: 16, height: 16, stride: 64, format, tiling: LINEAR });
  const a = mk(DRM_FORMAT.ARGB8888);
  a.clear(0x00000000);
  a.blit(0, 0, 2, 1, Uint32Array.of(0x80ff0000, 0xff00ff00));
  assert.equal(a.getPixel(0, 0), 0x80ff0000);
  const x = mk(DRM_FORMAT.XRGB8888);
  x.clear(0xff0000ff);
  x.blit(0, 0, 1, 1, Uint32Array.of(0x80ff0000), 1, true);
  const p = x.getPixel(0, 0);
  assert.ok(((p >>> 16) & 0xff) > 120 && (p & 0xff) > 120 && (p & 0xff) < 135, p.toString(16));
  const bgr = mk(DRM_FORMAT.XBGR8888);
  assert.equal(bgr.pack(0xff112233), 0x00332211);
  const r10 = mk(DRM_FORMAT.XRGB2101010);
  assert.equal(r10.pack(0xffff0000), 0x3ff00000);
  assert.equal(r10.unpack(0x3ff00000), 0xffff0000);
});

test('clipping: nothing outside the clip or the surface is written or marked', () => {
  const { memory, dirty, alloc, view, takeDirty } = setup();
  const s = new Surface(memory, dirty, { pages: alloc.alloc(4)!, width: 64, height: 64, stride: 256, format: DRM_FORMAT.XRGB8888, tiling: LINEAR });
  takeDirty();
  s.fillRect(-100, -100, 50, 50, 0xffffffff);
  s.fillRect(64, 0, 10, 10, 0xffffffff);
  s.putPixel(-1, 3, 0xffffffff);
  s.drawGlyph(70, 0, 65, 0xffffffff, 0);
  assert.deepEqual(takeDirty(), []);
  s.setClip({ x: 8, y: 16, w: 8, h: 16 });
  s.fillRect(0, 0, 64, 64, 0xffffffff);
  s.resetClip();
  let set = 0;
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      if (view.getUint32(phys(s.pages, linearOff(256, x, y, 4)), true)) {
        set++;
        assert.ok(x >= 8 && x < 16 && y >= 16 && y < 32, 'x >= 8 && x < 16 && y >= 16 && y < 32');
      }
    }
  }
  assert.equal(set, 128);
  assert.deepEqual(takeDirty(), [s.pages[1]]);
  // A glyph half outside the surface is clipped, not wrapped.
  s.clear(0);
  s.drawGlyph(60, 0, 0x48, 0xffffffff, 0xff000000);
  for (let y = 0; y < 16; y++) assert.equal(s.getRaw(0, y + 1), 0);
});

test('bad layouts are RangeErrors; wrong page counts too', () => {
  const { memory, alloc } = setup(64);
  const pages = alloc.alloc(2)!;
  const base = { pages, width: 64, height: 16, stride: 256, format: DRM_FORMAT.XRGB8888, tiling: LINEAR };
  assert.throws(() => new Surface(memory, undefined, { ...base, format: DRM_FORMAT.C8 }), RangeError);
  assert.throws(() => new Surface(memory, undefined, { ...base, stride: 100 }), RangeError);
  assert.throws(() => new Surface(memory, undefined, { ...base, tiling: X_TILED }), RangeError);
  assert.throws(() => new Surface(memory, undefined, { ...base, height: 64 }), RangeError);
  assert.throws(() => new Surface(memory, undefined, { ...base, pages: [9999] }), RangeError);
  assert.throws(() => new Surface(memory, undefined, { ...base, width: 0 }), RangeError);
  // Y-tiled reads work too (for OCR of any plane the host decodes).
  const y = new Surface(memory, undefined, { pages: alloc.alloc(2)!, width: 32, height: 32, stride: 128, format: DRM_FORMAT.XRGB8888, tiling: Y_TILED });
  y.putPixel(5, 7, 0xff010203);
  assert.equal(y.getPixel(5, 7), 0xff010203);
  // x=5 is byte 20: the second 16-byte column of the tile, 512 bytes in.
  assert.equal(y.physAddress(5, 7), y.pages[0]! * 4096 + 512 + 7 * 16 + 4);
});

test('a store after the host fetched its page marks the page again (no write hides behind the dedup)', () => {
  const { memory, alloc } = setup();
  /** A host that fetches and clears every mark at once: as if it scanned right after each. */
  class EagerHost extends DirtyLog {
    public readonly fetched: number[] = [];
    public override markPages(first: number, count: number): void {
      super.markPages(first, count);
      this.fetchAndClear(first, count, (p) => this.fetched.push(p));
    }
  }
  const dirty = new EagerHost(memory.pageCount);
  const stride = Surface.strideFor(64, DRM_FORMAT.XRGB8888, LINEAR);
  const pages = alloc.allocScattered(Surface.pagesFor(4, stride, LINEAR), 1)!;
  const s = new Surface(memory, dirty, { pages, width: 64, height: 4, stride, format: DRM_FORMAT.XRGB8888, tiling: LINEAR });
  // Two pixels on one page in one primitive: the host fetched the page between the two stores.
  s.blit(0, 0, 2, 1, new Uint32Array([0xff010203, 0xff040506]));
  assert.deepEqual(dirty.fetched, [pages[0], pages[0]], 'each store was followed by a mark the host saw');
  // While the host has not fetched, the dedup still saves the atomics.
  const lazy = new DirtyLog(memory.pageCount);
  let marks = 0;
  const orig = lazy.markPages.bind(lazy);
  lazy.markPages = (f: number, c: number): void => { marks++; orig(f, c); };
  const t = new Surface(memory, lazy, { pages, width: 64, height: 4, stride, format: DRM_FORMAT.XRGB8888, tiling: LINEAR });
  t.blit(0, 1, 8, 1, new Uint32Array(8).fill(0xff777777));
  assert.equal(marks, 1);
});
