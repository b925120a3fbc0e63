import koffi from 'koffi';
import { libc, MAP_FAILED, MAP_SHARED } from '../linux/Libc.ts';
import type { Mapping } from '../vfio/Sys.ts';

const PROT_READ = 1;
const PAGE = 4096;

let _fstat: ((fd: number, buf: Uint8Array) => number) | undefined;

export interface FdIdentity {
  /** st_dev:st_ino: the identity of a dma-buf or memfd across the fds that name it. */
  readonly key: string;
  readonly size: number;
}

/** fstat(2) of an fd: its inode identity and size (undefined when fstat fails). */
export function fdIdentity(fd: number): FdIdentity | undefined {
  _fstat ??= koffi.load('libc.so.6').func('int fstat(int fd, _Out_ uint8_t *buf)') as unknown as (fd: number, buf: Uint8Array) => number;
  const st = new Uint8Array(256);
  if (_fstat(fd, st) < 0) return undefined;
  const dv = new DataView(st.buffer);
  // x86-64 struct stat: st_dev at 0, st_ino at 8, st_size at 48.
  return { key: `${dv.getBigUint64(0, true)}:${dv.getBigUint64(8, true)}`, size: Number(dv.getBigInt64(48, true)) };
}

/**
 * A read-only shared mapping of `length` bytes at `offset` of an fd (memfd or dma-buf): the
 * pixels are read in place, never copied. Returns an errno string when the fd cannot be mapped.
 */
export function mapFd(fd: number, offset: number, length: number): Mapping | string {
  const c = libc();
  const base = offset - (offset % PAGE);
  const span = Math.ceil((offset - base + length) / PAGE) * PAGE;
  const addr = c.mmap(span, PROT_READ, MAP_SHARED, fd, base);
  if (addr === MAP_FAILED) return `mmap failed (errno ${c.errno()})`;
  const bytes = new Uint8Array(c.view(addr, span)).subarray(offset - base, offset - base + length);
  let live = true;
  return {
    length, chunks: [bytes], chunkOffsets: [0],
    unmap: () => {
      if (!live) return;
      live = false;
      c.munmap(addr, span);
    },
  };
}
