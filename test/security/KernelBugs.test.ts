// One named regression test per historical kernel bug of spec §9 (B1–B17): none of them may be
// reproducible in our mediator. Each test drives the device the way the bug was triggered.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errno } from '../../src/base/Errno.ts';
import { PAGE_SIZE } from '../../src/gpu/GuestMemory.ts';
import { DISPI, dispiOffset } from '../../src/vgpu/bochs/BochsRegisters.ts';
import {
  PIPESRC, PLANE_CTL, PLANE_STRIDE, PLANE_SURF, pipesrcValue, planeCtlValue,
} from '../../src/vgpu/gvt/GvtRegisters.ts';
import { DmabufExporter } from '../../src/vfio/DmabufExporter.ts';
import { EmulatedHost } from '../../src/vfio/EmulatedHost.ts';
import { gvtKey } from '../../src/vfio/MdevKeys.ts';
import { GuestMemory } from '../../src/gpu/GuestMemory.ts';
import { Ggtt } from '../../src/gpu/Ggtt.ts';
import { DisplayLink } from '../../src/vgpu/DisplayLink.ts';
import { GvtDevice } from '../../src/vgpu/gvt/GvtDevice.ts';
import { EmulatedKernel } from '../../src/vfio/EmulatedKernel.ts';
import { GvtMdev } from '../../src/vfio/GvtMdev.ts';
import type { OpenFile } from '../../src/vfio/OpenFile.ts';
import { PROT_READ, PROT_WRITE, type Mapping } from '../../src/vfio/Sys.ts';
import { asBochs, asGvt, bochsMode, gvtPrimary, mapGtt } from '../../src/testkit/VfioFixtures.ts';
import { getDmabuf, query } from '../../src/testkit/Ioctl.ts';

const DMABUF = 2;

function gvt(opts: { fdLimit?: number } = {}) {
  const host = new EmulatedHost({ fdLimit: opts.fdLimit });
  const vgpu = host.createVgpu('gvt');
  const fd = host.openDevice(vgpu.uuid);
  return { host, vgpu, fd, dev: asGvt(vgpu), sys: host.kernel };
}

function bochs() {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu('bochs');
  const fd = host.openDevice(vgpu.uuid);
  return { host, vgpu, fd, dev: asBochs(vgpu), sys: host.kernel };
}

const mapped = (m: Mapping | number): m is Mapping => typeof m !== 'number';

describe('kernel bug regressions (spec §9)', () => {
  it('B1: a surface straddling aperture → hidden is refused; exact fit accepted; one page past refused', () => {
    // A GGTT where this vGPU's aperture slice ends exactly where its hidden slice begins: the
    // layout in which the per-end check let a range run from one slice into the other.
    const pages = 4096;
    const mappable = 1024 * PAGE_SIZE;
    const ggtt = new Ggtt(pages, { mappableSize: mappable });
    const memory = new GuestMemory(8192 * PAGE_SIZE);
    ggtt.assign(1, {
      aperture: { base: mappable - 64 * PAGE_SIZE, size: 64 * PAGE_SIZE },
      hidden: { base: mappable, size: 64 * PAGE_SIZE },
      guestPageCount: memory.pageCount,
    });
    const dev = new GvtDevice({ memory, ggtt, vmId: 1 });
    const mdev = new GvtMdev('b1', 'i915-GVTg_V5_8', dev, { edidWidth: 1024, edidHeight: 768, sink: new DisplayLink() });
    const kernel = new EmulatedKernel();
    const fd = kernel.install(mdev.open() as OpenFile);
    mapGtt(dev, mappable - 64 * PAGE_SIZE, 1024, 128); // both slices fully mapped to VM pages
    // 1024×4 bytes × 4 rows = 4 pages per surface.
    const at = (gma: number): number => {
      gvtPrimary(dev, { width: 1024, height: 4, gma, guestPage: 1024 });
      mapGtt(dev, mappable - 64 * PAGE_SIZE, 1024, 128);
      return query(kernel, fd, DMABUF, 1).rc;
    };
    assert.equal(at(mappable - 4 * PAGE_SIZE), 0, 'exact fit at the end of the aperture slice');
    assert.equal(at(mappable - 2 * PAGE_SIZE), -Errno.EFAULT, 'straddles aperture → hidden');
    assert.equal(at(mappable + 60 * PAGE_SIZE), 0, 'exact fit at the end of the hidden slice');
    assert.equal(at(mappable + 61 * PAGE_SIZE), -Errno.EFAULT, 'one page past the hidden slice');
  });

  it('B2: huge sizes and strides are caught by the range check, never wrap', () => {
    const { dev, sys, fd } = gvt();
    gvtPrimary(dev, { width: 64, height: 64 });
    dev.mmioWrite32(PIPESRC(0), pipesrcValue(8192, 4096));
    dev.mmioWrite32(PLANE_STRIDE(0), 0x3ff);
    dev.vblank();
    const r = query(sys, fd, DMABUF, 1).rc;
    assert.ok(r === -Errno.EFAULT || r === -Errno.EINVAL, `rc ${r}`);
  });

  it('B3: size is in bytes: stride × tile-rounded height', () => {
    const { dev, sys, fd } = gvt();
    const p = gvtPrimary(dev, { width: 100, height: 10, tiling: 1 }); // X tiled: rows round to 8
    const { info } = query(sys, fd, DMABUF, 1);
    assert.equal(info.size, p.stride * 16);
    assert.equal(info.size, 512 * 16);
  });

  it('B4: every PLANE_CTL format value with every order/alpha bit decodes or is -EINVAL, never a crash', () => {
    const { dev, sys, fd, host } = gvt();
    gvtPrimary(dev, { width: 64, height: 64 });
    for (let f = 0; f < 16; f++) {
      for (const rgbxOrder of [false, true]) {
        for (let alpha = 0; alpha < 4; alpha++) {
          dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: f, rgbxOrder, alpha }));
          const r = query(sys, fd, DMABUF, 1).rc;
          assert.ok(r === 0 || r === -Errno.EINVAL, `format ${f}: ${r}`);
        }
      }
    }
    assert.equal(host.kernel.oopses, 0);
  });

  it('B5: a guest remapping its GGTT between QUERY and map: the map walks the GGTT again', () => {
    const { dev, sys, fd } = gvt();
    const p = gvtPrimary(dev, { width: 256, height: 16 });
    const { info } = query(sys, fd, DMABUF, 1);
    const dfd = getDmabuf(sys, fd, info.dmabufId);
    // The guest points the second page somewhere else of its own: the map sees the new page.
    mapGtt(dev, p.gma + PAGE_SIZE, 3000, 1);
    const m = sys.mmap(dfd, 0, p.size, PROT_READ);
    assert.ok(mapped(m));
    assert.equal(m.chunks[1]!.byteOffset, 3000 * PAGE_SIZE);
    // The guest unmaps a page: mapping is refused instead of reaching a stale page.
    dev.mmioWrite64(0x800000 + (p.gma / PAGE_SIZE + 1) * 8, 0n);
    assert.equal(sys.mmap(dfd, 0, p.size, PROT_READ), -Errno.EINVAL);
  });

  it('B6: freeing an orphan unlinks it first: destroy with exports, then close, leaves nothing behind', () => {
    const { host, vgpu, sys, fd, dev } = gvt();
    gvtPrimary(dev, { width: 64, height: 64 });
    const dfd = getDmabuf(sys, fd, query(sys, fd, DMABUF, 1).info.dmabufId);
    const ex = vgpu.mdev.exporter!;
    host.destroyVgpu(vgpu.uuid);
    assert.equal(ex.orphanCount, 1);
    assert.equal(ex.listedCount, 0);
    assert.equal(sys.close(dfd), 0);
    assert.equal(ex.orphanCount, 0);
    assert.equal(host.kernel.oopses, 0);
  });

  it('B7: fd allocation failure (EMFILE) in GET neither leaks nor drops a reference twice', () => {
    const { sys, fd, dev, vgpu } = gvt({ fdLimit: 6 });
    gvtPrimary(dev, { width: 64, height: 64 });
    const id = query(sys, fd, DMABUF, 1).info.dmabufId;
    const fillers: number[] = [];
    for (let e = sys.eventfd(); e >= 0; e = sys.eventfd()) fillers.push(e);
    for (let i = 0; i < 5; i++) assert.equal(getDmabuf(sys, fd, id), -Errno.EMFILE);
    const obj = vgpu.mdev.exporter!.lookup(id)!;
    assert.equal(obj.exports, 0);
    assert.equal(obj.state, 'listed');
  });

  it('B8: the exported guest framebuffer is read-only to the host', () => {
    const { sys, fd, dev } = gvt();
    const p = gvtPrimary(dev, { width: 64, height: 64 });
    const dfd = getDmabuf(sys, fd, query(sys, fd, DMABUF, 1).info.dmabufId);
    assert.equal(sys.mmap(dfd, 0, p.size, PROT_READ | PROT_WRITE), -Errno.EACCES);
    assert.equal(sys.mmap(dfd, 0, p.size, PROT_WRITE), -Errno.EACCES);
  });

  it('B9: a failure after id allocation rolls back: -ENOSPC at the id limit lists nothing', () => {
    const memory = new GuestMemory(64 * PAGE_SIZE);
    const ex = new DmabufExporter({ memory, keyOf: gvtKey, unknownIdErrno: Errno.EINVAL, retainReleased: false, firstId: 0xffffffff });
    const plane = { drmFormat: 1, modifier: 0n, width: 1, height: 1, stride: 64, size: 64, start: 0, pages: new Uint32Array([1]), xPos: 0, yPos: 0, xHot: 0, yHot: 0 };
    assert.equal(ex.query(plane), 0xffffffff);
    assert.equal(ex.query({ ...plane, start: PAGE_SIZE }), -Errno.ENOSPC);
    assert.equal(ex.listedCount, 1, 'the failed query left no entry');
  });

  it('B10: dma-bufs outlive the vGPU as orphans: later mapping fails -ENODEV, final close is clean', () => {
    const { host, vgpu, sys, fd, dev } = gvt();
    const p = gvtPrimary(dev, { width: 64, height: 64 });
    const dfd = getDmabuf(sys, fd, query(sys, fd, DMABUF, 1).info.dmabufId);
    host.destroyVgpu(vgpu.uuid);
    assert.equal(sys.mmap(dfd, 0, p.size, PROT_READ), -Errno.ENODEV);
    assert.equal(sys.close(dfd), 0);
    assert.equal(sys.close(fd), 0);
  });

  it('B11: argsz 60 (i386) and 64 (x86-64) both work, and exactly 60 bytes are written back', () => {
    const { sys, fd, dev } = gvt();
    gvtPrimary(dev, { width: 64, height: 64 });
    for (const argsz of [60, 64]) {
      const q = query(sys, fd, DMABUF, 1, argsz);
      assert.equal(q.rc, 0);
      assert.deepEqual([...q.bytes.subarray(60)], [0, 0, 0, 0]);
    }
    const bytes = new Uint8Array(64).fill(0xee);
    new DataView(bytes.buffer).setUint32(0, 64, true);
    new DataView(bytes.buffer).setUint32(4, DMABUF, true);
    new DataView(bytes.buffer).setUint32(8, 1, true);
    assert.equal(sys.ioctl(fd, 0x3b72, bytes), 0);
    assert.deepEqual([...bytes.subarray(60)], [0xee, 0xee, 0xee, 0xee]);
  });

  it('B12: the first query after a bochs mode change succeeds (mbochs returns -ENOMEM)', () => {
    const { sys, fd, dev } = bochs();
    for (const [w, h] of [[640, 480], [800, 600], [1024, 768]] as const) {
      bochsMode(dev, w, h);
      const q = query(sys, fd, DMABUF, 1);
      assert.equal(q.rc, 0, `${w}x${h}`);
      assert.equal(q.info.width, w);
    }
  });

  it('B13: two GETs of one id are two independent references', () => {
    const { sys, fd, dev } = bochs();
    bochsMode(dev, 640, 480);
    const id = query(sys, fd, DMABUF, 1).info.dmabufId;
    const a = getDmabuf(sys, fd, id);
    const b = getDmabuf(sys, fd, id);
    assert.notEqual(a, b);
    assert.equal(sys.close(a), 0);
    assert.ok(mapped(sys.mmap(b, 0, 640 * 480 * 4, PROT_READ)));
    assert.equal(sys.close(b), 0);
    assert.equal(sys.close(b), -Errno.EBADF);
  });

  it('B14: with several device fds open, teardown waits for the last close', () => {
    const { host, vgpu, sys, fd, dev } = bochs();
    bochsMode(dev, 640, 480);
    const id = query(sys, fd, DMABUF, 1).info.dmabufId;
    const fd2 = host.openDevice(vgpu.uuid);
    sys.close(fd);
    assert.ok(getDmabuf(sys, fd2, id) >= 3);
    sys.close(fd2);
    assert.equal(vgpu.mdev.exporter!.listedCount, 0);
  });

  it('B15: the fd is published last: a GET that cannot install its fd has changed nothing', () => {
    const { sys, fd, dev, vgpu } = gvt({ fdLimit: 5 });
    gvtPrimary(dev, { width: 64, height: 64 });
    const id = query(sys, fd, DMABUF, 1).info.dmabufId;
    const e = sys.eventfd();
    assert.equal(getDmabuf(sys, fd, id), -Errno.EMFILE);
    const obj = vgpu.mdev.exporter!.lookup(id)!;
    assert.deepEqual([obj.exports, obj.initref], [0, true]);
    sys.close(e);
    const dfd = getDmabuf(sys, fd, id);
    assert.ok(dfd >= 3);
    assert.deepEqual([obj.exports, obj.initref], [1, false]);
  });

  it('B16: a guest spamming pan offsets cannot grow the device cache without limit', () => {
    const { sys, fd, dev, vgpu } = bochs();
    bochsMode(dev, 64, 64, { virtWidth: 64 });
    for (let y = 0; y < 3000; y++) {
      dev.mmioWrite(dispiOffset(DISPI.Y_OFFSET), 2, y);
      assert.equal(query(sys, fd, DMABUF, 1).rc, 0);
    }
    assert.ok(vgpu.mdev.exporter!.listedCount <= 64, `listed ${vgpu.mdev.exporter!.listedCount}`);
  });

  it('B17: ids are never reused: a stale id is rejected, a re-created buffer gets a fresh id', () => {
    const { sys, fd, dev } = gvt();
    gvtPrimary(dev, { width: 64, height: 64 });
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const id = query(sys, fd, DMABUF, 1).info.dmabufId;
      assert.ok(!seen.has(id), `id ${id} reused`);
      seen.add(id);
      sys.close(getDmabuf(sys, fd, id));
      assert.equal(getDmabuf(sys, fd, id), -Errno.EINVAL);
    }
  });
});
