import type { IDisposable } from '../base/Disposable.ts';
import type { Mapping, Sys } from './Sys.ts';

/**
 * A Sys that forwards every call to another. Wrappers (fault injection, timing, replay) extend it
 * and override only the calls they change.
 */
export class ForwardingSys implements Sys {
  public constructor(protected readonly _inner: Sys) {}

  public ioctl(fd: number, request: number, arg: Uint8Array): number { return this._inner.ioctl(fd, request, arg); }
  public pread(fd: number, buf: Uint8Array, offset: number): number { return this._inner.pread(fd, buf, offset); }
  public pwrite(fd: number, buf: Uint8Array, offset: number): number { return this._inner.pwrite(fd, buf, offset); }
  public mmap(fd: number, offset: number, length: number, prot: number): Mapping | number {
    return this._inner.mmap(fd, offset, length, prot);
  }
  public close(fd: number): number { return this._inner.close(fd); }
  public dup(fd: number): number { return this._inner.dup(fd); }
  public eventfd(): number { return this._inner.eventfd(); }
  public readEventfd(fd: number): bigint | number { return this._inner.readEventfd(fd); }
  public onReadable(fd: number, cb: () => void): IDisposable { return this._inner.onReadable(fd, cb); }
  public getCloexec(fd: number): boolean | number { return this._inner.getCloexec(fd); }
}
