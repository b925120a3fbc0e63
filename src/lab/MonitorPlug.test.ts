import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errno } from '../base/Errno.ts';
import { buildEdid, preferredMode } from '../vgpu/Edid.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { findEdidRegion, plugMonitor, readMonitor } from './MonitorPlug.ts';

for (const kind of ['gvt', 'bochs'] as const) {
  test(`${kind}: a monitor plugged through the EDID region reaches the display link`, () => {
    const host = new EmulatedHost();
    const v = host.createVgpu(kind);
    const fd = host.openDevice(v.uuid);
    assert.ok(findEdidRegion(host.kernel, fd) > 0);
    const gen = v.link.generation;
    assert.equal(plugMonitor(host.kernel, fd, buildEdid({ width: 800, height: 600 })), 0);
    assert.deepEqual(preferredMode(v.link.edid!), { width: 800, height: 600 });
    assert.ok(v.link.linkUp);
    assert.equal(v.link.generation, gen + 2, 'link down, then up');
    assert.equal(plugMonitor(host.kernel, fd, undefined), 0);
    assert.equal(v.link.linkUp, false);
    assert.equal(plugMonitor(host.kernel, fd, new Uint8Array(128)), -Errno.EINVAL, 'invalid blob refused');
    assert.equal(plugMonitor(host.kernel, 999, undefined), -Errno.ENOENT);
  });
}

test('readMonitor reads back the plugged blob and the device\'s max_xres/max_yres (4-byte register reads)', () => {
  const host = new EmulatedHost();
  const v = host.createVgpu('gvt');
  const fd = host.openDevice(v.uuid);
  const first = readMonitor(host.kernel, fd);
  assert.ok(typeof first !== 'number', `readMonitor: ${String(first)}`);
  assert.ok(first.maxXres > 0 && first.maxYres > 0, 'the gvt model has limits');
  const blob = buildEdid({ width: 1024, height: 768 });
  assert.equal(plugMonitor(host.kernel, fd, blob), 0);
  const now = readMonitor(host.kernel, fd);
  assert.ok(typeof now !== 'number');
  assert.deepEqual([...now.edid], [...blob]);
  // Plugging the first blob back restores the first preferred mode.
  assert.equal(plugMonitor(host.kernel, fd, first.edid), 0);
  assert.deepEqual(preferredMode(v.link.edid!), preferredMode(first.edid));
  assert.equal(readMonitor(host.kernel, 999), -Errno.ENOENT);
});
