// The sources behind VfioDisplay, through its one-shot `capture`: the same cache as the refresh
// path, the console untouched, and real mbochs' first-query -ENOMEM (B12) retried in one place.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../base/Clock.ts';
import { Errno } from '../base/Errno.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { VFIO_DEVICE_QUERY_GFX_PLANE } from '../vfio/Abi.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { FaultSys } from '../testkit/FaultSys.ts';
import { GvtGuest } from '../testkit/GvtGuest.ts';
import type { DisplayStatus } from './DisplayConsole.ts';
import { VfioDisplay } from './VfioDisplay.ts';

function rig() {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu('gvt', { ramBytes: 16 * 1024 * 1024 });
  const guest = new GvtGuest(vgpu);
  const fd = host.openDevice(vgpu.uuid);
  assert.ok(fd >= 0, 'device open');
  const sys = new FaultSys(host.kernel);
  const display = new VfioDisplay(sys, fd, { clock: new VirtualClock(), policy: 'timer' });
  const statuses: DisplayStatus[] = [];
  display.console.onStatus((s) => statuses.push(s));
  return { host, vgpu, guest, sys, display, statuses };
}

describe('VfioDisplay.capture', () => {
  it('answers from the refresh path\'s cache: the shown buffer, no second GET, no console event', () => {
    const r = rig();
    const a = r.guest.alloc({ width: 64, height: 32 });
    r.guest.showPrimary(a);
    r.guest.vblank();
    r.display.start();
    const shown = r.display.console.scanout;
    assert.ok(shown, 'a frame is shown');
    const gets = r.display.stats.gets;
    const events = r.statuses.length;
    const c = r.display.capture(PlaneType.PRIMARY);
    assert.equal(c.kind, 'frame');
    assert.ok(c.kind === 'frame' && c.buffer === shown, 'the very buffer on screen');
    assert.equal(c.plane.dmabufId, shown.id);
    assert.equal(r.display.stats.gets, gets, 'a cache hit');
    assert.equal(r.statuses.length, events, 'no status event');
    assert.equal(r.display.console.scanout, shown);
    r.display.dispose();
  });

  it('a capture before any refresh caches what it maps; the refresh then hits it', () => {
    const r = rig();
    const a = r.guest.alloc({ width: 64, height: 32 });
    r.guest.showPrimary(a);
    r.guest.vblank();
    const c = r.display.capture();
    assert.equal(c.kind, 'frame');
    assert.equal(r.display.stats.gets, 1);
    assert.equal(r.display.console.scanout, undefined, 'capture shows nothing');
    assert.equal(r.display.console.status.message, 'not started');
    r.display.start();
    assert.equal(r.display.stats.gets, 1, 'the refresh found it in the cache');
    assert.ok(c.kind === 'frame' && r.display.console.scanout === c.buffer, 'and shows that buffer');
    r.display.dispose();
    assert.equal(r.host.kernel.fds.countByKind()['dmabuf'] ?? 0, 0, 'dispose closed it');
  });

  it('-ENOMEM on the first QUERY (mbochs after a mode change, B12) is asked once more; twice is an error', () => {
    const r = rig();
    const a = r.guest.alloc({ width: 64, height: 32 });
    r.guest.showPrimary(a);
    r.guest.vblank();
    // mbochs answers the PROBE query at once; only plane queries see the ENOMEM.
    assert.equal(r.display.probe(), 'dmabuf');
    let fail = 1;
    r.sys.fault = (_fd, req) => (req === VFIO_DEVICE_QUERY_GFX_PLANE && fail-- > 0 ? -Errno.ENOMEM : undefined);
    const ok = r.display.capture();
    assert.equal(ok.kind, 'frame');
    assert.equal(r.display.stats.retries, 1);
    fail = 2;
    const bad = r.display.capture();
    assert.equal(bad.kind, 'error');
    assert.ok(bad.kind === 'error' && bad.errno === -Errno.ENOMEM && /ENOMEM/.test(bad.message), JSON.stringify(bad));
    assert.equal(r.display.stats.retries, 2);
    assert.equal(r.statuses.length, 0, 'a capture never sets the console status');
    r.display.dispose();
  });

  it('a disabled plane is off, with the QUERY answer', () => {
    const r = rig();
    const c = r.display.capture(PlaneType.CURSOR);
    assert.equal(c.kind, 'off');
    assert.ok(c.kind === 'off' && c.plane.drmFormat === 0 && c.plane.drmPlaneType === PlaneType.CURSOR);
    assert.equal(r.display.stats.gets, 0);
    r.display.dispose();
  });

  it('region devices: a fresh counted copy, never the staging buffer on screen', () => {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('mdpy-vga');
    const fd = host.openDevice(vgpu.uuid);
    const display = new VfioDisplay(host.kernel, fd, { clock: new VirtualClock() });
    display.start();
    const shown = display.console.scanout;
    assert.ok(shown, 'a frame is shown');
    const copied = display.stats.bytesCopied;
    vgpu.memory.bytes[vgpu.layout.fbFirstPage! * 4096 + 7] = 0x5a;
    const c = display.capture();
    assert.ok(c.kind === 'frame', `capture: ${c.kind}`);
    assert.notEqual(c.buffer, shown);
    assert.equal(c.buffer.kind, 'region');
    assert.equal(c.plane.regionIndex, shown.id);
    assert.equal(c.buffer.mapping.chunks[0]![7], 0x5a, 'what the region holds now');
    assert.equal(display.stats.bytesCopied - copied, 2560 * 480, 'the copy is counted');
    display.dispose();
  });
});
