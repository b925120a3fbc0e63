import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errno } from '../base/Errno.ts';
import { buildEdid, preferredMode } from '../vgpu/Edid.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { findEdidRegion, plugMonitor } from './MonitorPlug.ts';

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
