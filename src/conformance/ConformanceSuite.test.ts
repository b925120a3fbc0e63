import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Errno } from '../base/Errno.ts';
import { Ggtt } from '../gpu/Ggtt.ts';
import { GuestMemory, PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import {
  VFIO_DEVICE_GET_GFX_DMABUF, VFIO_GFX_PLANE_TYPE_DMABUF, VFIO_GFX_PLANE_TYPE_PROBE,
  VFIO_GFX_PLANE_TYPE_REGION,
} from '../vfio/Abi.ts';
import { BochsMdev } from '../vfio/BochsMdev.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { EmulatedKernel } from '../vfio/EmulatedKernel.ts';
import type { FdTable } from '../vfio/FdTable.ts';
import { GvtMdev } from '../vfio/GvtMdev.ts';
import { bochsKey } from '../vfio/MdevKeys.ts';
import type { OpenFile } from '../vfio/OpenFile.ts';
import { RegionMdev } from '../vfio/RegionMdev.ts';
import type { VfioMdev } from '../vfio/VfioMdev.ts';
import { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { DisplayLink } from '../vgpu/DisplayLink.ts';
import { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import { RegionDevice } from '../vgpu/region/RegionDevice.ts';
import type { ConformanceReport } from './Check.ts';
import { ALL_CHECKS, formatReport, runConformance } from './ConformanceSuite.ts';

const MiB = 1024 * 1024;

/** Run the suite on a vGPU of the emulated host, as the CLI does. */
function runHost(kind: 'gvt' | 'bochs' | 'region', real = false): ConformanceReport {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu(kind);
  const fd = host.openDevice(vgpu.uuid);
  assert.ok(fd >= 0);
  const report = runConformance({
    sys: host.kernel, fd, real, device: `emulated:${kind}`,
    vblank: () => vgpu.device.vblank(), openFdCount: () => host.kernel.fds.openCount,
  });
  assert.equal(host.kernel.oopses, 0, `kernel oops: ${String(host.kernel.lastOops)}`);
  return report;
}

/** Open an mdev (possibly a broken subclass) in a fresh emulated kernel and run the suite. */
function runMdev(mdev: VfioMdev, vblank: () => void, real = false): ConformanceReport {
  const kernel = new EmulatedKernel();
  const file = mdev.open();
  assert.ok(typeof file !== 'number');
  const fd = kernel.install(file, true);
  const report = runConformance({ sys: kernel, fd, real, vblank, openFdCount: () => kernel.fds.openCount });
  assert.equal(kernel.oopses, 0, `kernel oops: ${String(kernel.lastOops)}`);
  return report;
}

function bochsDevice(): BochsDevice {
  const ramPages = 2048;
  const vramPages = (16 * MiB) / PAGE_SIZE;
  const memory = new GuestMemory((ramPages + vramPages) * PAGE_SIZE);
  return new BochsDevice({ memory, vramFirstPage: ramPages, vramPages, maxXres: 1920, maxYres: 1440 });
}

function gvtDevice(): GvtDevice {
  const ggtt = new Ggtt(1 << 20);
  const memory = new GuestMemory(64 * MiB);
  assert.ok(ggtt.allocate(1, 128 * MiB, 512 * MiB, memory.pageCount));
  return new GvtDevice({ memory, ggtt, vmId: 1 });
}

const gvtOpts = { edidWidth: 1920, edidHeight: 1200, sink: new DisplayLink() };
const UUID = '6d1b0c2e-6a0e-4f5b-9b7a-0000000000aa';

const status = (r: ConformanceReport, name: string): string => {
  const c = r.checks.find((x) => x.name === name);
  if (c) return c.status;
  return r.notApplicable.some((x) => x.name === name) ? 'n/a' : 'missing';
};

const failures = (r: ConformanceReport): string =>
  r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('\n');

// ---- the three emulated devices pass -----------------------------------------------------------

for (const kind of ['gvt', 'bochs'] as const) {
  test(`emulated ${kind}: at least 40 checks run, none fails, no quirks`, () => {
    const r = runHost(kind);
    assert.equal(r.family, kind);
    assert.equal(r.failed, 0, failures(r));
    assert.ok(r.checks.length >= 40, `only ${r.checks.length} checks ran`);
    assert.equal(r.passed, r.checks.length);
    assert.deepEqual(r.quirks, []);
    const names = ['dmabuf.second-get', 'lifetime.device-close', 'lifetime.fd-baseline', 'plane.flip',
      'irq.display-event'];
    for (const name of names) {
      assert.equal(status(r, name), 'ok', name);
    }
  });
}

test('emulated region: every check that applies passes, the region checks among them', () => {
  const r = runHost('region');
  assert.equal(r.family, 'region');
  assert.equal(r.failed, 0, failures(r));
  for (const name of ['region.display-region', 'region.query', 'region.plane-type-ignored', 'region.get-enotty',
    'region.pixels', 'region.reset', 'probe.region', 'flags.all-combinations', 'query.argsz-60']) {
    assert.equal(status(r, name), 'ok', name);
  }
  assert.equal(status(r, 'dmabuf.get'), 'n/a');
  assert.equal(r.checks.length + r.notApplicable.length, ALL_CHECKS.length);
});

test('behaviour differences are reported per driver', () => {
  const gvt = runHost('gvt').behaviour;
  const bochs = runHost('bochs').behaviour;
  assert.equal(gvt['get-unknown-id'], '-EINVAL');
  assert.equal(bochs['get-unknown-id'], '-ENOENT');
  assert.equal(gvt.overlay, 'exported sprite plane');
  assert.equal(bochs.overlay, 'empty plane');
  assert.equal(gvt['invalid-plane-type'], '-EINVAL');
  assert.equal(bochs['invalid-plane-type'], 'empty plane');
  assert.equal(gvt['primary-hotspot'], '0x0,0x0'); // GVT-g's zeroed fb_info
  assert.equal(bochs['primary-hotspot'], '0x0,0x0');
  assert.match(gvt['display-irq']!, /^present/);
  assert.match(gvt['released-id']!, /rejected/);
  assert.match(bochs['released-id']!, /kept/);
});

test('GVT without an overlay export: OVERLAY -EINVAL is reported as behaviour, not a failure', () => {
  const ggtt = new Ggtt(1 << 20);
  const memory = new GuestMemory(64 * MiB);
  ggtt.allocate(1, 128 * MiB, 512 * MiB, memory.pageCount);
  const device = new GvtDevice({ memory, ggtt, vmId: 1, exportOverlay: false });
  const r = runMdev(new GvtMdev(UUID, 'i915-GVTg_V5_4', device, gvtOpts), () => device.vblank());
  assert.equal(r.failed, 0, failures(r));
  assert.equal(r.behaviour.overlay, '-EINVAL (overlay planes not exported)');
});

test('GVT without a vblank hook: the checks that need a latched flip are n/a, nothing fails', () => {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu('gvt');
  const fd = host.openDevice(vgpu.uuid);
  const r = runConformance({ sys: host.kernel, fd, real: false });
  assert.equal(r.failed, 0, failures(r));
  assert.equal(status(r, 'plane.flip'), 'n/a');
  assert.match(r.notApplicable.find((n) => n.name === 'plane.mode')!.reason, /vblank/);
});

test('only: runs the selected checks', () => {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu('bochs');
  const fd = host.openDevice(vgpu.uuid);
  const r = runConformance({ sys: host.kernel, fd, real: false, only: ['flags.', 'probe.'] });
  const want = ALL_CHECKS.map((c) => c.name).filter((n) => /^(flags|probe)\./.test(n));
  assert.deepEqual(r.checks.map((c) => c.name), want);
  assert.equal(r.failed, 0);
});

test('formatReport: one line per check and n/a, then a summary', () => {
  const r = runHost('bochs');
  const lines = formatReport(r);
  assert.equal(lines.filter((l) => /^(ok|FAIL|quirk|n\/a) /.test(l)).length, ALL_CHECKS.length);
  assert.match(lines.at(-1)!, /emulated:bochs \(bochs, emulated\): \d+ checks, \d+ ok, 0 failed, 0 quirks/);
});

// ---- mutation tests: the suite catches broken devices ------------------------------------------

/** mbochs B12: the first query after a mode change returns -ENOMEM (the buffer is still listed). */
class B12Bochs extends BochsMdev {
  private readonly _seen = new Set<string>();
  protected override _queryPlane(flags: number, planeType: number, arg: Uint8Array): number {
    const primary = flags === VFIO_GFX_PLANE_TYPE_DMABUF && planeType === PlaneType.PRIMARY;
    const p = primary ? this.device.decodePlane(planeType) : null;
    if (p && !this._seen.has(bochsKey(p))) {
      this._seen.add(bochsKey(p));
      super._queryPlane(flags, planeType, arg);
      return -Errno.ENOMEM;
    }
    return super._queryPlane(flags, planeType, arg);
  }
}

test('mutation B12 (first query -ENOMEM): a failure on an emulated device', () => {
  const device = bochsDevice();
  const r = runMdev(new B12Bochs(UUID, 'mbochs-medium', device), () => device.vblank());
  assert.equal(status(r, 'plane.first-query-after-mode-change'), 'fail');
  assert.match(r.checks.find((c) => c.name === 'plane.first-query-after-mode-change')!.detail, /B12/);
  assert.ok(r.failed > 0);
});

test('mutation B12 on a "real" device: reported as quirk B12, the rest retries and passes', () => {
  const device = bochsDevice();
  const r = runMdev(new B12Bochs(UUID, 'mbochs-medium', device), () => device.vblank(), true);
  assert.equal(r.failed, 0, failures(r));
  assert.ok(r.quirks.some((q) => q.name === 'plane.first-query-after-mode-change' && q.bug === 'B12'));
  // A second GET of a live id is never issued against a real device.
  assert.ok(r.quirks.some((q) => q.name === 'dmabuf.second-get' && q.bug === 'B13'));
  assert.equal(status(r, 'lifetime.device-close'), 'n/a');
});

/** Copies back 64 bytes: bytes 60..63 (reserved) get written. */
class TailWriterBochs extends BochsMdev {
  protected override _queryPlane(flags: number, planeType: number, arg: Uint8Array): number {
    const rc = super._queryPlane(flags, planeType, arg);
    if (rc === 0 && arg.byteLength >= 64) arg.fill(0, 60, 64);
    return rc;
  }
}

test('mutation: writing bytes 60..63 fails query.argsz-60 and query.argsz-64', () => {
  const device = bochsDevice();
  const r = runMdev(new TailWriterBochs(UUID, 'mbochs-medium', device), () => device.vblank());
  assert.equal(status(r, 'query.argsz-60'), 'fail');
  assert.equal(status(r, 'query.argsz-64'), 'fail');
  assert.equal(status(r, 'plane.mode'), 'ok');
});

/** Leaves a disabled plane's outputs as the caller wrote them (GVT upstream's -ENODEV → 0). */
class UntouchedBochs extends BochsMdev {
  protected override _queryPlane(flags: number, planeType: number, arg: Uint8Array): number {
    if (flags === VFIO_GFX_PLANE_TYPE_DMABUF && this.device.decodePlane(PlaneType.PRIMARY) === null) return 0;
    return super._queryPlane(flags, planeType, arg);
  }
}

test('mutation: a disabled plane with untouched outputs fails plane.disabled', () => {
  const device = bochsDevice();
  const r = runMdev(new UntouchedBochs(UUID, 'mbochs-medium', device), () => device.vblank());
  assert.equal(status(r, 'plane.disabled'), 'fail');
});

/**
 * mbochs B13: a second GET of a live id installs the SAME file again without taking a
 * reference, so closing the first fd releases the dma-buf under the second.
 */
class SharedFileGvt extends GvtMdev {
  private readonly _files = new Map<number, OpenFile>();
  public override _ioctl(request: number, arg: Uint8Array, fds: FdTable): number {
    if (request !== VFIO_DEVICE_GET_GFX_DMABUF || arg.byteLength < 4) return super._ioctl(request, arg, fds);
    const id = new DataView(arg.buffer, arg.byteOffset, 4).getUint32(0, true);
    const live = this._files.get(id);
    if (live && live.fdRefs > 0) {
      const fd = fds.install(live, true);
      if (fd >= 0) live.fdRefs--; // dma_buf_fd without get_dma_buf: one reference, two fds
      return fd;
    }
    const fd = super._ioctl(request, arg, fds);
    if (fd >= 0) this._files.set(id, fds.get(fd)!);
    return fd;
  }
}

test('mutation B13: a GET that reuses one file fails dmabuf.second-get', () => {
  const device = gvtDevice();
  const r = runMdev(new SharedFileGvt(UUID, 'i915-GVTg_V5_4', device, gvtOpts), () => device.vblank());
  assert.equal(status(r, 'dmabuf.second-get'), 'fail');
  assert.match(r.checks.find((c) => c.name === 'dmabuf.second-get')!.detail, /ENODEV/);
});

/** Claims region support too. */
class RegionProbeGvt extends GvtMdev {
  protected override _queryPlane(flags: number, planeType: number, arg: Uint8Array): number {
    if (flags === (VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_REGION)) return 0;
    return super._queryPlane(flags, planeType, arg);
  }
}

test('mutation: accepting PROBE|REGION on a dma-buf device fails probe.region and flags.all-combinations', () => {
  const device = gvtDevice();
  const r = runMdev(new RegionProbeGvt(UUID, 'i915-GVTg_V5_4', device, gvtOpts), () => device.vblank());
  assert.equal(status(r, 'probe.region'), 'fail');
  assert.equal(status(r, 'flags.all-combinations'), 'fail');
  assert.equal(status(r, 'probe.dmabuf'), 'ok');
});

/** mdpy's num_regions 9 with the display region at index 16. */
class MdpyRegions extends RegionMdev {
  public override readonly numRegions = 9;
}

function mdpyDevice(): RegionDevice {
  const memory = new GuestMemory(8 * MiB);
  return new RegionDevice({ memory, fbFirstPage: 512, width: 640, height: 480 });
}

test('mutation: region 16 outside num_regions: a failure if emulated, quirk MDPY-NUM-REGIONS if real', () => {
  const emulated = runMdev(new MdpyRegions(UUID, 'mdpy-vga', mdpyDevice()), () => {});
  assert.equal(status(emulated, 'region.display-region'), 'fail');
  const real = runMdev(new MdpyRegions(UUID, 'mdpy-vga', mdpyDevice()), () => {}, true);
  assert.equal(status(real, 'region.display-region'), 'quirk');
  assert.deepEqual(real.quirks.map((q) => q.bug), ['MDPY-NUM-REGIONS']);
  assert.equal(real.failed, 0, failures(real));
});

test('mutation: a kernel that leaks a dma-buf fd fails lifetime.fd-baseline', () => {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu('bochs');
  const fd = host.openDevice(vgpu.uuid);
  const r = runConformance({
    sys: host.kernel, fd, real: false, vblank: () => vgpu.device.vblank(),
    // Count one fd more than there is from the second call on: as if a check had leaked one.
    openFdCount: (() => { let n = 0; return () => host.kernel.fds.openCount + (n++ > 0 ? 1 : 0); })(),
  });
  assert.equal(status(r, 'lifetime.fd-baseline'), 'fail');
});
