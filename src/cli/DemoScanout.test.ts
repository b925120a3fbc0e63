import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PAGE_SIZE, type GuestMemory } from '../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import type { DecodedPlane } from '../vgpu/Plane.ts';
import { setupDemoScanout } from './DemoScanout.ts';

/** The 0xAARRGGBB pixel at byte `offset` of a decoded plane, read through its pages. */
function pixel(memory: GuestMemory, p: DecodedPlane, offset: number): number {
  const a = p.pages[Math.floor(offset / PAGE_SIZE)]! * PAGE_SIZE + (offset % PAGE_SIZE);
  const b = memory.bytes;
  return (b[a]! | (b[a + 1]! << 8) | (b[a + 2]! << 16) | (b[a + 3]! << 24)) >>> 0;
}

function decoded(d: unknown): DecodedPlane {
  assert.ok(d !== null && typeof d === 'object', `a plane, got ${String(d)}`);
  return d as DecodedPlane;
}

describe('setupDemoScanout', () => {
  it('gvt: a filled 1024x768 primary and a 64x64 cursor at (100, 50) with hotspot (1, 1)', () => {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('gvt');
    assert.match(setupDemoScanout(vgpu), /^gvt: 1024x768/);
    const primary = decoded(vgpu.device.decodePlane(PlaneType.PRIMARY));
    assert.deepEqual([primary.drmFormat, primary.width, primary.height, primary.stride],
      [DRM_FORMAT.XRGB8888, 1024, 768, 4096]);
    for (const off of [0, 4096 * 384 + 2048, primary.size - 4]) {
      assert.equal(pixel(vgpu.memory, primary, off), 0xff204060, `primary byte ${off}`);
    }
    const cursor = decoded(vgpu.device.decodePlane(PlaneType.CURSOR));
    assert.deepEqual([cursor.drmFormat, cursor.width, cursor.height, cursor.xPos, cursor.yPos, cursor.xHot, cursor.yHot],
      [DRM_FORMAT.ARGB8888, 64, 64, 100, 50, 1, 1]);
    assert.equal(pixel(vgpu.memory, cursor, 64 * 4 * 63 + 252), 0xc0ffffff, 'last cursor pixel');
    // The back buffer sits between them: nothing overlaps the front buffer.
    assert.ok(cursor.pages[0]! >= primary.pages[0]! + 2 * primary.pages.length, 'separate buffers');
  });

  it('bochs: a 1024x768 mode; region devices need nothing', () => {
    const host = new EmulatedHost();
    const bochs = host.createVgpu('bochs');
    assert.match(setupDemoScanout(bochs), /^bochs/);
    const p = decoded(bochs.device.decodePlane(PlaneType.PRIMARY));
    assert.deepEqual([p.width, p.height], [1024, 768]);
    assert.match(setupDemoScanout(host.createVgpu('region')), /^region/);
  });
});
