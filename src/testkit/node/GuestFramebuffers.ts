import { errnoName, F_ADD_SEALS, F_SEAL_SHRINK, MFD_ALLOW_SEALING, MFD_CLOEXEC, libc } from '../../linux/Libc.ts';
import { createUdmabuf } from '../../linux/Udmabuf.ts';
import { fdIdentity } from '../../qemu/MappedFd.ts';

/**
 * A guest framebuffer as QEMU holds it: guest RAM (a memfd) and the fd QEMU passes to its display
 * listener — the memfd itself (Unix.Map, or a test of ScanoutDMABUF without a GPU) or a real
 * dma-buf over it from /dev/udmabuf (what virtio-gpu blob resources become on a host without a
 * GPU). Pixels are written into the memfd, as the guest writes its RAM.
 */
export interface GuestFramebuffer {
  /** What QEMU sends: the memfd or the dma-buf. */
  readonly fd: number;
  /** fstat identity (st_dev:st_ino) of `fd`: the listener's dedup key. */
  readonly key: string;
  /** Bytes `fd` spans (the dma-buf's size, or the memfd's). */
  readonly size: number;
  /** The guest RAM (memfd) behind it, and where in it the buffer starts. */
  readonly ram: number;
  readonly ramOffset: number;
  /** Write into the guest memory behind `fd` at byte `offset` of the buffer. */
  write(bytes: Uint8Array, offset: number): void;
  close(): void;
}

export interface GuestFramebuffers {
  readonly kind: 'memfd' | 'udmabuf';
  /** A buffer of `size` bytes (a page multiple) at page offset `offset` of a fresh memfd. */
  create(size: number, offset?: number): GuestFramebuffer;
}

function identity(fd: number): { key: string; size: number } {
  const id = fdIdentity(fd);
  if (!id) throw new Error(`fstat of fd ${fd} failed`);
  return id;
}

/** A memfd of `bytes` bytes, sealed against shrinking (what udmabuf needs; harmless otherwise). */
function guestRam(bytes: number): number {
  const c = libc();
  const fd = c.memfdCreate('guest-ram', MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw new Error(`memfd_create: ${errnoName(c.errno())}`);
  if (c.ftruncate(fd, bytes) < 0 || c.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
    const e = c.errno();
    c.close(fd);
    throw new Error(`sizing/sealing the memfd: ${errnoName(e)}`);
  }
  return fd;
}

function pwriteAll(fd: number, bytes: Uint8Array, offset: number): void {
  const n = libc().pwrite(fd, bytes, bytes.length, offset);
  if (n !== bytes.length) throw new Error(`pwrite of ${bytes.length} bytes at ${offset}: ${n}`);
}

/** The memfd itself is what QEMU sends. */
export const memfdFramebuffers: GuestFramebuffers = {
  kind: 'memfd',
  create(size, offset = 0) {
    if (offset !== 0) throw new RangeError('a memfd framebuffer starts at 0 (ScanoutMap carries the offset)');
    const fd = guestRam(size);
    const id = identity(fd);
    return { fd, key: id.key, size: id.size, ram: fd, ramOffset: 0, write: (b, o) => pwriteAll(fd, b, o), close: () => void libc().close(fd) };
  },
};

/** A udmabuf over the memfd; the memfd is `offset` bytes longer, so the two sizes differ. */
export const udmabufFramebuffers: GuestFramebuffers = {
  kind: 'udmabuf',
  create(size, offset = 0) {
    const ram = guestRam(offset + size);
    const fd = createUdmabuf(ram, offset, size);
    if (fd < 0) {
      libc().close(ram);
      throw new Error(`UDMABUF_CREATE: ${errnoName(fd)}`);
    }
    const id = identity(fd);
    return {
      fd, key: id.key, size: id.size, ram, ramOffset: offset,
      write: (b, o) => pwriteAll(ram, b, offset + o),
      close: () => { libc().close(fd); libc().close(ram); },
    };
  },
};
