import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errno } from '../base/Errno.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_QUERY_GFX_PLANE } from './Abi.ts';
import { EmulatedHost } from './EmulatedHost.ts';
import { encodePlaneInfoRequest } from './PlaneInfo.ts';
import { asBochs, asGvt, bochsMode, gvtPrimary } from '../testkit/VfioFixtures.ts';
import { getDmabuf, query } from '../testkit/Ioctl.ts';

const PROBE = 1;
const DMABUF = 2;
const REGION = 4;
const OTHER_FLAGS = [0, 1, 4, 5, 6, 7, 8, 0x10, 0x80000000, 0xffffffff];

function open(kind: string, opts = {}) {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu(kind, opts);
  const fd = host.openDevice(vgpu.uuid);
  assert.ok(fd >= 3);
  return { host, vgpu, fd, sys: host.kernel };
}

describe('QUERY_GFX_PLANE errno table: gvt (spec §2.8)', () => {
  it('PROBE|DMABUF answers 0 without decoding, whatever the plane type', () => {
    const { sys, fd } = open('gvt');
    for (const t of [0, 1, 2, 3, 0xffffffff]) assert.equal(query(sys, fd, PROBE | DMABUF, t).rc, 0);
  });
  it('every flags value other than 2 and 3 is -EINVAL', () => {
    const { sys, fd } = open('gvt');
    for (const f of OTHER_FLAGS.filter((f) => f !== 3)) {
      assert.equal(query(sys, fd, f, 1).rc, -Errno.EINVAL, `flags ${f}`);
    }
  });
  it('argsz < 60 is -EINVAL and a buffer shorter than 60 bytes is -EFAULT', () => {
    const { sys, fd } = open('gvt');
    assert.equal(query(sys, fd, DMABUF, 1, 59).rc, -Errno.EINVAL);
    assert.equal(query(sys, fd, DMABUF, 1, 60).rc, 0);
    assert.equal(sys.ioctl(fd, VFIO_DEVICE_QUERY_GFX_PLANE, encodePlaneInfoRequest({ flags: DMABUF, planeType: 1 }).subarray(0, 59)), -Errno.EFAULT);
  });
  it('plane types other than 0, 1, 2 are -EINVAL; OVERLAY follows the exportOverlay option', () => {
    const on = open('gvt');
    const off = open('gvt', { exportOverlay: false });
    for (const t of [3, 4, 0xffffffff]) assert.equal(query(on.sys, on.fd, DMABUF, t).rc, -Errno.EINVAL);
    assert.equal(query(on.sys, on.fd, DMABUF, 0).rc, 0); // disabled sprite: success, empty
    assert.equal(query(off.sys, off.fd, DMABUF, 0).rc, -Errno.EINVAL); // GVT behaviour
  });
  it('a disabled plane is success with every output zeroed explicitly', () => {
    const { sys, fd } = open('gvt');
    const q = encodePlaneInfoRequest({ flags: DMABUF, planeType: 1 });
    q.fill(0xaa, 12, 64); // garbage in the outputs: the kernel must zero them, not leave them
    assert.equal(sys.ioctl(fd, VFIO_DEVICE_QUERY_GFX_PLANE, q), 0);
    assert.deepEqual([...q.subarray(12, 60)], new Array(48).fill(0));
    assert.deepEqual([...q.subarray(60, 64)], [0xaa, 0xaa, 0xaa, 0xaa], 'bytes 60..63 untouched');
  });
  it('an enabled primary reports the plane and a dmabuf id; GET of an unknown id is -EINVAL', () => {
    const { sys, fd, vgpu } = open('gvt');
    const p = gvtPrimary(asGvt(vgpu), { width: 640, height: 480 });
    const { rc, info } = query(sys, fd, DMABUF, 1);
    assert.equal(rc, 0);
    assert.equal(info.drmFormat, DRM_FORMAT.XRGB8888);
    assert.equal(info.width, 640);
    assert.equal(info.height, 480);
    assert.equal(info.stride, p.stride);
    assert.equal(info.size, p.size);
    assert.ok(info.dmabufId > 0);
    assert.equal(getDmabuf(sys, fd, info.dmabufId + 1000), -Errno.EINVAL);
  });
  it('unknown ioctls are -ENOTTY and closed fds -EBADF', () => {
    const { sys, fd } = open('gvt');
    assert.equal(sys.ioctl(fd, 0x3b99, new Uint8Array(64)), -Errno.ENOTTY);
    assert.equal(sys.ioctl(999, VFIO_DEVICE_QUERY_GFX_PLANE, new Uint8Array(64)), -Errno.EBADF);
  });
});

describe('QUERY_GFX_PLANE errno table: bochs (spec §4.3, B12 fixed)', () => {
  it('PROBE set: only PROBE|DMABUF is 0; otherwise flags must be exactly DMABUF', () => {
    const { sys, fd } = open('bochs');
    assert.equal(query(sys, fd, PROBE | DMABUF, 1).rc, 0);
    for (const f of OTHER_FLAGS.filter((f) => f !== 3)) assert.equal(query(sys, fd, f, 1).rc, -Errno.EINVAL, `flags ${f}`);
  });
  it('non-primary plane types answer success with an empty plane', () => {
    const { sys, fd, vgpu } = open('bochs');
    bochsMode(asBochs(vgpu), 640, 480);
    for (const t of [0, 2, 3, 0xffffffff]) {
      const { rc, info } = query(sys, fd, DMABUF, t);
      assert.equal(rc, 0);
      assert.equal(info.drmFormat, 0);
      assert.equal(info.dmabufId, 0);
    }
  });
  it('the first query after a mode change succeeds with a new id (no -ENOMEM, B12)', () => {
    const { sys, fd, vgpu } = open('bochs');
    bochsMode(asBochs(vgpu), 640, 480);
    const a = query(sys, fd, DMABUF, 1);
    assert.equal(a.rc, 0);
    assert.equal(a.info.size, 640 * 4 * 480);
    bochsMode(asBochs(vgpu), 800, 600);
    const b = query(sys, fd, DMABUF, 1);
    assert.equal(b.rc, 0);
    assert.notEqual(b.info.dmabufId, a.info.dmabufId);
  });
  it('GET of an unknown id is -ENOENT; an unaligned pan is refused at GET with -EINVAL', () => {
    const { sys, fd, vgpu } = open('bochs');
    assert.equal(getDmabuf(sys, fd, 4242), -Errno.ENOENT);
    bochsMode(asBochs(vgpu), 640, 480, { x: 3 });
    const q = query(sys, fd, DMABUF, 1);
    assert.equal(q.rc, 0);
    assert.equal(getDmabuf(sys, fd, q.info.dmabufId), -Errno.EINVAL);
  });
});

describe('QUERY_GFX_PLANE errno table: region (spec §5)', () => {
  it('PROBE set: only PROBE|REGION is 0; otherwise flags must be exactly REGION', () => {
    const { sys, fd } = open('region');
    assert.equal(query(sys, fd, PROBE | REGION, 1).rc, 0);
    assert.equal(query(sys, fd, PROBE | DMABUF, 1).rc, -Errno.EINVAL);
    for (const f of [0, 1, 2, 3, 6, 7, 8, 0x80000000]) assert.equal(query(sys, fd, f, 1).rc, -Errno.EINVAL, `flags ${f}`);
  });
  it('any plane type returns the framebuffer with region_index 16 and size = region size', () => {
    const { sys, fd } = open('region');
    for (const t of [0, 1, 2, 7]) {
      const { rc, info } = query(sys, fd, REGION, t);
      assert.equal(rc, 0);
      assert.equal(info.regionIndex, 16);
      assert.equal(info.width, 1024);
      assert.equal(info.stride, 4096);
      assert.equal(info.size, 4 * 1024 * 1024);
    }
  });
  it('has no GET_GFX_DMABUF (-ENOTTY)', () => {
    const { sys, fd } = open('region');
    assert.equal(sys.ioctl(fd, VFIO_DEVICE_GET_GFX_DMABUF, new Uint8Array(4)), -Errno.ENOTTY);
  });
});
