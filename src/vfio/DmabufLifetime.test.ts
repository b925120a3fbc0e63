import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errno } from '../base/Errno.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { VFIO_DEVICE_SET_IRQS, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_DISPLAY_IRQ_INDEX } from './Abi.ts';
import { BOCHS_LAYOUT } from './BochsMdev.ts';
import { EmulatedHost } from './EmulatedHost.ts';
import { encodeIrqSet } from './IrqInfo.ts';
import { PROT_READ, PROT_WRITE, type Mapping } from './Sys.ts';
import { asBochs, asGvt, bochsMode, gvtFlip, gvtPrimary, mapGtt } from '../testkit/VfioFixtures.ts';
import { getDmabuf, query } from '../testkit/Ioctl.ts';
import { PLANE_CTL, PLANE_FORMAT, planeCtlValue } from '../vgpu/gvt/GvtRegisters.ts';

const DMABUF = 2;

function gvtHost(fdLimit?: number) {
  const host = new EmulatedHost({ fdLimit });
  const vgpu = host.createVgpu('gvt');
  const fd = host.openDevice(vgpu.uuid);
  const dev = asGvt(vgpu);
  const p = gvtPrimary(dev, { width: 256, height: 64 });
  const { info } = query(host.kernel, fd, DMABUF, 1);
  return { host, vgpu, fd, dev, id: info.dmabufId, size: p.size, sys: host.kernel };
}

function isMapping(m: Mapping | number): m is Mapping {
  return typeof m !== 'number';
}

describe('dma-buf lifetime (spec §2.4–2.6)', () => {
  it('a stale id after its last dma-buf closes is rejected with -EINVAL, and ids are never reused (B17)', () => {
    const { sys, fd, id } = gvtHost();
    const dfd = getDmabuf(sys, fd, id);
    assert.ok(dfd >= 3);
    assert.equal(sys.close(dfd), 0);
    assert.equal(getDmabuf(sys, fd, id), -Errno.EINVAL);
    const again = query(sys, fd, DMABUF, 1).info.dmabufId;
    assert.ok(again > id, `a re-created object gets a new id (${again} > ${id})`);
  });

  it('two GETs are two independent references (B13)', () => {
    const { sys, fd, id, size, vgpu } = gvtHost();
    const a = getDmabuf(sys, fd, id);
    const b = getDmabuf(sys, fd, id);
    assert.ok(a >= 3 && b >= 3 && a !== b);
    assert.equal(sys.close(a), 0);
    const m = sys.mmap(b, 0, size, PROT_READ);
    assert.ok(isMapping(m), 'the second reference still maps after the first is closed');
    assert.equal(vgpu.mdev.exporter!.lookup(id)?.exports, 1);
    m.unmap();
    assert.equal(sys.close(b), 0);
    assert.equal(vgpu.mdev.exporter!.lookup(id), undefined, 'last close frees the object');
  });

  it('a mapping holds its dma-buf: after close, GET of the id succeeds until munmap (vm_file)', () => {
    const { sys, fd, id, size, vgpu } = gvtHost();
    const ex = vgpu.mdev.exporter!;
    const dfd = getDmabuf(sys, fd, id);
    const m = sys.mmap(dfd, 0, size, PROT_READ);
    assert.ok(isMapping(m));
    assert.equal(sys.close(dfd), 0);
    assert.equal(ex.lookup(id)?.state, 'listed', 'the mapped dma-buf keeps its object');
    const again = getDmabuf(sys, fd, id);
    assert.ok(again >= 3, `GET of a mapped id after its fd closed → ${again}`);
    assert.equal(sys.close(again), 0);
    assert.equal(ex.lookup(id)?.exports, 1, 'still held by the mapping alone');
    m.unmap();
    assert.equal(ex.lookup(id), undefined, 'munmap dropped the last reference');
    assert.equal(ex.listedCount, 0);
    assert.equal(getDmabuf(sys, fd, id), -Errno.EINVAL, 'the id is stale after munmap');
    m.unmap(); // a second munmap of the same mapping changes nothing
    assert.equal(sys.fds.countByKind().dmabuf, undefined);
    assert.equal(sys.oopses, 0);
  });

  it('a mapped region holds the device file: ids stay valid past close, teardown at munmap', () => {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('bochs');
    const sys = host.kernel;
    const fd = host.openDevice(vgpu.uuid);
    bochsMode(asBochs(vgpu), 640, 480);
    const { info } = query(sys, fd, DMABUF, 1);
    const dfd = getDmabuf(sys, fd, info.dmabufId);
    assert.ok(dfd >= 3);
    const vram = sys.mmap(fd, BOCHS_LAYOUT.vram, PAGE_SIZE, PROT_READ | PROT_WRITE);
    assert.ok(isMapping(vram));
    const ex = vgpu.mdev.exporter!;
    assert.equal(sys.close(fd), 0);
    assert.equal(vgpu.mdev.openFiles, 1, 'the mapping keeps the device file open');
    assert.equal(ex.orphanCount, 0, 'no teardown while a region is mapped');
    const m = sys.mmap(dfd, 0, info.size, PROT_READ);
    assert.ok(isMapping(m), 'the dma-buf is not an orphan');
    m.unmap();
    const fd2 = host.openDevice(vgpu.uuid);
    const again = getDmabuf(sys, fd2, info.dmabufId);
    assert.ok(again >= 3, `the id from before the close is valid on a new device fd (GET → ${again})`);
    assert.equal(sys.close(again), 0);
    assert.equal(sys.close(fd2), 0);
    assert.equal(vgpu.mdev.openFiles, 1, 'closing the second fd is not the last reference either');
    vram.chunks[0]![0] = 0x5a; // the mapping still works: VRAM is guest memory
    vram.unmap();
    assert.equal(vgpu.mdev.openFiles, 0, 'munmap released the device file');
    assert.equal(ex.listedCount, 0, 'the last release tore the cache down');
    assert.equal(ex.orphanCount, 1, 'the still-open dma-buf became an orphan');
    assert.equal(sys.mmap(dfd, 0, info.size, PROT_READ), -Errno.ENODEV);
    assert.equal(sys.close(dfd), 0);
    assert.equal(ex.orphanCount, 0);
    assert.equal(sys.fds.openCount, 0);
  });

  it('without a mapping the same close is the last one: the cache goes at once', () => {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('bochs');
    const sys = host.kernel;
    const fd = host.openDevice(vgpu.uuid);
    bochsMode(asBochs(vgpu), 640, 480);
    const id = query(sys, fd, DMABUF, 1).info.dmabufId;
    const vram = sys.mmap(fd, BOCHS_LAYOUT.vram, PAGE_SIZE, PROT_READ);
    assert.ok(isMapping(vram));
    vram.unmap();
    assert.equal(sys.close(fd), 0);
    assert.equal(vgpu.mdev.openFiles, 0);
    const fd2 = host.openDevice(vgpu.uuid);
    assert.equal(getDmabuf(sys, fd2, id), -Errno.ENOENT, 'the id died with the last close');
  });

  it('the exported buffer is read-only and mapping it is zero-copy (B8)', () => {
    const { sys, fd, id, size, vgpu } = gvtHost();
    const dfd = getDmabuf(sys, fd, id);
    assert.equal(sys.mmap(dfd, 0, size, PROT_READ | PROT_WRITE), -Errno.EACCES);
    const m = sys.mmap(dfd, 0, size, PROT_READ);
    assert.ok(isMapping(m));
    assert.equal(m.chunks.length, 1, 'contiguous guest pages map as one view');
    assert.equal(m.chunks[0]!.buffer, vgpu.memory.buffer, 'a view of guest memory, not a copy');
    vgpu.memory.bytes[1024 * PAGE_SIZE + 5] = 0x5a;
    assert.equal(m.chunks[0]![5], 0x5a, 'guest writes show through the mapping');
  });

  it('a scattered buffer maps as one view per run of contiguous pages', () => {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('gvt');
    const fd = host.openDevice(vgpu.uuid);
    const dev = asGvt(vgpu);
    gvtPrimary(dev, { width: 256, height: 64 });
    mapGtt(dev, dev.aperture.base, 2000, 16, 2); // every other guest page
    dev.vblank();
    const { info } = query(host.kernel, fd, DMABUF, 1);
    const dfd = getDmabuf(host.kernel, fd, info.dmabufId);
    const m = host.kernel.mmap(dfd, 0, info.size, PROT_READ);
    assert.ok(isMapping(m));
    assert.equal(m.chunks.length, 16);
    assert.deepEqual(m.chunkOffsets.slice(0, 3), [0, PAGE_SIZE, 2 * PAGE_SIZE]);
    assert.equal(m.chunks[1]!.byteOffset, 2002 * PAGE_SIZE);
  });

  it('device close with dma-bufs open orphans them: mapping fails -ENODEV, final close frees (B10)', () => {
    const { sys, fd, id, size, vgpu } = gvtHost();
    const dfd = getDmabuf(sys, fd, id);
    const ex = vgpu.mdev.exporter!;
    assert.equal(sys.close(fd), 0);
    assert.equal(ex.orphanCount, 1);
    assert.equal(sys.mmap(dfd, 0, size, PROT_READ), -Errno.ENODEV);
    assert.equal(sys.close(dfd), 0);
    assert.equal(ex.orphanCount, 0);
    assert.equal(ex.listedCount, 0);
  });

  it('teardown happens on the last device close only (B14)', () => {
    const { host, sys, fd, id, vgpu } = gvtHost();
    const fd2 = host.openDevice(vgpu.uuid);
    assert.equal(sys.close(fd), 0);
    assert.ok(getDmabuf(sys, fd2, id) >= 3, 'the cache survives while another device fd is open');
  });

  it('vGPU destroy: device fds answer -ENODEV, dma-bufs become orphans', () => {
    const { host, sys, fd, id, size, vgpu } = gvtHost();
    const dfd = getDmabuf(sys, fd, id);
    assert.ok(host.destroyVgpu(vgpu.uuid));
    assert.equal(query(sys, fd, DMABUF, 1).rc, -Errno.ENODEV);
    assert.equal(sys.mmap(dfd, 0, size, PROT_READ), -Errno.ENODEV);
    assert.equal(sys.close(dfd), 0);
    assert.equal(sys.close(fd), 0);
    assert.equal(sys.fds.openCount, 0);
  });

  it('EMFILE during GET leaks nothing and releases nothing twice (B7)', () => {
    const { sys, fd, id, vgpu } = gvtHost(8); // fds 3..7
    const fillers: number[] = [];
    for (let e = sys.eventfd(); e >= 0; e = sys.eventfd()) fillers.push(e);
    assert.equal(getDmabuf(sys, fd, id), -Errno.EMFILE);
    const obj = vgpu.mdev.exporter!.lookup(id)!;
    assert.equal(obj.exports, 0);
    assert.equal(obj.initref, true, 'the query reference is still held');
    sys.close(fillers.pop()!);
    const dfd = getDmabuf(sys, fd, id);
    assert.ok(dfd >= 3);
    assert.equal(obj.exports, 1);
    assert.equal(sys.close(dfd), 0);
    assert.equal(obj.state, 'freed');
  });

  it('a guest cycling through 10,000 buffer configurations keeps the device cache bounded (B16)', () => {
    const { sys, fd, dev, vgpu } = gvtHost();
    mapGtt(dev, dev.aperture.base, 1024, 4096);
    for (let i = 0; i < 10_000; i++) {
      gvtFlip(dev, dev.aperture.base + (i % 4000) * PAGE_SIZE);
      assert.equal(query(sys, fd, DMABUF, 1).rc, 0);
    }
    const ex = vgpu.mdev.exporter!;
    assert.ok(ex.listedCount <= 64, `listed ${ex.listedCount}`);
    assert.ok(ex.evictions >= 10_000 - 64);
  });

  it('gvt: the same surface keeps its id while its pages stay, and gets a new one when the guest remaps them', () => {
    const { host, fd, dev, id, size } = gvtHost();
    const again = () => query(host.kernel, fd, DMABUF, 1).info.dmabufId;
    assert.equal(again(), id);
    assert.equal(again(), id, 'a remembered key is still the buffer\'s key');
    // Same GMA, format and size; other guest pages behind it (identity includes the pages).
    mapGtt(dev, dev.aperture.base, 4096, Math.ceil(size / PAGE_SIZE));
    const moved = again();
    assert.notEqual(moved, id);
    assert.equal(again(), moved);
    // Back to the first pages: the first object's identity again (it is still listed).
    mapGtt(dev, dev.aperture.base, 1024, Math.ceil(size / PAGE_SIZE));
    assert.equal(again(), id);
    // The format is identity too, on the same pages.
    dev.mmioWrite32(PLANE_CTL(0), planeCtlValue({ format: PLANE_FORMAT.XRGB_8888, rgbxOrder: true }));
    dev.vblank();
    assert.notEqual(again(), id);
  });

  it('bochs keeps one buffer per mode: a revisited mode keeps its id even after release', () => {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('bochs');
    const fd = host.openDevice(vgpu.uuid);
    const dev = asBochs(vgpu);
    bochsMode(dev, 640, 480);
    const a = query(host.kernel, fd, DMABUF, 1).info.dmabufId;
    host.kernel.close(getDmabuf(host.kernel, fd, a));
    bochsMode(dev, 800, 600);
    const b = query(host.kernel, fd, DMABUF, 1).info.dmabufId;
    bochsMode(dev, 640, 480);
    assert.equal(query(host.kernel, fd, DMABUF, 1).info.dmabufId, a);
    assert.notEqual(a, b);
  });

  it('vGPU destroy signals the display event channel, and the next query answers -ENODEV', () => {
    const { host, sys, fd, vgpu } = gvtHost();
    const efd = sys.eventfd();
    const set = encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_DISPLAY_IRQ_INDEX, eventfds: [efd] });
    assert.equal(sys.ioctl(fd, VFIO_DEVICE_SET_IRQS, set), 0);
    host.destroyVgpu(vgpu.uuid);
    assert.ok((sys.readEventfd(efd) as bigint) >= 1n, 'the VMM was woken');
    assert.equal(query(sys, fd, DMABUF, 1).rc, -Errno.ENODEV);
  });

  it('the display event channel signals latched flips on an armed eventfd', () => {
    const { sys, fd, dev } = gvtHost();
    const efd = sys.eventfd();
    const set = encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_DISPLAY_IRQ_INDEX, eventfds: [efd] });
    assert.equal(sys.ioctl(fd, VFIO_DEVICE_SET_IRQS, set), 0);
    assert.equal(sys.readEventfd(efd), -Errno.EAGAIN);
    let woke = 0;
    sys.onReadable(efd, () => woke++);
    gvtFlip(dev, dev.aperture.base);
    assert.equal(woke, 1);
    assert.ok((sys.readEventfd(efd) as bigint) >= 1n);
    assert.equal(sys.readEventfd(efd), -Errno.EAGAIN, 'read resets the counter');
  });
});
