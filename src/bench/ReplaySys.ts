import { VFIO_DEVICE_QUERY_GFX_PLANE } from '../vfio/Abi.ts';
import { ForwardingSys } from '../vfio/ForwardingSys.ts';
import type { Sys } from '../vfio/Sys.ts';

/**
 * A Sys that answers QUERY_GFX_PLANE from a recording of the real kernel's last answer for the
 * same request bytes, in O(1). Timing a display client on it measures the client alone: what
 * a refresh costs the VMM when the kernel's query is free. Everything else is forwarded (ForwardingSys).
 */
export class ReplaySys extends ForwardingSys {
  public replayed = 0;
  private readonly _answers = new Map<string, { rc: number; bytes: Uint8Array }>();

  public constructor(inner: Sys) {
    super(inner);
  }

  public override ioctl(fd: number, request: number, arg: Uint8Array): number {
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

}
