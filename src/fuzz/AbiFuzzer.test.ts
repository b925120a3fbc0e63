import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errno } from '../base/Errno.ts';
import { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { DmabufExporter } from '../vfio/DmabufExporter.ts';
import { EmulatedKernel } from '../vfio/EmulatedKernel.ts';
import { FdTable } from '../vfio/FdTable.ts';
import type { OpenFile } from '../vfio/OpenFile.ts';
import { GvtMdev } from '../vfio/GvtMdev.ts';
import { VfioMdev } from '../vfio/VfioMdev.ts';
import { ABI_CASES_PER_EPOCH, runAbiFuzz } from './AbiFuzzer.ts';
import { withPatch } from '../testkit/Patch.ts';

// The short version of `npm run fuzz -- --only abi` (SECURITY.md): the same engine and checks,
// a few thousand cases. The fault-injection tests show each class of check can fail.

describe('ABI fuzzer, short run', () => {
  it('3000 cases across gvt, bochs and region: no failure, no oops, no leak', () => {
    const r = runAbiFuzz({ seed: 0x5eed, cases: 3000 });
    assert.deepEqual(r.failures, []);
    assert.equal(r.cases, 3000);
    assert.equal(r.oopses, 0);
    assert.equal(r.leaks, 0);
    // It reaches deep paths, not only the first rejection.
    for (const key of ['get ok', 'dmabuf mappings', 'query ok', 'ioctl vfio-device VFIO_DEVICE_QUERY_GFX_PLANE EINVAL',
      'ioctl vfio-device VFIO_DEVICE_GET_REGION_INFO ok', 'pread vfio-device ok', 'pwrite vfio-device EINVAL',
      'mmap dmabuf EACCES', 'ioctl none VFIO_DEVICE_QUERY_GFX_PLANE EBADF']) {
      assert.ok((r.stats[key] ?? 0) > 0, `never saw '${key}'`);
    }
  });

  it('is reproducible from the seed, and a case replays alone from its index', () => {
    const a = runAbiFuzz({ seed: 77, cases: 600 });
    const b = runAbiFuzz({ seed: 77, cases: 600 });
    assert.deepEqual(a.stats, b.stats);
    assert.equal(a.ops, b.ops);
    const c = runAbiFuzz({ seed: 78, cases: 600 });
    assert.notDeepEqual(a.stats, c.stats);
    // A case in the middle of an epoch: its epoch prefix is replayed, only the case is counted.
    const one = runAbiFuzz({ seed: 77, cases: 1, firstCase: ABI_CASES_PER_EPOCH + 3, traceCase: ABI_CASES_PER_EPOCH + 3 });
    assert.equal(one.cases, 1);
    assert.deepEqual(one.failures, []);
  });
});

describe('ABI fuzzer, fault injection (each check can fail)', () => {
  it('an errno outside the spec table is reported with its case and a trace', () => {
    withPatch(GvtMdev.prototype, '_queryPlane', (orig) => function (this: GvtMdev, ...a: never[]) {
      const r = orig.apply(this, a) as number;
      return r === -Errno.EINVAL ? -Errno.EIO : r;
    }, () => {
      const r = runAbiFuzz({ seed: 1, cases: 3000 });
      assert.equal(r.failures.length, 1);
      assert.match(r.failures[0]!.message, /returned -EIO, allowed: EINVAL/);
      assert.ok(r.failures[0]!.trace.length > 0, 'the failing case was replayed with a trace');
    });
  });

  it('a device cache that keeps objects after the last close is a leak', () => {
    withPatch(DmabufExporter.prototype, 'cleanup', () => () => undefined, () => {
      const r = runAbiFuzz({ seed: 2, cases: ABI_CASES_PER_EPOCH });
      assert.equal(r.failures.length, 1);
      assert.match(r.failures[0]!.message, /leak after closing everything|still listed/);
    });
  });

  it('dup that keeps close-on-exec is caught', () => {
    withPatch(FdTable.prototype, 'dup', () => function (this: FdTable, fd: number) {
      const f = this.get(fd);
      return f ? this.install(f as OpenFile, true) : -Errno.EBADF;
    } as never, () => {
      const r = runAbiFuzz({ seed: 3, cases: 2000 });
      assert.match(r.failures[0]?.message ?? '', /close-on-exec/);
    });
  });

  it('a QUERY that writes past byte 60 is caught (B11)', () => {
    withPatch(VfioMdev.prototype, '_ioctl', (orig) => function (this: VfioMdev, ...a: never[]) {
      const r = orig.apply(this, a) as number;
      const arg = a[1] as unknown as Uint8Array;
      if (r === 0 && (a[0] as unknown as number) === 0x3b72 && arg.byteLength > 60) arg[61]! ^= 0x5a;
      return r;
    }, () => {
      const r = runAbiFuzz({ seed: 4, cases: 2000 });
      assert.match(r.failures[0]?.message ?? '', /past byte 60|changed the caller's buffer|probe wrote/);
    });
  });

  it('an exception escaping a syscall is a failure, not a crash of the run', () => {
    withPatch(EmulatedKernel.prototype, 'dup', () => () => { throw new TypeError('injected'); }, () => {
      const r = runAbiFuzz({ seed: 5, cases: 2000 });
      assert.match(r.failures[0]?.message ?? '', /exception escaped: TypeError: injected/);
    });
  });

  it('a failed ioctl that scribbles on the caller buffer is caught', () => {
    withPatch(VfioMdev.prototype, '_ioctl', (orig) => function (this: VfioMdev, ...a: never[]) {
      const r = orig.apply(this, a) as number;
      const arg = a[1] as unknown as Uint8Array;
      if (r < 0 && arg.byteLength > 0) arg[0]! ^= 1;
      return r;
    }, () => {
      const r = runAbiFuzz({ seed: 6, cases: 2000 });
      assert.match(r.failures[0]?.message ?? '', /changed the caller's buffer/);
    });
  });

  it("mbochs' VRAM offset bug re-introduced (pread/pwrite 8192 bytes off) is caught", () => {
    withPatch(BochsDevice.prototype, 'vramView', (orig) => function (this: BochsDevice, offset: number, length: number) {
      const skewed = offset >= 8192 ? offset - 8192 : offset;
      return orig.call(this, skewed as never, length as never);
    } as never, () => {
      const r = runAbiFuzz({ seed: 8, cases: 3000 });
      assert.match(r.failures[0]?.message ?? '', /differ from memory|does not hold the written bytes|expected 0x/);
    });
  });
});
