import { Errno } from '../base/Errno.ts';
import { Emitter } from '../base/Emitter.ts';
import { OpenFile } from './OpenFile.ts';

const COUNTER_MAX = 0xffff_ffff_ffff_fffen;

/**
 * eventfd(2) semantics: a u64 counter; signal adds to it, read returns it and resets it to 0
 * (non-semaphore mode), a read of a zero counter is `-EAGAIN` (non-blocking). The display event
 * channel is one of these, armed on the device with VFIO_DEVICE_SET_IRQS.
 */
export class EventFd extends OpenFile {
  public readonly kind = 'eventfd';
  private _counter = 0n;
  private readonly _onReadable = new Emitter<void>();
  public readonly onReadable = this._onReadable.event;

  public get counter(): bigint {
    return this._counter;
  }

  public signal(n = 1n): void {
    const wasZero = this._counter === 0n;
    this._counter = this._counter + n > COUNTER_MAX ? COUNTER_MAX : this._counter + n;
    if (wasZero && this._counter > 0n) this._onReadable.fire();
  }

  /** read(2) of 8 bytes. */
  public readCounter(): bigint | number {
    if (this._counter === 0n) return -Errno.EAGAIN;
    const v = this._counter;
    this._counter = 0n;
    return v;
  }

  public override pread(): number {
    return -Errno.ESPIPE;
  }

  public override release(): void {
    this._onReadable.dispose();
  }
}
