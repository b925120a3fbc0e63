import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROMPT } from '../guest/os/Shell.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { GuestVm } from './GuestVm.ts';

test('configuration errors are RangeErrors and leave nothing behind', () => {
  const host = new EmulatedHost();
  const fds = host.kernel.fds.openCount;
  assert.throws(() => GuestVm.create({ host }), RangeError);
  assert.throws(() => GuestVm.create({ host, type: 'mdpy-xga' }), /no guest driver for a region vGPU/);
  assert.throws(() => GuestVm.create({ host, kind: 'gvt', monitor: new Uint8Array(128) }), /refused the monitor/);
  assert.throws(() => GuestVm.create({ host, type: 'nope' }), /unknown mdev type/);
  assert.deepEqual(host.vgpus, []);
  assert.equal(host.kernel.fds.openCount, fds);
});

test('boot, paced vblanks, the screen through the exported plane; dispose releases everything', async () => {
  const host = new EmulatedHost();
  const fds = host.kernel.fds.openCount;
  const g = GuestVm.create({ host, type: 'i915-GVTg_V5_8', name: 'vm-a', monitor: { width: 640, height: 480 } });
  assert.equal(g.kind, 'gvt');
  assert.equal(g.name, 'vm-a');
  await g.boot();
  const st = await g.step(3);
  assert.equal(st.vblankAck, 3, 'every vblank handled, none coalesced');
  assert.equal(st.vblanks, 3);
  const lines = await g.waitForScreen(PROMPT.trimEnd(), 60_000);
  assert.ok(lines.some((l) => l.includes('display: gvt, EDID preferred 640x480')), lines.join('\n'));
  assert.equal(g.query(PlaneType.PRIMARY).info.width, 640);
  await assert.rejects(g.stepUntil(() => false, 'never', 2), /never not reached after 2 vblanks; screen:\n.*root@vgpu/s);
  g.dispose();
  assert.equal(g.vm.state, 'destroyed');
  assert.equal(host.vgpu(g.uuid), undefined);
  assert.equal(host.kernel.fds.openCount, fds, 'device fd and dma-bufs closed');
  g.dispose();
});
