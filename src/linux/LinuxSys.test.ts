import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { Errno } from '../base/Errno.ts';
import { VFIO_DEVICE_GET_GFX_DMABUF } from '../vfio/Abi.ts';
import { PROT_READ, PROT_WRITE } from '../vfio/Sys.ts';
import { errnoName, libc, MFD_CLOEXEC, O_CLOEXEC, O_RDONLY, O_RDWR, type Libc } from './Libc.ts';
import { LinuxSys, type LinuxMapping } from './LinuxSys.ts';

// These run real syscalls through koffi on files this machine has (memfd, pipes, eventfd,
// /dev/null); VFIO itself is exercised in the kernel test (test/kernel).

const FIONREAD = 0x541b;

function memfd(size: number): number {
  const fd = libc().memfdCreate('linux-sys-test', MFD_CLOEXEC);
  assert.ok(fd >= 0);
  assert.equal(libc().ftruncate(fd, size), 0);
  return fd;
}

function pipe(): [number, number] {
  const fds = [0, 0];
  assert.equal(libc().pipe2(fds, O_CLOEXEC), 0);
  return [fds[0]!, fds[1]!];
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

test('open: -errno for a missing path, a close-on-exec fd otherwise; close twice is -EBADF', () => {
  const sys = new LinuxSys();
  assert.equal(sys.open('/nonexistent/vgpu-display', O_RDWR), -Errno.ENOENT);
  const fd = sys.open('/dev/null', O_RDWR);
  assert.ok(fd >= 0);
  assert.equal(sys.getCloexec(fd), true);
  assert.equal(sys.accessMode(fd), O_RDWR);
  assert.equal(sys.close(fd), 0);
  assert.equal(sys.close(fd), -Errno.EBADF);
  assert.equal(sys.getCloexec(fd), -Errno.EBADF);
});

test('ioctl passes the buffer in and out (a subarray at its own offset), -ENOTTY on /dev/null', () => {
  const sys = new LinuxSys();
  const [r, w] = pipe();
  assert.equal(libc().write(w, new Uint8Array([1, 2, 3, 4, 5]), 5), 5);
  const backing = new Uint8Array(16).fill(0xee);
  const arg = backing.subarray(4, 8);
  assert.equal(sys.ioctl(r, FIONREAD, arg), 0);
  assert.equal(new DataView(arg.buffer, arg.byteOffset, 4).getInt32(0, true), 5);
  assert.deepEqual([...backing.subarray(0, 4)], [0xee, 0xee, 0xee, 0xee], 'bytes before the subarray untouched');
  const nul = sys.open('/dev/null', O_RDONLY);
  assert.equal(sys.ioctl(nul, FIONREAD, new Uint8Array(4)), -Errno.ENOTTY);
  assert.equal(sys.ioctl(-1, FIONREAD, new Uint8Array(4)), -Errno.EBADF);
  assert.equal(sys.ioctl(nul, -1, new Uint8Array(4)), -Errno.ENOTTY);
  for (const fd of [r, w, nul]) assert.equal(sys.close(fd), 0);
});

test('pread/pwrite at an offset; -ESPIPE on a pipe; -EINVAL for a bad offset', () => {
  const sys = new LinuxSys();
  const fd = memfd(8192);
  assert.equal(sys.pwrite(fd, new Uint8Array([9, 8, 7]), 5000), 3);
  const back = new Uint8Array(5);
  assert.equal(sys.pread(fd, back, 4999), 5);
  assert.deepEqual([...back], [0, 9, 8, 7, 0]);
  assert.equal(sys.pread(fd, back, -1), -Errno.EINVAL);
  assert.equal(sys.fileSize(fd), 8192);
  const [r, w] = pipe();
  assert.equal(sys.pread(r, back, 0), -Errno.ESPIPE);
  for (const f of [fd, r, w]) sys.close(f);
});

test('mmap gives one zero-copy chunk over the file; writes through it are what pread sees', () => {
  const sys = new LinuxSys();
  const fd = memfd(3 * 4096);
  const m = sys.mmap(fd, 4096, 8192, PROT_READ | PROT_WRITE) as LinuxMapping;
  assert.equal(typeof m, 'object');
  assert.equal(m.length, 8192);
  assert.equal(m.backedLength, 8192);
  assert.equal(m.chunks.length, 1);
  assert.deepEqual(m.chunkOffsets, [0]);
  assert.equal(typeof m.address, 'bigint');
  m.chunks[0]![10] = 0x5a;
  const b = new Uint8Array(1);
  sys.pread(fd, b, 4096 + 10);
  assert.equal(b[0], 0x5a);
  assert.equal(sys.pwrite(fd, new Uint8Array([0x77]), 4096 + 11), 1);
  assert.equal(m.chunks[0]![11], 0x77, 'the mapping is shared, not a copy');
  m.unmap();
  m.unmap(); // idempotent
  assert.equal(sys.mmap(fd, 1, 4096, PROT_READ), -Errno.EINVAL, 'unaligned offset');
  assert.equal(sys.mmap(fd, 0, 0, PROT_READ), -Errno.EINVAL);
  assert.equal(sys.mmap(-1, 0, 4096, PROT_READ), -Errno.EBADF);
  sys.close(fd);
});

test('dup is close-on-exec and independent of the original', () => {
  const sys = new LinuxSys();
  const fd = memfd(4096);
  assert.equal(sys.setCloexec(fd, false), 0);
  assert.equal(sys.getCloexec(fd), false);
  const d = sys.dup(fd);
  assert.ok(d >= 0 && d !== fd);
  assert.equal(sys.getCloexec(d), true);
  assert.equal(sys.close(fd), 0);
  assert.equal(sys.fileSize(d), 4096, 'the dup still refers to the file');
  assert.equal(sys.close(d), 0);
  assert.equal(sys.dup(fd), -Errno.EBADF);
});

test('eventfd: nonblocking, cloexec; read returns and resets the counter', () => {
  const sys = new LinuxSys();
  const efd = sys.eventfd();
  assert.ok(efd >= 0);
  assert.equal(sys.getCloexec(efd), true);
  assert.equal(sys.readEventfd(efd), -Errno.EAGAIN);
  assert.equal(sys.signalEventfd(efd, 2n), 0);
  assert.equal(sys.signalEventfd(efd, 3n), 0);
  assert.equal(sys.readEventfd(efd), 5n);
  assert.equal(sys.readEventfd(efd), -Errno.EAGAIN);
  const nul = sys.open('/dev/null', O_RDONLY);
  assert.equal(sys.readEventfd(nul), -Errno.EINVAL, 'a read of 0 bytes is not a counter');
  sys.close(nul);
  sys.close(efd);
});

test('onReadable fires once the eventfd is signalled', { timeout: 60_000 }, async () => {
  const sys = new LinuxSys({ pollIntervalMs: 1 });
  const efd = sys.eventfd();
  let calls = 0;
  // Keep the event loop alive while waiting (the poll timer is unref'd by design).
  const keep = setInterval(() => {}, 1000);
  const fired = new Promise<void>((resolve) => {
    const sub = sys.onReadable(efd, () => {
      calls++;
      assert.equal(sys.readEventfd(efd), 1n);
      sub.dispose();
      resolve();
    });
  });
  assert.equal(sys.signalEventfd(efd), 0);
  await fired;
  clearInterval(keep);
  assert.equal(calls, 1);
  sys.close(efd);
});

test('no fd leaks across a run of every call', () => {
  const before = openFds();
  const sys = new LinuxSys();
  for (let i = 0; i < 20; i++) {
    const fd = memfd(4096);
    const d = sys.dup(fd);
    const m = sys.mmap(d, 0, 4096, PROT_READ);
    if (typeof m !== 'number') m.unmap();
    const e = sys.eventfd();
    for (const f of [fd, d, e]) assert.equal(sys.close(f), 0);
  }
  assert.equal(openFds(), before);
});

test('errnoName knows the platform names the base table lacks', () => {
  assert.equal(errnoName(-13), 'EACCES');
  assert.equal(errnoName(30), 'EROFS');
  assert.equal(errnoName(95), 'EOPNOTSUPP');
  assert.equal(errnoName(100000), 'E#100000');
});

/**
 * The real libc, except that GET_GFX_DMABUF on `dev` is answered like mbochs: a new memfd per
 * kernel call, without FD_CLOEXEC. Records the ids the "kernel" was asked for.
 */
function kernelPlayingLibc(dev: number): { lc: Libc; kernelGets: number[] } {
  const real = libc();
  const kernelGets: number[] = [];
  const lc: Libc = {
    ...real,
    ioctlPtr: (fd, request, arg) => {
      if (fd !== dev || request !== VFIO_DEVICE_GET_GFX_DMABUF) return real.ioctlPtr(fd, request, arg);
      const id = new DataView(arg!.buffer, arg!.byteOffset, 4).getUint32(0, true);
      kernelGets.push(id);
      const f = real.memfdCreate(`dmabuf-${id}`, 0); // no MFD_CLOEXEC: like dma_buf_fd(buf, 0)
      real.ftruncate(f, 4096 * id);
      return f;
    },
  };
  return { lc, kernelGets };
}

function get(sys: LinuxSys, dev: number, id: number): number {
  const arg = new Uint8Array(4);
  new DataView(arg.buffer).setUint32(0, id, true);
  return sys.ioctl(dev, VFIO_DEVICE_GET_GFX_DMABUF, arg);
}

test('GET_GFX_DMABUF: fds made cloexec; a second GET of a held id is a dup, not a kernel call', () => {
  const before = openFds();
  const dev = libc().memfdCreate('device', MFD_CLOEXEC);
  const { lc, kernelGets } = kernelPlayingLibc(dev);
  const sys = new LinuxSys({ libc: lc });
  const a = get(sys, dev, 1);
  assert.equal(sys.getCloexec(a), true);
  assert.equal(sys.receivedWithoutCloexec(a), true);
  assert.equal(sys.stats.cloexecFixed, 1);
  const b = get(sys, dev, 1);
  assert.ok(b >= 0 && b !== a);
  assert.equal(sys.fileSize(b), 4096, 'the dup is the same file');
  assert.equal(sys.receivedWithoutCloexec(b), false);
  const d = sys.dup(a);
  assert.equal(sys.close(a), 0);
  assert.equal(sys.close(b), 0);
  const c = get(sys, dev, 1);
  assert.ok(c >= 0, 'still held through the dup() of it: no kernel call');
  assert.deepEqual(kernelGets, [1]);
  assert.equal(sys.stats.doubleGetsAvoided, 2);
  const e = get(sys, dev, 2);
  assert.equal(sys.fileSize(e), 8192);
  assert.deepEqual(kernelGets, [1, 2], 'another id goes to the kernel');
  for (const f of [c, d, e, dev]) assert.equal(sys.close(f), 0);
  assert.equal(openFds(), before);
});

test('without the guard every GET asks the kernel', () => {
  const dev = libc().memfdCreate('device', MFD_CLOEXEC);
  const { lc, kernelGets } = kernelPlayingLibc(dev);
  const sys = new LinuxSys({ libc: lc, guardDoubleGet: false });
  const fds = [get(sys, dev, 3), get(sys, dev, 3)];
  assert.deepEqual(kernelGets, [3, 3]);
  for (const f of [...fds, dev]) sys.close(f);
});

test('pinDmabufs: a released id is answered from the pin; pins close with the device', () => {
  const before = openFds();
  const dev = libc().memfdCreate('device', MFD_CLOEXEC);
  const { lc, kernelGets } = kernelPlayingLibc(dev);
  const sys = new LinuxSys({ libc: lc });
  sys.pinDmabufs(dev);
  const a = get(sys, dev, 5);
  assert.equal(sys.close(a), 0, 'every fd of id 5 we handed out is closed');
  const b = get(sys, dev, 5);
  assert.ok(b >= 0);
  assert.equal(sys.fileSize(b), 5 * 4096);
  assert.equal(sys.getCloexec(b), true);
  assert.deepEqual(kernelGets, [5], 'no re-export');
  assert.equal(sys.stats.reexportsAvoided, 1);
  assert.equal(sys.close(b), 0);
  assert.equal(openFds(), before + 2, 'the device and the pin of id 5');
  assert.equal(sys.close(dev), 0);
  assert.equal(openFds(), before, 'closing the device closed its pin');
});
