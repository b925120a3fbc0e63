import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Errno } from '../base/Errno.ts';
import { VFIO_GFX_PLANE_TYPE_DMABUF, VFIO_GFX_PLANE_TYPE_REGION } from './Abi.ts';
import {
  PLANE_INFO_LAYOUT, PLANE_INFO_MINSZ, PLANE_INFO_SIZE, PlaneInfoView, encodePlaneInfoRequest, readPlaneInfo,
  writePlaneInfoOutputs,
} from './PlaneInfo.ts';
import type { PlaneInfoOutputs } from './PlaneInfo.ts';
import type { Field } from './StructLayout.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

const XTILED = 0x0100000000000001n; // I915_FORMAT_MOD_X_TILED
const XRGB8888 = 0x34325258;

const CURSOR_OUT: PlaneInfoOutputs = {
  drmFormat: 0x34325241, drmFormatMod: XTILED, width: 64, height: 64, stride: 256, size: 16384,
  xPos: -5, yPos: 100, xHot: 0xffffffff, yHot: 0xffffffff, dmabufId: 7,
};

test('encodePlaneInfoRequest: golden bytes, fresh zeroed 64 bytes', () => {
  const b = encodePlaneInfoRequest({ flags: VFIO_GFX_PLANE_TYPE_DMABUF, planeType: 1 });
  assert.equal(b.byteLength, 64);
  assert.equal(hex(b), '40000000' + '02000000' + '01000000' + '00'.repeat(52));
  const c = encodePlaneInfoRequest({ argsz: 60, flags: 3, planeType: 2 });
  assert.equal(hex(c.subarray(0, 12)), '3c000000' + '03000000' + '02000000');
  assert.notEqual(b.buffer, c.buffer);
});

test('writePlaneInfoOutputs: golden bytes', () => {
  const b = encodePlaneInfoRequest({ flags: VFIO_GFX_PLANE_TYPE_DMABUF, planeType: 2 });
  assert.equal(writePlaneInfoOutputs(b, CURSOR_OUT), 0);
  const want = unhex(`
    40000000 02000000 02000000 41523234
    0100000000000001
    40000000 40000000 00010000 00400000
    fbffffff 64000000 ffffffff ffffffff
    07000000 00000000`);
  assert.equal(hex(b), hex(want));
});

test('round trip through readPlaneInfo (property)', () => {
  const u32 = fc.nat({ max: 0xffffffff });
  fc.assert(fc.property(
    u32, u32, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), u32, u32, u32, u32, u32, u32, u32, u32, u32,
    (fmt, plane, mod, w, h, stride, size, xp, yp, xh, yh, id) => {
      const b = encodePlaneInfoRequest({ flags: VFIO_GFX_PLANE_TYPE_DMABUF, planeType: plane });
      const out: PlaneInfoOutputs = {
        drmFormat: fmt, drmFormatMod: mod, width: w, height: h, stride, size,
        xPos: xp, yPos: yp, xHot: xh, yHot: yh, dmabufId: id,
      };
      assert.equal(writePlaneInfoOutputs(b, out), 0);
      const r = readPlaneInfo(b);
      assert.deepEqual(r, {
        argsz: 64, flags: VFIO_GFX_PLANE_TYPE_DMABUF, drmPlaneType: plane, ...out, regionIndex: id,
        reserved: 0,
      });
    },
  ));
});

test('writePlaneInfoOutputs never touches bytes 60..63, nor argsz/flags/drm_plane_type', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.nat({ max: 0xffffffff }), fc.boolean(),
    (init, v, region) => {
      const b = init.slice();
      const out: PlaneInfoOutputs = {
        drmFormat: v, drmFormatMod: BigInt(v) << 20n, width: v, height: v ^ 1, stride: v, size: v,
        xPos: v, yPos: v, xHot: v, yHot: v, ...(region ? { regionIndex: v } : { dmabufId: v }),
      };
      assert.equal(writePlaneInfoOutputs(b, out), 0);
      assert.deepEqual(b.subarray(0, 12), init.subarray(0, 12));
      assert.deepEqual(b.subarray(60, 64), init.subarray(60, 64));
      assert.equal(readPlaneInfo(b).dmabufId, v);
    },
  ));
});

test('the output fields are exactly bytes 12..59', () => {
  const fields: readonly Field[] = Object.values(PLANE_INFO_LAYOUT.fields);
  const outputs = fields.filter((f) => f.offset >= 12 && f.offset < 60);
  const b = new Uint8Array(64).fill(0x5a);
  const zero: PlaneInfoOutputs = {
    drmFormat: 0, drmFormatMod: 0n, width: 0, height: 0, stride: 0, size: 0, xPos: 0, yPos: 0,
    xHot: 0, yHot: 0, dmabufId: 0,
  };
  writePlaneInfoOutputs(b, zero);
  assert.equal(hex(b), '5a'.repeat(12) + '00'.repeat(48) + '5a'.repeat(4));
  assert.equal(outputs.filter((f) => !f.alias).length, 11);
});

test('regionIndex shares bytes 56..59 with dmabufId', () => {
  const b = encodePlaneInfoRequest({ flags: VFIO_GFX_PLANE_TYPE_REGION, planeType: 0 });
  writePlaneInfoOutputs(b, { ...CURSOR_OUT, dmabufId: undefined, regionIndex: 16 });
  assert.equal(hex(b.subarray(56, 60)), '10000000');
  const r = readPlaneInfo(b);
  assert.equal(r.regionIndex, 16);
  assert.equal(r.dmabufId, 16);
});

test('short buffers: < 60 bytes is -EFAULT, a 60-byte (i386) buffer works', () => {
  assert.equal(writePlaneInfoOutputs(new Uint8Array(59), CURSOR_OUT), -Errno.EFAULT);
  const b = new Uint8Array(PLANE_INFO_MINSZ);
  assert.equal(writePlaneInfoOutputs(b, CURSOR_OUT), 0);
  const r = readPlaneInfo(b);
  assert.equal(r.dmabufId, 7);
  assert.equal(r.reserved, 0);
  assert.equal(r.drmFormatMod, XTILED);
});

test('works on a SharedArrayBuffer slice at a non-zero offset', () => {
  const sab = new SharedArrayBuffer(256);
  const all = new Uint8Array(sab).fill(0xee);
  const slice = new Uint8Array(sab, 100, PLANE_INFO_SIZE);
  slice.set(encodePlaneInfoRequest({ flags: VFIO_GFX_PLANE_TYPE_DMABUF, planeType: 1 }));
  slice.fill(0xcc, 60, 64);
  writePlaneInfoOutputs(slice, { ...CURSOR_OUT, drmFormat: XRGB8888 });
  assert.ok(all.subarray(0, 100).every((x) => x === 0xee));
  assert.ok(all.subarray(164).every((x) => x === 0xee));
  const r = readPlaneInfo(slice);
  assert.equal(r.drmFormat, XRGB8888);
  assert.equal(r.drmPlaneType, 1);
  assert.equal(r.reserved, 0xcccccccc);
  assert.equal(new DataView(sab).getUint32(112, true), XRGB8888);
});

test('PlaneInfoView: its request and every getter agree with the codec (property)', () => {
  const u32 = fc.nat({ max: 0xffffffff });
  const view = new PlaneInfoView();
  const bytes = view.bytes;
  fc.assert(fc.property(
    u32, u32, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), u32, u32, u32, u32, u32, u32, u32, u32, u32,
    (flags, plane, mod, w, h, stride, size, xp, yp, xh, yh, id) => {
      assert.equal(hex(view.request(flags, plane)), hex(encodePlaneInfoRequest({ flags, planeType: plane })));
      assert.equal(view.bytes, bytes, 'one buffer, reused');
      writePlaneInfoOutputs(view.bytes, {
        drmFormat: w ^ h, drmFormatMod: mod, width: w, height: h, stride, size, xPos: xp, yPos: yp, xHot: xh,
        yHot: yh, dmabufId: id,
      });
      const r = readPlaneInfo(view.bytes);
      assert.deepEqual(view.read(), r);
      assert.deepEqual(
        [view.flags, view.drmPlaneType, view.drmFormat, view.drmFormatMod, view.width, view.height, view.stride,
          view.size, view.xPos, view.yPos, view.xHot, view.yHot, view.dmabufId, view.regionIndex],
        [r.flags, r.drmPlaneType, r.drmFormat, r.drmFormatMod, r.width, r.height, r.stride, r.size, r.xPos,
          r.yPos, r.xHot, r.yHot, r.dmabufId, r.regionIndex]);
      assert.equal(view.disabled, r.drmFormat === 0 || r.size === 0);
      view.clearOutputs();
      assert.deepEqual([view.flags, view.drmFormat, view.drmFormatMod, view.dmabufId], [flags, 0, 0n, 0]);
    },
  ));
});
