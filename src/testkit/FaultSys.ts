import { ForwardingSys } from '../vfio/ForwardingSys.ts';
import type { Sys } from '../vfio/Sys.ts';

/** Decides a fault for one ioctl: return a negative errno to fail it, undefined to pass it on. */
export type IoctlFault = (fd: number, request: number, arg: Uint8Array) => number | undefined;

/**
 * A Sys that forwards to another and can fail chosen ioctls (real-kernel behaviour our emulation
 * does not have, such as mbochs' -ENOMEM on the first query after a mode change), and hide the
 * display IRQ the way a stock kernel does. Counts ioctls by request number.
 */
export class FaultSys extends ForwardingSys {
  public fault: IoctlFault | undefined;
  public readonly ioctlCounts = new Map<number, number>();

  public constructor(inner: Sys) {
    super(inner);
  }

  public count(request: number): number {
    return this.ioctlCounts.get(request) ?? 0;
  }

  public override ioctl(fd: number, request: number, arg: Uint8Array): number {
    this.ioctlCounts.set(request, this.count(request) + 1);
    const f = this.fault?.(fd, request, arg);
    if (f !== undefined) return f;
    return this._inner.ioctl(fd, request, arg);
  }
}
