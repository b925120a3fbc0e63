import type { IDisposable } from '../base/Disposable.ts';
import { atEndOfTask, type Clock } from '../base/Clock.ts';

declare const performance: { now(): number };

/** A high-resolution wall clock in milliseconds (performance.now in Node, workers, browsers). */
export function wallNow(): number {
  return performance.now();
}

/**
 * A Clock that forwards to another (usually virtual) clock and measures, in wall time, every
 * callback registered through it. Handing it to a display client measures exactly the client's
 * refresh work — not the guest, not the virtual clock's bookkeeping.
 */
export class TimedClock implements Clock {
  /** Wall milliseconds spent inside callbacks registered here. */
  public busyMs = 0;
  /** Callbacks run. */
  public calls = 0;

  public constructor(private readonly _inner: Clock, private readonly _wall: () => number = wallNow) {}

  public now(): number {
    return this._inner.now();
  }

  public setTimeout(fn: () => void, ms: number): IDisposable {
    return this._inner.setTimeout(this._timed(fn), ms);
  }

  public setInterval(fn: () => void, ms: number): IDisposable {
    return this._inner.setInterval(this._timed(fn), ms);
  }

  public atEndOfTask(fn: () => void): void {
    atEndOfTask(this._inner, this._timed(fn));
  }

  private _timed(fn: () => void): () => void {
    return () => {
      const t0 = this._wall();
      fn();
      this.busyMs += this._wall() - t0;
      this.calls++;
    };
  }
}
