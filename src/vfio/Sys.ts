import type { IDisposable } from '../base/Disposable.ts';

/**
 * The device-file interface: the handful of syscalls a VMM display client uses. It is implemented
 * by the emulated kernel (vfio/EmulatedKernel) and by a real Linux kernel through FFI (linux/), so
 * the display client and the conformance suite run unchanged against both.
 *
 * Conventions follow the syscalls: a non-negative return is success, `-errno` is failure.
 * Nothing here throws for bad input.
 */
export interface Sys {
  /** ioctl(fd, request, arg): `arg` is the in/out struct bytes (or a u32 for GET_GFX_DMABUF). */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  pread(fd: number, buf: Uint8Array, offset: number): number;
  pwrite(fd: number, buf: Uint8Array, offset: number): number;
  /** Map `length` bytes at `offset` of the file read-only (PROT_READ, MAP_SHARED). */
  mmap(fd: number, offset: number, length: number, prot: number): Mapping | number;
  close(fd: number): number;
  dup(fd: number): number;
  /** eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK). */
  eventfd(): number;
  /** read(2) of 8 bytes from an eventfd: the counter, reset to 0; `-EAGAIN` when it is 0. */
  readEventfd(fd: number): bigint | number;
  /** Call `cb` when `fd` becomes readable (an eventfd with a non-zero counter). */
  onReadable(fd: number, cb: () => void): IDisposable;
  /** FD_CLOEXEC state of an fd (-EBADF when closed). */
  getCloexec(fd: number): boolean | number;
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;

/**
 * A mapped buffer. `chunks` are zero-copy views whose concatenation is the mapping; a contiguous
 * mapping has exactly one chunk. A scattered emulated dma-buf has one chunk per run of contiguous
 * guest pages, so readers walk page by page without copying.
 */
export interface Mapping {
  readonly length: number;
  readonly chunks: readonly Uint8Array[];
  /** Byte offset of each chunk within the mapping (same length as `chunks`). */
  readonly chunkOffsets: readonly number[];
  /** Release the mapping. Views must not be used afterwards. */
  unmap(): void;
}
