import type { Clock } from '../base/Clock.ts';
import type { IDisposable } from '../base/Disposable.ts';

export interface OutputBudgetOptions {
  readonly clock: Clock;
  /** Bytes queued for all clients together, at most. Default 256 MiB. */
  readonly maxBytes?: number;
  /**
   * The largest single message a client queues: a client may start one only while this much is
   * free, so the total never passes `maxBytes`. Default 256 KiB + 64 (one BUFFER_DATA chunk).
   */
  readonly maxMessageBytes?: number;
  /** A client with bytes queued and none written for this long is dropped. Default 10 000 ms. */
  readonly stallMs?: number;
}

/** What the budget asks of a client it drops (close the socket: that frees its queue). */
export interface BudgetClient {
  /** Drop the client; `reason` says why (close frame, log line). */
  evict(reason: string): void;
  /** Called when room came back after `mayQueue()` said no. */
  wake(): void;
}

export interface OutputBudgetStats {
  readonly clients: number;
  readonly queuedBytes: number;
  readonly queuedPeak: number;
  readonly maxBytes: number;
  /** Clients dropped for holding more than their share while the budget was tight. */
  readonly evictedShare: number;
  /** Clients dropped for not reading for `stallMs`. */
  readonly evictedStalled: number;
}

/**
 * One client's account with an OutputBudget: report every byte queued (`queued(+n)`) and
 * written out (`queued(-n)`), ask `mayQueue()` before building the next message.
 */
export class BudgetAccount implements IDisposable {
  /** Bytes queued now. */
  public bytes = 0;
  /** When the queue last made progress (a write completed, or it became non-empty). */
  public progressAt: number;
  public evicted = false;
  public disposed = false;
  public waiting = false;
  public readonly client: BudgetClient;
  private readonly _budget: OutputBudget;

  public constructor(budget: OutputBudget, client: BudgetClient, now: number) {
    this._budget = budget;
    this.client = client;
    this.progressAt = now;
  }

  /** `delta` bytes were queued (> 0) or written out / dropped (< 0). */
  public queued(delta: number): void {
    if (this.disposed) return;
    this._budget._move(this, delta);
  }

  /** May this client queue one more message now? When not, the budget makes room if it can. */
  public mayQueue(): boolean {
    return !this.disposed && this._budget._mayQueue(this);
  }

  /** The client is gone: its bytes leave the total (its socket was destroyed with them). */
  public dispose(): void {
    if (this.disposed) return;
    this._budget._remove(this);
    this.disposed = true;
  }
}

/**
 * The global bound on bytes queued for sending, across every client of every kind (WebSocket
 * viewers, VNC clients): each per-client queue is bounded already, but 200 clients that stop
 * reading would still pin 200 × that. When a client asks for room and the total is at the
 * budget, clients holding more than their share (budget / clients) are dropped, the one whose
 * queue has been stuck longest first, until there is room; independently, a client whose queue
 * has made no progress for `stallMs` is dropped without waiting for the heartbeat.
 */
export class OutputBudget implements IDisposable {
  public readonly maxBytes: number;
  private readonly _clock: Clock;
  private readonly _slack: number;
  private readonly _stallMs: number;
  private readonly _accounts = new Set<BudgetAccount>();
  private _total = 0;
  private _peak = 0;
  private _evictedShare = 0;
  private _evictedStalled = 0;
  private _timer: IDisposable | undefined;
  private _waking = false;

  public constructor(opts: OutputBudgetOptions) {
    this._clock = opts.clock;
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
    this._slack = opts.maxMessageBytes ?? 256 * 1024 + 64;
    this._stallMs = opts.stallMs ?? 10_000;
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 2 * this._slack) {
      throw new RangeError(`the output budget must be an integer of at least ${2 * this._slack} bytes, got ${this.maxBytes}`);
    }
    if (!(this._stallMs > 0)) throw new RangeError(`stallMs must be > 0, got ${this._stallMs}`);
  }

  public register(client: BudgetClient): BudgetAccount {
    const a = new BudgetAccount(this, client, this._clock.now());
    this._accounts.add(a);
    this._timer ??= this._clock.setInterval(() => this.checkStalled(), Math.max(50, this._stallMs / 4));
    return a;
  }

  public get queuedBytes(): number {
    return this._total;
  }

  public get stats(): OutputBudgetStats {
    return {
      clients: this._accounts.size, queuedBytes: this._total, queuedPeak: this._peak, maxBytes: this.maxBytes,
      evictedShare: this._evictedShare, evictedStalled: this._evictedStalled,
    };
  }

  /** Drop every client whose queue has been stuck for `stallMs` (the timer calls this too). */
  public checkStalled(): void {
    const now = this._clock.now();
    for (const a of [...this._accounts]) {
      if (a.bytes > 0 && now - a.progressAt >= this._stallMs) {
        this._evictedStalled++;
        this._evict(a, `not reading: ${a.bytes} bytes queued, none written for ${Math.round((now - a.progressAt) / 1000)} s`);
      }
    }
  }

  public dispose(): void {
    this._timer?.dispose();
    this._timer = undefined;
  }

  /** @internal */
  public _move(a: BudgetAccount, delta: number): void {
    if (delta > 0 && a.bytes === 0) a.progressAt = this._clock.now();
    if (delta < 0) a.progressAt = this._clock.now();
    a.bytes += delta;
    this._total += delta;
    if (this._total > this._peak) this._peak = this._total;
    if (delta < 0) this._wakeWaiting();
  }

  /** @internal */
  public _mayQueue(a: BudgetAccount): boolean {
    if (this._total + this._slack <= this.maxBytes) return true;
    this._reclaim(a);
    if (this._total + this._slack <= this.maxBytes) return true;
    a.waiting = true;
    return false;
  }

  /** @internal */
  public _remove(a: BudgetAccount): void {
    if (!this._accounts.delete(a)) return;
    this._total -= a.bytes;
    a.bytes = 0;
    if (this._accounts.size === 0) this.dispose();
    this._wakeWaiting();
  }

  /** The budget is tight: drop clients over their share, longest stuck first, until there is room. */
  private _reclaim(asking: BudgetAccount): void {
    const share = this.maxBytes / Math.max(1, this._accounts.size);
    const over = [...this._accounts].filter((x) => x !== asking && x.bytes > share)
      .sort((x, y) => x.progressAt - y.progressAt);
    for (const x of over) {
      if (this._total + this._slack <= this.maxBytes) return;
      this._evictedShare++;
      this._evict(x, `output budget full: ${x.bytes} bytes queued, over the ${Math.floor(share)}-byte share`);
    }
  }

  private _evict(a: BudgetAccount, reason: string): void {
    if (a.evicted || a.disposed) return;
    a.evicted = true;
    a.dispose();
    a.client.evict(reason);
  }

  /** Room came back: let the clients that were told no try again (once, after this turn). */
  private _wakeWaiting(): void {
    if (this._waking || this._total + this._slack > this.maxBytes) return;
    let any = false;
    for (const a of this._accounts) if (a.waiting) any = true;
    if (!any) return;
    this._waking = true;
    this._clock.setTimeout(() => {
      this._waking = false;
      for (const a of [...this._accounts]) {
        if (!a.waiting) continue;
        a.waiting = false;
        a.client.wake();
      }
    }, 0);
  }
}
