import type { IDisposable } from './Disposable.ts';

/**
 * Time for everything above the device models. The lab uses real time; tests and benchmarks use
 * a VirtualClock so a 100k-flip storm runs in milliseconds and is deterministic.
 */
export interface Clock {
  /** Milliseconds, monotonic, fractional. */
  now(): number;
  /** Run `fn` after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): IDisposable;
  /** Run `fn` every `ms` milliseconds. */
  setInterval(fn: () => void, ms: number): IDisposable;
  /**
   * Run `fn` once the code running now has returned — at the end of this task, before the host
   * looks at timers or I/O again (a microtask in real time). Not cancellable: `fn` checks its own
   * state. Clocks without it get `setTimeout(fn, 0)` (see `atEndOfTask`), which is the same point
   * in virtual time.
   */
  atEndOfTask?(fn: () => void): void;
}

/** `clock.atEndOfTask(fn)`, or a 0 ms timeout on a clock that has no such primitive. */
export function atEndOfTask(clock: Clock, fn: () => void): void {
  if (clock.atEndOfTask !== undefined) clock.atEndOfTask(fn);
  else clock.setTimeout(fn, 0);
}

declare const performance: { now(): number };
declare function setTimeout(fn: () => void, ms: number): unknown;
declare function clearTimeout(h: unknown): void;
declare function setInterval(fn: () => void, ms: number): unknown;
declare function clearInterval(h: unknown): void;
declare function queueMicrotask(fn: () => void): void;
const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;

/** Wall-clock time through the host's timers (works in Node, workers and browsers). */
export class RealClock implements Clock {
  public now(): number {
    return performance.now();
  }
  public setTimeout(fn: () => void, ms: number): IDisposable {
    // "As soon as possible" (the event policy's coalescing refresh): Node clamps setTimeout to
    // >= 1 ms, setImmediate runs after pending I/O with no clamp. Browsers have no setImmediate.
    if (ms <= 0 && immediate) {
      let live = true;
      immediate(() => { if (live) fn(); });
      return { dispose: () => { live = false; } };
    }
    const h = setTimeout(fn, ms);
    return { dispose: () => clearTimeout(h) };
  }
  public setInterval(fn: () => void, ms: number): IDisposable {
    const h = setInterval(fn, ms);
    return { dispose: () => clearInterval(h) };
  }
  public atEndOfTask(fn: () => void): void {
    queueMicrotask(fn);
  }
}

interface Timer { at: number; seq: number; fn: () => void; every: number; live: boolean }

/** Deterministic time: nothing happens until `advance()` is called. */
export class VirtualClock implements Clock {
  private _now = 0;
  private _seq = 0;
  private _timers: Timer[] = [];

  public now(): number {
    return this._now;
  }

  public setTimeout(fn: () => void, ms: number): IDisposable {
    return this._add(fn, ms, 0);
  }

  public setInterval(fn: () => void, ms: number): IDisposable {
    if (!(ms > 0)) throw new RangeError(`interval must be > 0 ms, got ${ms}`);
    return this._add(fn, ms, ms);
  }

  /** Move time forward by `ms`, firing every timer that falls due, in time order. */
  public advance(ms: number): void {
    const end = this._now + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this._timers) {
        if (t.live && t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this._now = next.at;
      if (next.every > 0) {
        next.at += next.every;
        next.seq = this._seq++;
      } else {
        next.live = false;
      }
      next.fn();
      this._timers = this._timers.filter((t) => t.live);
    }
    this._now = end;
  }

  public get pendingTimers(): number {
    return this._timers.filter((t) => t.live).length;
  }

  private _add(fn: () => void, ms: number, every: number): IDisposable {
    const t: Timer = { at: this._now + Math.max(0, ms), seq: this._seq++, fn, every, live: true };
    this._timers.push(t);
    return { dispose: () => { t.live = false; } };
  }
}
