import type { IDisposable } from '../base/Disposable.ts';
import { Errno } from '../base/Errno.ts';
import { EventFd } from './EventFd.ts';
import { FdTable } from './FdTable.ts';
import type { OpenFile } from './OpenFile.ts';
import type { Mapping, Sys } from './Sys.ts';

/**
 * The emulated kernel as one host process sees it: an fd table and the syscalls of Sys. A bug in a
 * file implementation must not take the host down: every exception is caught, counted as an
 * "oops" (the fuzzers assert there are none) and answered with -EIO.
 */
export class EmulatedKernel implements Sys {
  public readonly fds: FdTable;
  /** Exceptions caught at the syscall boundary: always 0 unless there is a bug. */
  public oopses = 0;
  public lastOops: unknown;

  public constructor(fdLimit = 1024) {
    this.fds = new FdTable(fdLimit);
  }

  /** Install a file (the kernel-internal side of open(2)). */
  public install(file: OpenFile, cloexec = true): number {
    return this.fds.install(file, cloexec);
  }

  public ioctl(fd: number, request: number, arg: Uint8Array): number {
    const f = this.fds.get(fd);
    if (!f) return -Errno.EBADF;
    if (!Number.isInteger(request) || request < 0 || request > 0xffff_ffff) return -Errno.ENOTTY;
    return this._guard(() => f.ioctl(request >>> 0, arg, this.fds));
  }

  public pread(fd: number, buf: Uint8Array, offset: number): number {
    const f = this.fds.get(fd);
    if (!f) return -Errno.EBADF;
    if (!Number.isSafeInteger(offset) || offset < 0) return -Errno.EINVAL;
    return this._guard(() => f.pread(buf, offset));
  }

  public pwrite(fd: number, buf: Uint8Array, offset: number): number {
    const f = this.fds.get(fd);
    if (!f) return -Errno.EBADF;
    if (!Number.isSafeInteger(offset) || offset < 0) return -Errno.EINVAL;
    return this._guard(() => f.pwrite(buf, offset));
  }

  public mmap(fd: number, offset: number, length: number, prot: number): Mapping | number {
    const f = this.fds.get(fd);
    if (!f) return -Errno.EBADF;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) return -Errno.EINVAL;
    let m: Mapping | number;
    try {
      m = f.mmap(offset, length, prot);
    } catch (err) {
      this._oops(err);
      return -Errno.EIO;
    }
    return typeof m === 'number' ? m : this._holdFile(f, m);
  }

  /**
   * Like Linux's vma->vm_file, a mapping holds its file: closing the fd leaves a mapped dma-buf
   * (and its object) or a device with a mapped region alive until munmap drops the last reference.
   */
  private _holdFile(f: OpenFile, m: Mapping): Mapping {
    f.mapRefs++;
    let mapped = true;
    return {
      length: m.length, chunks: m.chunks, chunkOffsets: m.chunkOffsets,
      unmap: () => {
        if (!mapped) return;
        mapped = false;
        this._guard(() => { m.unmap(); return 0; });
        this._guard(() => { f.put('map'); return 0; }); // munmap → fput, the last may release
      },
    };
  }

  public close(fd: number): number {
    return this._guard(() => this.fds.close(fd));
  }

  public dup(fd: number): number {
    return this.fds.dup(fd);
  }

  public eventfd(): number {
    return this.fds.install(new EventFd(), true);
  }

  public readEventfd(fd: number): bigint | number {
    const f = this.fds.get(fd);
    if (!f) return -Errno.EBADF;
    if (!(f instanceof EventFd)) return -Errno.EINVAL;
    return f.readCounter();
  }

  public onReadable(fd: number, cb: () => void): IDisposable {
    const f = this.fds.get(fd);
    if (!(f instanceof EventFd)) return { dispose() {} };
    if (f.counter > 0n) queueMicrotask(cb);
    return f.onReadable(cb);
  }

  public getCloexec(fd: number): boolean | number {
    return this.fds.cloexec(fd);
  }

  private _guard(fn: () => number): number {
    try {
      const r = fn();
      return Number.isInteger(r) ? r : -Errno.EIO;
    } catch (err) {
      this._oops(err);
      return -Errno.EIO;
    }
  }

  private _oops(err: unknown): void {
    this.oopses++;
    this.lastOops = err;
  }
}

declare function queueMicrotask(fn: () => void): void;
