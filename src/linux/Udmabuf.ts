import { defineLayout, writeLayout } from '../vfio/StructLayout.ts';
import { O_CLOEXEC, O_RDWR, libc, type Libc } from './Libc.ts';

/**
 * /dev/udmabuf (CONFIG_UDMABUF, <linux/udmabuf.h>): pages of a memfd exported as a real dma-buf.
 * QEMU's virtio-gpu does this for blob resources when the host has no GPU, and hands the dma-buf
 * to its display listener (ScanoutDMABUF); the tests do the same to feed our listener real
 * dma-bufs. The kernel wants the memfd sealed against shrinking (F_SEAL_SHRINK, not F_SEAL_WRITE)
 * and offset and size page-aligned.
 */
export const UDMABUF_DEVICE = '/dev/udmabuf';
/** _IOW('u', 0x42, struct udmabuf_create) */
export const UDMABUF_CREATE = 0x40187542;
export const UDMABUF_FLAGS_CLOEXEC = 0x01;

export const UDMABUF_CREATE_LAYOUT = defineLayout('struct udmabuf_create', 24, {
  memfd: { offset: 0, type: 'u32', c: 'memfd' },
  flags: { offset: 4, type: 'u32', c: 'flags' },
  offset: { offset: 8, type: 'u64', c: 'offset' },
  size: { offset: 16, type: 'u64', c: 'size' },
});

/**
 * A close-on-exec dma-buf fd over `size` bytes at `offset` of `memfd`, or -errno: -ENOENT when the
 * kernel has no /dev/udmabuf, -EINVAL for a memfd without F_SEAL_SHRINK or an unaligned range.
 */
export function createUdmabuf(memfd: number, offset: number, size: number, c: Libc = libc()): number {
  const dev = c.open(UDMABUF_DEVICE, O_RDWR | O_CLOEXEC);
  if (dev < 0) return -c.errno();
  const arg = new Uint8Array(UDMABUF_CREATE_LAYOUT.size);
  writeLayout(UDMABUF_CREATE_LAYOUT, arg, { memfd, flags: UDMABUF_FLAGS_CLOEXEC, offset: BigInt(offset), size: BigInt(size) });
  const fd = c.ioctlPtr(dev, UDMABUF_CREATE, arg);
  const err = fd < 0 ? c.errno() : 0;
  // The dma-buf holds its own references to the memfd's pages: the device fd is not needed.
  c.close(dev);
  return fd < 0 ? -err : fd;
}
