import type { IDisposable } from '../base/Disposable.ts';
import { VFIO_DEVICE_QUERY_GFX_PLANE } from '../vfio/Abi.ts';
import type { Mapping, Sys } from '../vfio/Sys.ts';

/**
 * A Sys that answers QUERY_GFX_PLANE from a recording of the real kernel's last answer for the
 * same request bytes, in O(1). Timing a display client on it measures the client alone: what
 * a refresh costs the VMM when the kernel's query is free. Everything else is forwarded.
 */
export class ReplaySys implements Sys {
  public replayed = 0;
  private readonly _answers = new Map<string, { rc: number; bytes: Uint8Array }>();

  public constructor(private readonly _inner: Sys) {}

  public ioctl(fd: number, request: number, arg: Uint8Array): number {
    if (request !== VFIO_DEVICE_QUERY_GFX_PLANE || arg.byteLength < 12) return this._inner.ioctl(fd, request, arg);
    // The input fields (argsz, flags, drm_plane_type) select the answer.
    const key = `${fd}:${arg[4]}:${arg[8]}`;
    const hit = this._answers.get(key);
    if (hit !== undefined) {
      arg.set(hit.bytes);
      this.replayed++;
      return hit.rc;
    }
    const rc = this._inner.ioctl(fd, request, arg);
    this._answers.set(key, { rc, bytes: arg.slice() });
    return rc;
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
