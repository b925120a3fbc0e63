import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Errno } from '../base/Errno.ts';
import {
  VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_DEVICE_RESET, VFIO_DEVICE_SET_IRQS,
} from './Abi.ts';
import { EmulatedHost } from './EmulatedHost.ts';
import { asBochs, asGvt, bochsMode, gvtPrimary } from '../testkit/VfioFixtures.ts';

/** Every errno the spec tables allow an ioctl, pread, pwrite or mmap on these devices to return. */
const ALLOWED = new Set([
  Errno.EINVAL, Errno.EFAULT, Errno.ENOTTY, Errno.ENOENT, Errno.EBADF, Errno.EMFILE, Errno.ENODEV,
  Errno.EACCES, Errno.EPERM, Errno.ENOSPC,
]);

const REQUESTS = [
  VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS,
  VFIO_DEVICE_RESET, VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_DEVICE_GET_GFX_DMABUF,
];

const op = fc.oneof(
  fc.record({
    kind: fc.constant('ioctl' as const),
    request: fc.oneof(fc.constantFrom(...REQUESTS), fc.integer({ min: 0, max: 0xffffffff })),
    bytes: fc.uint8Array({ maxLength: 96 }),
  }),
  fc.record({
    kind: fc.constantFrom('pread' as const, 'pwrite' as const),
    offset: fc.oneof(fc.integer({ min: 0, max: 0x4000 }), fc.constantFrom(2 ** 40, 2 * 2 ** 40, 9 * 2 ** 40 + 2048, 12288 + 4096)),
    length: fc.integer({ min: 0, max: 16 }),
  }),
  fc.record({ kind: fc.constant('mmap' as const), offset: fc.integer({ min: 0, max: 0x20000 }), length: fc.integer({ min: -1, max: 0x10000 }), prot: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('close' as const), fd: fc.integer({ min: 0, max: 40 }) }),
);

for (const kind of ['gvt', 'bochs', 'region'] as const) {
  describe(`random ioctl buffers on a ${kind} device (property)`, () => {
    it('never throw, return only errnos from the spec tables, and leak no fds', () => {
      fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const host = new EmulatedHost();
        const vgpu = host.createVgpu(kind);
        if (kind === 'gvt') gvtPrimary(asGvt(vgpu), { width: 320, height: 200 });
        if (kind === 'bochs') bochsMode(asBochs(vgpu), 320, 200);
        const sys = host.kernel;
        const fd = host.openDevice(vgpu.uuid);
        for (const o of ops) {
          let r: number;
          if (o.kind === 'ioctl') r = sys.ioctl(fd, o.request, o.bytes.slice());
          else if (o.kind === 'pread') r = sys.pread(fd, new Uint8Array(o.length), o.offset);
          else if (o.kind === 'pwrite') r = sys.pwrite(fd, new Uint8Array(o.length).fill(0x41), o.offset);
          else if (o.kind === 'mmap') { const m = sys.mmap(fd, o.offset, o.length, o.prot); r = typeof m === 'number' ? m : 0; }
          else if (o.kind === 'close') r = o.fd === fd ? 0 : sys.close(o.fd);
          else r = 0;
          assert.ok(Number.isInteger(r), `result ${r}`);
          if (r < 0) assert.ok(ALLOWED.has(-r), `errno ${-r} from ${o.kind}`);
        }
        assert.equal(sys.oopses, 0, `kernel oops: ${String(sys.lastOops)}`);
        sys.fds.closeAll();
        assert.equal(sys.fds.openCount, 0);
        const ex = vgpu.mdev.exporter;
        if (ex) assert.equal(ex.orphanCount, 0, 'every dma-buf released after the last close');
      }), { numRuns: 150, seed: 0x5eed });
    });
  });
}
