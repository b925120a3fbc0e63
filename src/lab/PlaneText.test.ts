import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestMemory } from '../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { X_TILED } from '../kms/Tiling.ts';
import { Surface } from '../guest/os/Surface.ts';
import { contiguousSource } from '../render/PixelSource.ts';
import { planeText } from './PlaneText.ts';

test('OCR of an X-tiled RGB565 plane from its bytes; bad geometry reads as nothing', () => {
  const memory = new GuestMemory(1 << 20);
  const pages = Array.from({ length: 40 }, (_, i) => 10 + i);
  const s = new Surface(memory, undefined, {
    pages, width: 160, height: 64, stride: 512, format: DRM_FORMAT.RGB565, tiling: X_TILED,
  });
  s.clear(0xff203040);
  s.drawText(0, 16, 'hello, tiles', 0xffffffff);
  s.drawText(8, 48, 'root@vgpu:~#', 0xff00ff00, 0xff000000);
  const src = contiguousSource(memory.bytes.subarray(10 * 4096, 50 * 4096));
  const g = { drmFormat: DRM_FORMAT.RGB565, drmFormatMod: DRM_FORMAT_MOD.I915_X_TILED, width: 160, height: 64, stride: 512 };
  assert.deepEqual(planeText(g, src), ['', 'hello, tiles', '', ' root@vgpu:~#']);
  assert.deepEqual(planeText({ ...g, stride: 100 }, src), []);
  assert.deepEqual(planeText({ ...g, height: 4000 }, src), [], 'buffer too short');
  assert.deepEqual(planeText({ ...g, drmFormat: DRM_FORMAT.C8 }, src), []);
});
