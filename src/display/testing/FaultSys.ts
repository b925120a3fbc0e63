import type { IDisposable } from '../../base/Disposable.ts';
import type { Mapping, Sys } from '../../vfio/Sys.ts';

/** Decides a fault for one ioctl: return a negative errno to fail it, undefined to pass it on. */
export type IoctlFault = (fd: number, request: number, arg: Uint8Array) => number | undefined;

/**
 * A Sys that forwards to another and can fail chosen ioctls (real-kernel behaviour our emulation
 * does not have, such as mbochs' -ENOMEM on the first query after a mode change), and hide the
 * display IRQ the way a stock kernel does. Counts ioctls by request number.
 */
export class FaultSys implements Sys {
  public fault: IoctlFault | undefined;
  public readonly ioctlCounts = new Map<number, number>();

  public constructor(private readonly _inner: Sys) {}

  public count(request: number): number {
    return this.ioctlCounts.get(request) ?? 0;
  }

  public ioctl(fd: number, request: number, arg: Uint8Array): number {
    this.ioctlCounts.set(request, this.count(request) + 1);
    const f = this.fault?.(fd, request, arg);
    if (f !== undefined) return f;
    return this._inner.ioctl(fd, request, arg);
  }
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
