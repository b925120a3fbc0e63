import { ForwardingSys } from '../vfio/ForwardingSys.ts';
import type { Mapping, Sys } from '../vfio/Sys.ts';
import { wallNow } from './TimedClock.ts';

/**
 * A Sys that forwards to another and adds up the wall time spent inside it. With the emulated
 * kernel, that is the device model's share of a refresh (plane decode, GGTT walk, the dma-buf
 * cache on the device side), which a real kernel would charge differently.
 */
export class TimedSys extends ForwardingSys {
  public busyMs = 0;
  public calls = 0;

  public constructor(inner: Sys, private readonly _wall: () => number = wallNow) {
    super(inner);
  }

  public override ioctl(fd: number, request: number, arg: Uint8Array): number {
    const t0 = this._wall();
    const r = this._inner.ioctl(fd, request, arg);
    this._add(t0);
    return r;
  }
  public override pread(fd: number, buf: Uint8Array, offset: number): number {
    const t0 = this._wall();
    const r = this._inner.pread(fd, buf, offset);
    this._add(t0);
    return r;
  }
  public override mmap(fd: number, offset: number, length: number, prot: number): Mapping | number {
    const t0 = this._wall();
    const r = this._inner.mmap(fd, offset, length, prot);
    this._add(t0);
    return r;
  }
  public override close(fd: number): number {
    const t0 = this._wall();
    const r = this._inner.close(fd);
    this._add(t0);
    return r;
  }

  private _add(t0: number): void {
    this.busyMs += this._wall() - t0;
    this.calls++;
  }
}
