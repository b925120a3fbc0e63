import type { IDisposable } from '../base/Disposable.ts';

declare const performance: { now(): number };
declare function setTimeout(fn: () => void, ms: number): unknown;
declare function clearTimeout(h: unknown): void;

/** One tick as it happened. */
export interface Tick {
  /** Slot number (0, 1, 2, …): slot k is due at start + phase + k × period. */
  readonly index: number;
  readonly scheduled: number;
  /** performance.now() when the callback started. */
  readonly started: number;
  /** Slots passed over because this one ran more than a period late (each one a missed deadline). */
  readonly skipped: number;
}

/**
 * A drift-free periodic timer in real time: slot k is due at a fixed time (not "16 ms after the
 * last one ran", which is how setInterval drifts), and a callback that runs a whole period late
 * skips the slots it overran instead of running them back to back. The schedule, lateness and
 * skips are what the deadline figures are made of.
 */
export class Ticker implements IDisposable {
  public readonly periodMs: number;
  private readonly _fn: (t: Tick) => void;
  private _t0 = 0;
  private _next = 0;
  private _handle: unknown;
  private _stopped = true;

  public constructor(periodMs: number, fn: (t: Tick) => void) {
    if (!(periodMs > 0)) throw new RangeError(`period must be > 0 ms, got ${periodMs}`);
    this.periodMs = periodMs;
    this._fn = fn;
  }

  /** Start with slot 0 due `phaseMs` from now. */
  public start(phaseMs = 0): this {
    this._stopped = false;
    this._t0 = performance.now() + phaseMs;
    this._next = 0;
    this._arm();
    return this;
  }

  public dispose(): void {
    this._stopped = true;
    if (this._handle !== undefined) clearTimeout(this._handle);
    this._handle = undefined;
  }

  private _due(k: number): number {
    return this._t0 + k * this.periodMs;
  }

  private _arm(): void {
    const wait = Math.max(0, this._due(this._next) - performance.now());
    this._handle = setTimeout(this._fire, wait);
  }

  private readonly _fire = (): void => {
    this._handle = undefined;
    if (this._stopped) return;
    const now = performance.now();
    // Node may fire up to a millisecond early (its timers are whole ms): wait for the due time.
    if (now < this._due(this._next) - 0.05) {
      this._arm();
      return;
    }
    const k = this._next;
    // Slots due more than a whole period ago never run (each is a missed deadline): run the
    // latest due slot instead, which is then less than a period late.
    const latest = Math.floor((now - this._t0) / this.periodMs);
    const skipped = Math.max(0, latest - k);
    const index = k + skipped;
    // The next slot is armed first: the timer's own bookkeeping is not part of what `fn` starts.
    this._next = index + 1;
    this._arm();
    this._fn({ index, scheduled: this._due(index), started: now, skipped });
  };
}
