import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { asGvt, gvtFlip, gvtPrimary, mapGtt } from '../testkit/VfioFixtures.ts';
import { PlaneExporter } from './PlaneExporter.ts';

function setup(capacity = 2) {
  const host = new EmulatedHost();
  const v = host.createVgpu('gvt');
  const fd = host.openDevice(v.uuid);
  const dev = asGvt(v);
  return { host, v, fd, dev, ex: new PlaneExporter(host.kernel, fd, capacity) };
}

test('a dmabuf_id seen before reuses the held dma-buf; new ids are exported and mapped once', () => {
  const { host, v, dev, ex } = setup();
  assert.equal(ex.acquire(PlaneType.PRIMARY), null, 'no plane yet');
  const { gma, size } = gvtPrimary(dev, { width: 64, height: 64, guestPage: 1024 });
  v.memory.bytes[1024 * PAGE_SIZE] = 0xab;
  const a = ex.acquire(PlaneType.PRIMARY);
  assert.ok(a && typeof a === 'object', `acquire: ${String(a)}`);
  assert.equal(a.mapping.chunks[0]![0], 0xab, 'the mapping is the guest page');
  const b = ex.acquire(PlaneType.PRIMARY);
  assert.ok(b && typeof b === 'object', 'acquire again');
  assert.equal(b.id, a.id);
  assert.equal(b.fd, a.fd);
  assert.equal(ex.gets, 1);

  // Flip to a second and a third buffer: capacity 2 closes the least recently used dma-buf.
  const open = host.kernel.fds.openCount;
  mapGtt(dev, gma + size, 2048, size / PAGE_SIZE);
  gvtFlip(dev, gma + size);
  const c = ex.acquire(PlaneType.PRIMARY);
  assert.ok(c && typeof c === 'object' && c.id !== a.id, 'a new id');
  mapGtt(dev, gma + 2 * size, 3072, size / PAGE_SIZE);
  gvtFlip(dev, gma + 2 * size);
  ex.acquire(PlaneType.PRIMARY);
  assert.equal(ex.gets, 3);
  assert.equal(ex.held.length, 2);
  assert.ok(!ex.held.includes(a.id), 'the oldest was closed');
  assert.equal(host.kernel.fds.openCount, open + 1);
  ex.dispose();
  assert.equal(host.kernel.fds.openCount, open - 1, 'dispose closes every held dma-buf');
});

test('QUERY errors come back as -errno', () => {
  const { dev, ex } = setup();
  gvtPrimary(dev, { width: 64, height: 64 });
  // Point the plane at a GMA with no GGTT entry.
  gvtFlip(dev, dev.aperture.base + 64 * PAGE_SIZE);
  const r = ex.acquire(PlaneType.PRIMARY);
  assert.equal(typeof r, 'number');
  assert.ok((r as number) < 0);
  assert.equal(ex.query(PlaneType.OVERLAY).rc, 0, 'overlay: disabled, not an error');
});
