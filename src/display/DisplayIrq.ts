import type { IDisposable } from '../base/Disposable.ts';
import { errnoName } from '../base/Errno.ts';
import {
  VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_DISPLAY_IRQ_INDEX,
} from '../vfio/Abi.ts';
import { encodeIrqInfoRequest, encodeIrqSet, readIrqInfo } from '../vfio/IrqInfo.ts';
import type { Sys } from '../vfio/Sys.ts';

/**
 * The display event channel (our VFIO extension, vfio/Abi.ts VFIO_PCI_DISPLAY_IRQ_INDEX): an
 * eventfd the device signals on latched flips, plane and mode changes. `arm` returns undefined
 * and a reason when the device has no such IRQ (every real kernel), so the caller falls back to
 * the timer. Each wake-up reads (and so resets) the eventfd before calling `onEvent`; several
 * device events may coalesce into one wake-up, which is fine: the client re-queries anyway.
 */
export class DisplayIrq implements IDisposable {
  private _sub: IDisposable | undefined;
  private _disposed = false;
  /** Device events delivered (the eventfd counter summed over reads). */
  public signals = 0;
  /** Wake-ups (eventfd reads that returned a count). */
  public wakeups = 0;
  /**
   * When the last signal was read (the caller's clock, ms): the IRQ's own time, before any hop to
   * a refresh. The emulated eventfd is read in the device's vblank call itself; a real one when
   * its poll sees it. undefined before the first.
   */
  public lastSignalAt: number | undefined;

  private constructor(
    private readonly _sys: Sys,
    private readonly _deviceFd: number,
    public readonly eventFd: number,
    private readonly _onEvent: () => void,
    private readonly _now: () => number,
  ) {
    this._sub = _sys.onReadable(eventFd, this._readable);
  }

  /** Probe GET_IRQ_INFO, create an eventfd and bind it with SET_IRQS; `now` times the signals. */
  public static arm(sys: Sys, deviceFd: number, onEvent: () => void, now: () => number): DisplayIrq | { reason: string } {
    const info = encodeIrqInfoRequest(VFIO_PCI_DISPLAY_IRQ_INDEX);
    const r = sys.ioctl(deviceFd, VFIO_DEVICE_GET_IRQ_INFO, info);
    if (r < 0) return { reason: `no display IRQ (GET_IRQ_INFO ${VFIO_PCI_DISPLAY_IRQ_INDEX}: ${errnoName(r)})` };
    const irq = readIrqInfo(info);
    if (irq.count < 1 || (irq.flags & VFIO_IRQ_INFO_EVENTFD) === 0) {
      return { reason: `no display IRQ (index ${VFIO_PCI_DISPLAY_IRQ_INDEX} has count ${irq.count})` };
    }
    const efd = sys.eventfd();
    if (efd < 0) return { reason: `eventfd failed: ${errnoName(efd)}` };
    const set = encodeIrqSet({
      flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
      index: VFIO_PCI_DISPLAY_IRQ_INDEX, start: 0, eventfds: [efd],
    });
    const s = sys.ioctl(deviceFd, VFIO_DEVICE_SET_IRQS, set);
    if (s < 0) {
      sys.close(efd);
      return { reason: `SET_IRQS display IRQ failed: ${errnoName(s)}` };
    }
    return new DisplayIrq(sys, deviceFd, efd, onEvent, now);
  }

  private readonly _readable = (): void => {
    if (this._disposed) return;
    const n = this._sys.readEventfd(this.eventFd);
    if (typeof n === 'number') return; // -EAGAIN (spurious wake-up) or a closed fd
    this.lastSignalAt = this._now();
    this.wakeups++;
    this.signals += Number(n);
    this._onEvent();
  };

  /** Disarm on the device (eventfd -1), stop listening and close the eventfd. */
  public dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._sub?.dispose();
    this._sub = undefined;
    const set = encodeIrqSet({
      flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
      index: VFIO_PCI_DISPLAY_IRQ_INDEX, start: 0, eventfds: [-1],
    });
    this._sys.ioctl(this._deviceFd, VFIO_DEVICE_SET_IRQS, set);
    this._sys.close(this.eventFd);
  }
}
