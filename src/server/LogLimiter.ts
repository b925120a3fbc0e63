import type { IDisposable } from '../base/Disposable.ts';
import type { Clock } from '../base/Clock.ts';

export interface LogLimiterOptions {
  readonly clock: Clock;
  /** Lines of one kind written per window; the rest are counted. Default 10. */
  readonly linesPerWindow?: number;
  /** Window length in ms. Default 60 000 (the summary says "in the last minute"). */
  readonly windowMs?: number;
}

interface Kind {
  written: number;
  suppressed: number;
  windowStart: number;
  /** Plural noun phrase for the summary ("refused upgrades"). */
  noun: string;
}

/** Longest piece of peer-supplied text that reaches the log (an Origin header, a VM name). */
export const MAX_PEER_TEXT = 80;

/** Peer text made safe for one log line: control characters escaped, length capped. */
export function peerText(s: string | undefined): string {
  if (s === undefined) return '?';
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > MAX_PEER_TEXT ? `${clean.slice(0, MAX_PEER_TEXT)}…(${clean.length} chars)` : clean;
}

/**
 * Rate limit for log lines a peer can trigger (refused upgrades, failed resizes, protocol errors):
 * per kind, the first `linesPerWindow` lines of a window are written, the rest only counted, and
 * the count is written once as a summary — "… 12,345 more refused upgrades in the last minute" —
 * when the window closes. Unauthenticated peers can thus add at most a few lines per minute.
 */
export class LogLimiter implements IDisposable {
  private readonly _sink: (line: string) => void;
  private readonly _clock: Clock;
  private readonly _lines: number;
  private readonly _windowMs: number;
  private readonly _kinds = new Map<string, Kind>();
  private _flushTimer: IDisposable | undefined;
  private _totalSuppressed = 0;

  public constructor(sink: (line: string) => void, opts: LogLimiterOptions) {
    this._sink = sink;
    this._clock = opts.clock;
    this._lines = opts.linesPerWindow ?? 10;
    this._windowMs = opts.windowMs ?? 60_000;
  }

  /** Lines suppressed so far, over every kind. */
  public get suppressed(): number {
    return this._totalSuppressed;
  }

  /**
   * Log a line of kind `kind` (`noun` names it in the summary). `line` is only called when the
   * line will be written, so building it costs nothing under a flood.
   */
  public write(kind: string, noun: string, line: () => string): void {
    const now = this._clock.now();
    let k = this._kinds.get(kind);
    if (k !== undefined && now - k.windowStart >= this._windowMs) {
      this._summarize(k);
      k = undefined;
    }
    if (k === undefined) {
      k = { written: 0, suppressed: 0, windowStart: now, noun };
      this._kinds.set(kind, k);
    }
    if (k.written < this._lines) {
      k.written++;
      this._sink(line());
      return;
    }
    k.suppressed++;
    this._totalSuppressed++;
    this._flushTimer ??= this._clock.setTimeout(() => this.flush(), this._windowMs);
  }

  /** Write the summaries of every kind whose window has closed (and those still open if `all`). */
  public flush(all = false): void {
    this._flushTimer?.dispose();
    this._flushTimer = undefined;
    const now = this._clock.now();
    let pending = false;
    for (const [name, k] of this._kinds) {
      if (all || now - k.windowStart >= this._windowMs) {
        this._summarize(k);
        this._kinds.delete(name);
      } else if (k.suppressed > 0) {
        pending = true;
      }
    }
    if (pending) this._flushTimer = this._clock.setTimeout(() => this.flush(), this._windowMs);
  }

  public dispose(): void {
    this.flush(true);
  }

  private _summarize(k: Kind): void {
    if (k.suppressed === 0) return;
    const minutes = this._windowMs === 60_000 ? 'the last minute' : `the last ${Math.round(this._windowMs / 1000)} s`;
    this._sink(`… ${k.suppressed.toLocaleString('en-US')} more ${k.noun} in ${minutes}`);
    k.suppressed = 0;
  }
}
