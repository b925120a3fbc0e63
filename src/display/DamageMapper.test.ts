import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { DamageMapper, MAX_DAMAGE_RECTS } from './DamageMapper.ts';

const linear = (width: number, height: number, stride = width * 4): DamageMapper =>
  new DamageMapper({ width, height, stride, modifier: DRM_FORMAT_MOD.LINEAR, cpp: 4 });

describe('DamageMapper', () => {
  it('linear: a page covers the rows its bytes touch, full width', () => {
    const m = linear(640, 480); // stride 2560: page 0 = rows 0..1, page 1 = rows 1..3
    m.markPage(1);
    assert.deepEqual(m.take(), [{ x: 0, y: 1, width: 640, height: 3 }]);
    assert.equal(m.pending, false);
    assert.deepEqual(m.take(), []);
  });

  it('linear: runs of rows coalesce, gaps split', () => {
    const m = linear(1024, 100); // one page per row
    for (const p of [3, 4, 5, 9, 99, 100, 5000]) m.markPage(p);
    assert.deepEqual(m.take(), [
      { x: 0, y: 3, width: 1024, height: 3 },
      { x: 0, y: 9, width: 1024, height: 1 },
      { x: 0, y: 99, width: 1024, height: 1 },
    ]);
  });

  it('X-tiled: a page is one 128×8 tile; tiles merge across and down', () => {
    const m = new DamageMapper({ width: 1000, height: 20, stride: 4096, modifier: DRM_FORMAT_MOD.I915_X_TILED, cpp: 4 });
    // 8 tiles per tile row; tile row 2 holds rows 16..19 only.
    for (const t of [1, 2, 9, 10, 23]) m.markPage(t);
    assert.deepEqual(m.take(), [
      { x: 128, y: 0, width: 256, height: 16 },
      { x: 896, y: 16, width: 104, height: 4 }, // clipped to width 1000 and height 20
    ]);
  });

  it('Y-tiled: a page is one 32×32 tile (XRGB)', () => {
    const m = new DamageMapper({ width: 64, height: 64, stride: 256, modifier: DRM_FORMAT_MOD.I915_Y_TILED, cpp: 4 });
    m.markPage(3);
    assert.deepEqual(m.take(), [{ x: 32, y: 32, width: 32, height: 32 }]);
  });

  it('too many rectangles become their bounding box; unknown modifiers give no damage', () => {
    const m = linear(1024, 200);
    for (let p = 0; p < 200; p += 2) m.markPage(p);
    const r = m.take();
    assert.equal(r.length, 1);
    assert.deepEqual(r[0], { x: 0, y: 0, width: 1024, height: 199 });
    const yf = new DamageMapper({ width: 64, height: 64, stride: 256, modifier: DRM_FORMAT_MOD.I915_Yf_TILED, cpp: 4 });
    assert.equal(yf.layout, undefined);
    yf.markPage(0);
    assert.deepEqual(yf.take(), []);
  });

  it('property: the damage covers every byte of every dirty page inside the buffer, and only rows those pages touch', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 64 }),
      fc.array(fc.nat(400), { maxLength: 40 }),
      (width, height, pad, pages) => {
        const stride = width * 4 + pad * 4;
        const m = linear(width, height, stride);
        for (const p of pages) m.markPage(p);
        const rects = m.take();
        const covered = new Uint8Array(height);
        let count = 0;
        for (const r of rects) {
          assert.ok(r.x === 0 && r.width === width && r.y >= 0 && r.y + r.height <= height);
          for (let y = r.y; y < r.y + r.height; y++) { assert.equal(covered[y], 0, 'overlap'); covered[y] = 1; count++; }
        }
        assert.ok(rects.length <= MAX_DAMAGE_RECTS);
        const want = new Uint8Array(height);
        for (const p of pages) {
          for (let y = Math.floor((p * 4096) / stride); y <= Math.floor((p * 4096 + 4095) / stride) && y < height; y++) want[y] = 1;
        }
        if (rects.length === 1 && count > want.reduce((a, b) => a + b, 0)) {
          // A bounding box may cover more; it must still cover all.
          for (let y = 0; y < height; y++) if (want[y]) assert.equal(covered[y], 1);
          return true;
        }
        assert.deepEqual(covered, want);
        return true;
      },
    ));
  });
});
