import type { IDisposable } from '../../base/Disposable.ts';
import type { Mapping, Sys } from '../../vfio/Sys.ts';
import { wallNow } from './TimedClock.ts';

/**
 * A Sys that forwards to another and adds up the wall time spent inside it. With the emulated
 * kernel, that is the device model's share of a refresh (plane decode, GGTT walk, the dma-buf
 * cache on the device side), which a real kernel would charge differently.
 */
export class TimedSys implements Sys {
  public busyMs = 0;
  public calls = 0;

  public constructor(private readonly _inner: Sys, private readonly _wall: () => number = wallNow) {}

  public ioctl(fd: number, request: number, arg: Uint8Array): number {
    const t0 = this._wall();
    const r = this._inner.ioctl(fd, request, arg);
    this._add(t0);
    return r;
  }
  public pread(fd: number, buf: Uint8Array, offset: number): number {
    const t0 = this._wall();
    const r = this._inner.pread(fd, buf, offset);
    this._add(t0);
    return r;
  }
  public pwrite(fd: number, buf: Uint8Array, offset: number): number { return this._inner.pwrite(fd, buf, offset); }
  public mmap(fd: number, offset: number, length: number, prot: number): Mapping | number {
    const t0 = this._wall();
    const r = this._inner.mmap(fd, offset, length, prot);
    this._add(t0);
    return r;
  }
  public close(fd: number): number {
    const t0 = this._wall();
    const r = this._inner.close(fd);
    this._add(t0);
    return r;
  }
  public dup(fd: number): number { return this._inner.dup(fd); }
  public eventfd(): number { return this._inner.eventfd(); }
  public readEventfd(fd: number): bigint | number { return this._inner.readEventfd(fd); }
  public onReadable(fd: number, cb: () => void): IDisposable { return this._inner.onReadable(fd, cb); }
  public getCloexec(fd: number): boolean | number { return this._inner.getCloexec(fd); }

  private _add(t0: number): void {
    this.busyMs += this._wall() - t0;
    this.calls++;
  }
}
