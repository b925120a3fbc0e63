import { Errno } from '../base/Errno.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE } from './Abi.ts';
import type { Region } from './Region.ts';

const RW = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

/** A register space accessed 1, 2 or 4 bytes at a time (config space, an MMIO BAR). */
export function registerRegion(
  index: number, offset: number, size: number,
  read: (off: number, n: number) => number, write: (off: number, n: number, v: number) => void,
): Region {
  const access = (off: number, buf: Uint8Array, isWrite: boolean): number => {
    const n = buf.byteLength;
    if (n !== 1 && n !== 2 && n !== 4) return -Errno.EINVAL;
    const v = new DataView(buf.buffer, buf.byteOffset, n);
    if (isWrite) write(off, n, n === 1 ? v.getUint8(0) : n === 2 ? v.getUint16(0, true) : v.getUint32(0, true));
    else {
      const x = read(off, n);
      if (n === 1) v.setUint8(0, x); else if (n === 2) v.setUint16(0, x, true); else v.setUint32(0, x >>> 0, true);
    }
    return n;
  };
  return {
    index, offset, size, flags: RW,
    read: (off, buf) => access(off, buf, false),
    write: (off, buf) => access(off, buf, true),
  };
}

/**
 * Memory inside guest RAM exposed as a region (VRAM, an mdpy framebuffer): pread/pwrite copy at
 * the requested offset (the upstream samples get the offset wrong: mbochs lands 8192 bytes off,
 * mdpy ignores it), mmap gives a zero-copy view.
 */
export function memoryRegion(index: number, offset: number, size: number, view: (off: number, len: number) => Uint8Array): Region {
  return {
    index, offset, size, flags: RW | VFIO_REGION_INFO_FLAG_MMAP,
    read: (off, buf) => { buf.set(view(off, buf.byteLength)); return buf.byteLength; },
    write: (off, buf) => { view(off, buf.byteLength).set(buf); return buf.byteLength; },
    map: (off, len) => {
      if (off % PAGE_SIZE !== 0) return -Errno.EINVAL;
      return { length: len, chunks: [view(off, len)], chunkOffsets: [0], unmap: () => {} };
    },
  };
}
