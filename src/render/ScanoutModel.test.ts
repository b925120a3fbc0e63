import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { ScanoutModel } from './ScanoutModel.ts';
import type { ScanoutBuffer } from './ScanoutModel.ts';

const primary = (p: Partial<ScanoutBuffer> = {}): ScanoutBuffer => ({
  drmFormat: DRM_FORMAT.XRGB8888, modifier: DRM_FORMAT_MOD.LINEAR, width: 1920, height: 1080, stride: 7680, ...p,
});
const cursor = (p: Partial<ScanoutBuffer> = {}): ScanoutBuffer => ({
  drmFormat: DRM_FORMAT.ARGB8888, modifier: DRM_FORMAT_MOD.LINEAR, width: 64, height: 64, stride: 256, ...p,
});

test('i915-like: primary and cursor go straight to host planes (zero copy)', () => {
  const m = ScanoutModel.preset('i915-like');
  for (const modifier of [DRM_FORMAT_MOD.LINEAR, DRM_FORMAT_MOD.I915_X_TILED, DRM_FORMAT_MOD.I915_Y_TILED]) {
    for (const drmFormat of [DRM_FORMAT.XRGB8888, DRM_FORMAT.ABGR8888, DRM_FORMAT.XBGR2101010]) {
      const plan = m.atomicTest({ primary: primary({ modifier, drmFormat }), cursor: cursor() });
      assert.equal(plan.zeroCopy, true);
      assert.deepEqual(plan.composited, []);
      assert.deepEqual(plan.planes.map((p) => [p.source, p.planeType]), [['primary', 'primary'], ['cursor', 'cursor']]);
      assert.equal(plan.planes[0]!.modifier, modifier);
    }
  }
  const rgb565 = m.atomicTest({ primary: primary({ drmFormat: DRM_FORMAT.RGB565, stride: 3840 }) });
  assert.equal(rgb565.planes[0]!.planeType, 'primary');
});

test('i915-like: YUV primary falls to the overlay plane; C8 and Yf are composed with reasons', () => {
  const m = ScanoutModel.preset('i915-like');
  const yuv = m.atomicTest({ primary: primary({ drmFormat: DRM_FORMAT.YUYV, stride: 3840 }) });
  assert.deepEqual(yuv.planes.map((p) => [p.source, p.planeType, p.planeId]), [['primary', 'overlay', 40]]);
  assert.equal(yuv.zeroCopy, true);

  const c8 = m.atomicTest({ primary: primary({ drmFormat: DRM_FORMAT.C8, stride: 1920 }), cursor: cursor() });
  assert.equal(c8.zeroCopy, false);
  assert.deepEqual(c8.composited.map((c) => [c.role, c.code]), [['primary', 'format']]);
  assert.match(c8.composited[0]!.reason, /C8.*plane 31 \(primary\)/);
  // The composed frame takes the host primary; the cursor keeps its own plane.
  assert.deepEqual(c8.planes.map((p) => [p.source, p.planeType]), [['composition', 'primary'], ['cursor', 'cursor']]);
  assert.equal(c8.planes[0]!.drmFormat, DRM_FORMAT.ABGR8888);

  const yf = m.atomicTest({ primary: primary({ modifier: DRM_FORMAT_MOD.I915_Yf_TILED }) });
  assert.deepEqual(yf.composited.map((c) => c.code), ['modifier']);
  assert.match(yf.composited[0]!.reason, /I915_Yf_TILED/);
});

test('i915-like: size and stride limits', () => {
  const m = ScanoutModel.preset('i915-like');
  const huge = m.atomicTest({ primary: primary({ width: 10000, stride: 40000 }) });
  assert.deepEqual(huge.composited.map((c) => c.code), ['size']);
  assert.deepEqual(huge.planes, [], 'no host plane can show a frame that large');
  const badTile = m.atomicTest({ primary: primary({ modifier: DRM_FORMAT_MOD.I915_X_TILED, stride: 7700 }) });
  assert.deepEqual(badTile.composited.map((c) => c.code), ['stride']);
  const unaligned = m.atomicTest({ primary: primary({ stride: 7700 }) });
  assert.deepEqual(unaligned.composited.map((c) => c.code), ['stride']);
  const geometry = m.atomicTest({ primary: primary({ stride: 100 }) });
  assert.deepEqual(geometry.composited.map((c) => c.code), ['geometry']);
});

test('cursor outside the cursor plane limits is composed, and drags the primary with it', () => {
  const m = ScanoutModel.preset('i915-like');
  for (const [c, code] of [
    [cursor({ width: 32, height: 32, stride: 128 }), 'cursor-size'],
    [cursor({ width: 512, height: 64, stride: 2048 }), 'cursor-size'],
    [cursor({ stride: 512 }), 'stride'],
    [cursor({ drmFormat: DRM_FORMAT.XRGB8888 }), 'format'],
    [cursor({ modifier: DRM_FORMAT_MOD.I915_X_TILED, stride: 512 }), 'modifier'],
  ] as const) {
    const plan = m.atomicTest({ primary: primary(), cursor: c });
    assert.deepEqual(plan.composited.map((x) => [x.role, x.code]), [['primary', 'with-cursor'], ['cursor', code]]);
    assert.ok(plan.composited.every((x) => x.reason.length > 0));
    assert.deepEqual(plan.planes.map((p) => p.source), ['composition']);
  }
  // 256×256 is the largest cursor that fits.
  const big = m.atomicTest({ cursor: cursor({ width: 256, height: 256, stride: 1024 }) });
  assert.deepEqual(big.planes.map((p) => p.source), ['cursor']);
});

test('simple: XRGB8888 linear only, no cursor plane', () => {
  const m = ScanoutModel.preset('simple');
  const plain = m.atomicTest({ primary: primary() });
  assert.equal(plain.zeroCopy, true);
  assert.deepEqual(plain.planes.map((p) => [p.source, p.planeId]), [['primary', 31]]);

  const withCursor = m.atomicTest({ primary: primary(), cursor: cursor() });
  assert.deepEqual(withCursor.composited.map((c) => [c.role, c.code]), [['primary', 'with-cursor'], ['cursor', 'no-plane']]);
  assert.match(withCursor.composited[1]!.reason, /no free cursor plane/);
  assert.deepEqual(withCursor.planes.map((p) => [p.source, p.drmFormat]), [['composition', DRM_FORMAT.XRGB8888]]);

  const tiled = m.atomicTest({ primary: primary({ modifier: DRM_FORMAT_MOD.I915_Y_TILED }) });
  assert.deepEqual(tiled.composited.map((c) => c.code), ['modifier']);
  const argb = m.atomicTest({ primary: primary({ drmFormat: DRM_FORMAT.ARGB8888 }) });
  assert.deepEqual(argb.composited.map((c) => c.code), ['format']);
  assert.deepEqual(m.atomicTest({}), { planes: [], composited: [], zeroCopy: true });
});

test('a device with duplicate plane ids is a configuration error', () => {
  assert.throws(() => new ScanoutModel({ name: 'bad', planes: [
    { id: 1, type: 'primary', formats: [], modifiers: [], maxWidth: 1, maxHeight: 1 },
    { id: 1, type: 'cursor', formats: [], modifiers: [], maxWidth: 1, maxHeight: 1 },
  ] }), RangeError);
});

test('verdict: the primary\'s part of the plan in one sentence', () => {
  const m = ScanoutModel.preset('i915-like');
  assert.deepEqual(m.verdict(primary()), {
    direct: true, host: 'i915-like', plane: 31,
    sentence: 'direct scanout: yes, host plane 31 (primary) of i915-like can show this 1920x1080 XRGB8888 LINEAR buffer as it is',
  });
  const yf = m.verdict(primary({ modifier: DRM_FORMAT_MOD.I915_Yf_TILED }));
  assert.deepEqual([yf.direct, yf.code, yf.plane], [false, 'modifier', undefined]);
  assert.equal(yf.sentence, 'direct scanout: no, modifier I915_Yf_TILED not supported by plane 31 (primary); ' +
    'the 1920x1080 XRGB8888 I915_Yf_TILED buffer must be composed');
  const dragged = m.verdict(primary(), cursor({ width: 32, height: 32, stride: 128 }));
  assert.equal(dragged.code, 'with-cursor');
  assert.match(dragged.sentence, /so the primary is composed too \(cursor 32x32 outside 64x64\.\.256x256 of plane 49 \(cursor\)\)/);
});
