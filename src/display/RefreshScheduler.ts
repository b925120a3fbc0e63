import { atEndOfTask, type Clock } from '../base/Clock.ts';
import type { IDisposable } from '../base/Disposable.ts';
import { DisplayIrq } from './DisplayIrq.ts';
import type { RefreshPolicy } from './DisplayStats.ts';

/** What the scheduler needs to know to pick a policy the device and the source can do. */
export interface SchedulerArm {
  readonly requested: RefreshPolicy;
  /** Why the source cannot signal content changes ('' when it can): the event policies poll then. */
  readonly noEvents: string;
  /** A dirty log and a page resolver are there. */
  readonly dirtyCapable: boolean;
  /** Bind the display IRQ (DisplayIrq.arm on the device fd), its signals timed by `now`. */
  readonly armIrq: (onEvent: () => void, now: () => number) => DisplayIrq | { readonly reason: string };
}

/**
 * When the display client looks at the device: every `intervalMs` (timer; QEMU's GUI refresh),
 * when the display IRQ fires (event; bursts coalesce into one refresh, run outside the device's
 * event dispatch), or on flips plus a dirty-log tick (dirty). A device that said "later" (-ENOMEM,
 * -EAGAIN, -EMFILE) is asked again on the next tick, or after `intervalMs` when no timer runs.
 * Callbacks are bound once: nothing is allocated per refresh.
 */
export class RefreshScheduler implements IDisposable {
  private _policy: RefreshPolicy;
  private _note = '';
  private _stopped = false;
  private _timer: IDisposable | undefined;
  private _irq: DisplayIrq | undefined;
  /** A refresh is queued for the end of the task that took the IRQ. */
  private _eventQueued = false;
  private _retryPending: IDisposable | undefined;

  public constructor(
    private readonly _clock: Clock,
    public readonly intervalMs: number,
    private readonly _refresh: () => void,
    private readonly _dirtyTick: () => void,
    requested: RefreshPolicy,
  ) {
    this._policy = requested;
  }

  /** The policy in effect (after any fallback). */
  public get policy(): RefreshPolicy {
    return this._policy;
  }

  /** Why `policy` differs from the requested one ('' when it does not). */
  public get note(): string {
    return this._note;
  }

  public get irqWakeups(): number {
    return this._irq?.wakeups ?? 0;
  }

  public get irqEvents(): number {
    return this._irq?.signals ?? 0;
  }

  /**
   * When the display IRQ last signalled (this clock, ms): under the event policies, the vblank
   * that latched the flip a refresh finds (several coalesced signals: the newest, the flip shown).
   * undefined under the timer policy: a poll does not know when the flip latched.
   */
  public get irqAt(): number | undefined {
    return this._policy === 'timer' ? undefined : this._irq?.lastSignalAt;
  }

  /** Pick the policy (falling back when the device cannot do it) and arm its timer and IRQ. */
  public arm(o: SchedulerArm): RefreshPolicy {
    let policy = o.requested;
    const notes: string[] = [];
    if (policy !== 'timer' && o.noEvents !== '') {
      notes.push(o.noEvents);
      policy = 'timer';
    }
    if (policy === 'dirty' && !o.dirtyCapable) {
      notes.push('dirty policy needs a dirty log and a page resolver: event policy');
      policy = 'event';
    }
    if (policy !== 'timer') {
      const irq = o.armIrq(this._onIrq, this._now);
      if (irq instanceof DisplayIrq) {
        this._irq = irq;
      } else {
        notes.push(`${irq.reason}: timer policy`);
        policy = 'timer';
      }
    }
    this._policy = policy;
    this._note = notes.join('; ');
    if (policy !== 'event') this._timer = this._clock.setInterval(this._onTick, this.intervalMs);
    return policy;
  }

  /** Ask again later: the timer policy's next tick does; the event policies need a one-shot timer. */
  public retry(): void {
    if (this._policy === 'timer' || this._retryPending !== undefined || this._stopped) return;
    this._retryPending = this._clock.setTimeout(this._onRetryDue, this.intervalMs);
  }

  /** Stop for good and disarm the IRQ (its counters stay readable). Idempotent. */
  public dispose(): void {
    this._stopped = true;
    this._timer?.dispose();
    this._retryPending?.dispose();
    this._timer = this._retryPending = undefined;
    this._irq?.dispose();
  }

  private readonly _now = (): number => this._clock.now();

  private readonly _onTick = (): void => {
    if (this._policy === 'dirty') this._dirtyTick();
    else this._refresh();
  };

  private readonly _onIrq = (): void => {
    if (this._eventQueued || this._stopped) return;
    // Refresh once the code that raised the IRQ has returned (the device's dispatch, the poll
    // that read the eventfd): at the end of this task, as a VMM's eventfd handler runs in its
    // main loop. One at a time: a burst of IRQs in one task is one refresh.
    this._eventQueued = true;
    atEndOfTask(this._clock, this._onEventDue);
  };

  private readonly _onEventDue = (): void => {
    this._eventQueued = false;
    if (!this._stopped) this._refresh();
  };

  private readonly _onRetryDue = (): void => {
    this._retryPending = undefined;
    this._refresh();
  };
}
