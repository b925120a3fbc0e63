import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backingSize, destRect, effectiveFilter, guestPoint, scaleLabel, toDevice, wholeFactor } from './Viewport.ts';

test('off: 1:1, centred in a larger canvas, top-left in a smaller one', () => {
  assert.deepEqual(destRect('off', 640, 480, 1000, 700), { x: 180, y: 110, width: 640, height: 480 });
  assert.deepEqual(destRect('off', 1920, 1080, 1000, 700), { x: 0, y: 0, width: 1920, height: 1080 });
});

test('fit keeps the aspect ratio and letterboxes', () => {
  assert.deepEqual(destRect('fit', 640, 480, 1000, 700), { x: 33, y: 0, width: 933, height: 700 });
  assert.deepEqual(destRect('fit', 1920, 1080, 960, 1000), { x: 0, y: 230, width: 960, height: 540 });
});

test('integer uses the largest whole factor ≥ 1: a larger guest stays 1:1 (the tile scrolls), never shrunk', () => {
  assert.deepEqual(destRect('integer', 640, 480, 2000, 1500), { x: 40, y: 30, width: 1920, height: 1440 });
  assert.deepEqual(destRect('integer', 640, 480, 1000, 700), { x: 180, y: 110, width: 640, height: 480 });
  assert.deepEqual(destRect('integer', 1920, 1080, 960, 540), { x: 0, y: 0, width: 1920, height: 1080 });
  assert.deepEqual([wholeFactor('integer', 1920, 1200, 1000, 640), wholeFactor('integer', 320, 200, 1000, 640),
    wholeFactor('off', 320, 200, 1000, 640), wholeFactor('fit', 320, 200, 1000, 640)], [1, 3, 1, 0]);
});

test('backing store: device-pixel box when it agrees with CSS × DPR, else CSS × DPR (emulated DPR)', () => {
  assert.deepEqual(backingSize(800, 600, 1.5, { width: 1200, height: 900 }), { width: 1200, height: 900 });
  assert.deepEqual(backingSize(800.4, 600, 1.5, { width: 1201, height: 900 }), { width: 1201, height: 900 });
  // Chromium's DPR emulation: the observer still reports 1×.
  assert.deepEqual(backingSize(800, 600, 1.5, { width: 800, height: 600 }), { width: 1200, height: 900 });
  assert.deepEqual(backingSize(800, 600, 2), { width: 1600, height: 1200 });
});

test('the scale shown: 1:1, whole factors, fit with two decimals', () => {
  assert.equal(scaleLabel('integer', { x: 0, y: 0, width: 640, height: 480 }, 640), '1:1');
  assert.equal(scaleLabel('integer', { x: 0, y: 0, width: 1280, height: 960 }, 640), '2×');
  assert.equal(scaleLabel('fit', { x: 0, y: 0, width: 933, height: 700 }, 1280), 'fit 0.73×');
});

test('empty sizes give an empty destination', () => {
  assert.deepEqual(destRect('fit', 0, 480, 100, 100), { x: 0, y: 0, width: 0, height: 0 });
  assert.deepEqual(destRect('fit', 10, 10, 0, 100), { x: 0, y: 0, width: 0, height: 0 });
});

test('auto filter: nearest at whole factors, linear otherwise; explicit choices win', () => {
  assert.equal(effectiveFilter('auto', { x: 0, y: 0, width: 1280, height: 960 }, 640, 480), 'nearest');
  assert.equal(effectiveFilter('auto', { x: 0, y: 0, width: 933, height: 700 }, 640, 480), 'linear');
  assert.equal(effectiveFilter('linear', { x: 0, y: 0, width: 640, height: 480 }, 640, 480), 'linear');
  assert.equal(effectiveFilter('nearest', { x: 0, y: 0, width: 933, height: 700 }, 640, 480), 'nearest');
});

test('guestPoint inverts the scale and clamps outside the picture', () => {
  const d = { x: 40, y: 30, width: 1920, height: 1440 }; // 3x of 640x480
  assert.deepEqual(guestPoint(d, 640, 480, 40, 30), { x: 0, y: 0, inside: true });
  assert.deepEqual(guestPoint(d, 640, 480, 42.9, 32.9), { x: 0, y: 0, inside: true });
  assert.deepEqual(guestPoint(d, 640, 480, 43, 33), { x: 1, y: 1, inside: true });
  assert.deepEqual(guestPoint(d, 640, 480, 1959.9, 1469.9), { x: 639, y: 479, inside: true });
  assert.deepEqual(guestPoint(d, 640, 480, 10, 2000), { x: 0, y: 479, inside: false });
  assert.deepEqual(guestPoint({ x: 0, y: 0, width: 0, height: 0 }, 640, 480, 5, 5), { x: 0, y: 0, inside: false });
});

test('toDevice maps a (negative) cursor rectangle with the frame', () => {
  assert.deepEqual(toDevice({ x: 10, y: 20, width: 1280, height: 960 }, 640, 480, { x: -4, y: 3, width: 64, height: 64 }),
    { x: 2, y: 26, width: 128, height: 128 });
});
