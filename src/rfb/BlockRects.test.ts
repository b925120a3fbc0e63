import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DisplayBuffer, Rect } from '../display/DisplayBuffer.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { tiledOffset, X_TILED, Y_TILED, LINEAR, type TileLayout } from '../kms/Tiling.ts';
import { BlockRects } from './BlockRects.ts';
import { DirtyMap } from './DirtyMap.ts';

function buffer(width: number, height: number, stride: number, modifier: bigint, drmFormat: number = DRM_FORMAT.XRGB8888): DisplayBuffer {
  const mapping = { chunks: [new Uint8Array(0)], chunkOffsets: [0], length: 0 } as unknown as DisplayBuffer['mapping'];
  return { id: 1, fd: -1, kind: 'dmabuf', planeType: 1, mapping, drmFormat, modifier, width, height, stride, size: stride * height };
}

const inside = (rs: readonly Rect[], x: number, y: number): boolean =>
  rs.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);

/** Marking a block marks every pixel whose bytes lie in it (checked pixel by pixel). */
function checkCovers(b: DisplayBuffer, layout: TileLayout, cpp: number): void {
  const g = new BlockRects(b);
  assert.ok(g.addressable);
  for (let y = 0; y < b.height; y += 3) {
    for (let x = 0; x < b.width; x += 7) {
      const off = tiledOffset(layout, b.stride, x * cpp, y);
      const block = Math.floor(off / 4096);
      const rows = new DirtyMap(b.width, b.height);
      g.mark(block, rows);
      const rs = rows.take({ x: 0, y: 0, width: b.width, height: b.height }, []);
      assert.ok(inside(rs, x, y), `pixel ${x},${y} (byte ${off}) in block ${block}: ${JSON.stringify(rs)}`);
    }
  }
}

function rectsOf(g: BlockRects, blocks: Iterable<number>): Rect[] {
  const rows = new DirtyMap(g.width, g.height);
  for (const i of blocks) g.mark(i, rows);
  return rows.take({ x: 0, y: 0, width: g.width, height: g.height }, []);
}

describe('BlockRects', () => {
  it('places every pixel of linear, X- and Y-tiled buffers in its block\'s rectangle', () => {
    checkCovers(buffer(1024, 64, 4096, DRM_FORMAT_MOD.LINEAR), LINEAR, 4);
    checkCovers(buffer(1000, 50, 4000, DRM_FORMAT_MOD.LINEAR), LINEAR, 4);
    checkCovers(buffer(1920, 40, 7680, DRM_FORMAT_MOD.LINEAR), LINEAR, 4);
    checkCovers(buffer(640, 48, 1280, DRM_FORMAT_MOD.LINEAR, DRM_FORMAT.RGB565), LINEAR, 2);
    checkCovers(buffer(1000, 40, 4096, DRM_FORMAT_MOD.I915_X_TILED), X_TILED, 4);
    checkCovers(buffer(1000, 70, 4096, DRM_FORMAT_MOD.I915_Y_TILED), Y_TILED, 4);
  });

  it('a 1024-pixel XRGB row is exactly one block; a tile is 128×8 (X) or 32×32 (Y) pixels', () => {
    assert.deepEqual(rectsOf(new BlockRects(buffer(1024, 768, 4096, DRM_FORMAT_MOD.LINEAR)), [5]), [{ x: 0, y: 5, width: 1024, height: 1 }]);
    assert.deepEqual(rectsOf(new BlockRects(buffer(1024, 768, 4096, DRM_FORMAT_MOD.I915_X_TILED)), [9]), [{ x: 128, y: 8, width: 128, height: 8 }]);
    assert.deepEqual(rectsOf(new BlockRects(buffer(1024, 768, 4096, DRM_FORMAT_MOD.I915_Y_TILED)), [33]), [{ x: 32, y: 32, width: 32, height: 32 }]);
    assert.equal(new BlockRects(buffer(1024, 768, 4096, DRM_FORMAT_MOD.I915_Yf_TILED)).addressable, false);
    assert.notEqual(new BlockRects(buffer(1024, 768, 4096, DRM_FORMAT_MOD.LINEAR)).key,
      new BlockRects(buffer(1024, 768, 4096, DRM_FORMAT_MOD.I915_X_TILED)).key);
  });

  it('merges a glyph\'s row pieces into a few rects and a full change into the frame', () => {
    const g = new BlockRects(buffer(1920, 1200, 7680, DRM_FORMAT_MOD.LINEAR));
    // A glyph at x 0..7, rows 48..63: the blocks holding those pixels.
    const blocks = new Set(Array.from({ length: 16 }, (_, k) => Math.floor((7680 * (48 + k)) / 4096)));
    const merged = rectsOf(g, blocks);
    // Rows whose marked runs lie far apart stay apart (DirtyMap keeps runs exact): a handful of rects.
    assert.ok(merged.length <= 6, `few rects: ${JSON.stringify(merged)}`);
    for (let y = 48; y < 64; y++) {
      assert.ok(merged.some((r) => r.x === 0 && y >= r.y && y < r.y + r.height), `row ${y} covered`);
    }
    assert.ok(merged.every((r) => r.y >= 47 && r.y + r.height <= 65), 'nothing far from the glyph');
    const all = Array.from({ length: Math.ceil((7680 * 1200) / 4096) }, (_, i) => i);
    assert.deepEqual(rectsOf(g, all), [{ x: 0, y: 0, width: 1920, height: 1200 }]);
    // Two changes far apart on different rows stay two rectangles.
    const rows = new DirtyMap(1000, 100);
    rows.add(10, 0, 8);
    rows.add(90, 500, 508);
    assert.deepEqual(rows.take({ x: 0, y: 0, width: 1000, height: 100 }, []), [{ x: 0, y: 10, width: 8, height: 1 }, { x: 500, y: 90, width: 8, height: 1 }]);
  });
});
