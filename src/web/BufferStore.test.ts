import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { X_TILED, Y_TILED } from '../kms/Tiling.ts';
import { Msg } from '../protocol/RemoteProtocol.ts';
import { BufferStore, StoreLimits } from './BufferStore.ts';
import type { BufferCreate } from './BufferStore.ts';
import { checkPlane, isPlaneProblem, rowsOfBytes } from './PlaneCheck.ts';

const create = (o: Partial<BufferCreate> = {}): BufferCreate => ({
  type: Msg.BUFFER_CREATE, id: 1, drmFormat: DRM_FORMAT.XRGB8888, modifier: 0n, width: 64, height: 32,
  stride: 256, size: 256 * 32, ...o,
});

test('mirrors are padded to whole texture rows and writes are bounds-checked', () => {
  const s = new BufferStore(() => 5);
  const r = s.create(create());
  assert.ok(typeof r !== 'string');
  assert.equal(r.buffer.bytes.length, StoreLimits.ROW_BYTES);
  assert.equal(r.buffer.createdAt, 5);
  const w = s.write(1, 100, Uint8Array.of(1, 2, 3));
  assert.ok(typeof w !== 'string');
  assert.deepEqual([w.lo, w.hi, r.buffer.bytes[101]], [100, 103, 2]);
  assert.match(s.write(1, 256 * 32 - 1, Uint8Array.of(1, 2)) as string, /beyond size/);
  assert.match(s.write(9, 0, Uint8Array.of(1)) as string, /unknown buffer 9/);
  assert.equal(r.buffer.bytesReceived, 3);
});

test('hostile sizes are refused without allocating; a re-created id replaces the old mirror', () => {
  const s = new BufferStore(() => 0);
  assert.match(s.create(create({ size: 0xffffffff })) as string, /bad stride .* or size/);
  assert.match(s.create(create({ width: 100000 })) as string, /bad size/);
  assert.equal(s.totalBytes, 0);
  const first = s.create(create());
  const again = s.create(create({ size: 40000 }));
  assert.ok(typeof first !== 'string' && typeof again !== 'string');
  assert.equal(again.replaced, first.buffer);
  assert.equal(s.totalBytes, 3 * StoreLimits.ROW_BYTES);
  assert.equal(s.release(1), again.buffer);
  assert.equal(s.release(1), undefined);
  assert.equal(s.totalBytes, 0);
  for (let i = 0; i < StoreLimits.MAX_BUFFERS; i++) assert.equal(typeof s.create(create({ id: i })), 'object');
  assert.match(s.create(create({ id: 999 })) as string, /more than 64 buffers/);
});

test('checkPlane applies the reference rules; rowsOfBytes covers whole tile rows', () => {
  const s = new BufferStore(() => 0);
  const b = (o: Partial<BufferCreate>) => {
    const r = s.create(create(o));
    assert.ok(typeof r !== 'string');
    return r.buffer;
  };
  assert.deepEqual(checkPlane(b({ id: 1 })), { layout: { name: 'linear', tileWidth: 1, tileHeight: 1 }, unitBytes: 4, unitPixels: 1 });
  const p = (o: Partial<BufferCreate>): string => {
    const r = checkPlane(b(o));
    return isPlaneProblem(r) ? `${r.kind}: ${r.message}` : 'ok';
  };
  assert.equal(p({ id: 2, drmFormat: 0x3231564e }), 'format: pixel format \'NV12\'(0x3231564e)');
  assert.equal(p({ id: 3, modifier: DRM_FORMAT_MOD.I915_Yf_TILED }), 'modifier: modifier I915_Yf_TILED');
  assert.equal(p({ id: 4, modifier: DRM_FORMAT_MOD.I915_X_TILED }), 'geometry: stride 256 is not whole x tiles');
  assert.equal(p({ id: 5, stride: 128 }), 'geometry: stride 128 < 256 bytes of 64 XRGB8888 pixels');
  assert.equal(p({ id: 6, size: 1000 }), 'geometry: buffer of 1000 bytes < 8192 needed');
  assert.equal(p({ id: 7, drmFormat: DRM_FORMAT.YUYV, width: 63 }), 'geometry: YUYV needs an even width, got 63');
  const x = b({ id: 8, width: 128, height: 40, stride: 512, size: 512 * 40 });
  assert.deepEqual(rowsOfBytes(x, X_TILED, 0, 1), [0, 8]);
  assert.deepEqual(rowsOfBytes(x, X_TILED, 4096, 4097), [8, 16]);
  assert.deepEqual(rowsOfBytes(x, X_TILED, 4095, 4097), [0, 16]);
  assert.deepEqual(rowsOfBytes(x, Y_TILED, 512 * 32, 512 * 40), [32, 40]);
});
