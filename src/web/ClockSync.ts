/** Probes sent right after connecting; then one every PERIOD_MS. */
const BURST = 8;
const PERIOD_MS = 10_000;
/** Samples kept: the offset comes from the one with the shortest round trip. */
const KEEP = 16;

interface Sample {
  readonly rtt: number;
  readonly offset: number;
}

/**
 * The host clock's offset from this page's, estimated per connection NTP-style: PING carries the
 * page's time, PONG echoes it with the host's; offset = host − midpoint of the round trip, taken
 * from the sample with the shortest round trip (the least queueing). Both clocks are
 * `performance.timeOrigin + performance.now()`.
 */
export class ClockSync {
  private _samples: Sample[] = [];
  private _seq = 0;
  private _sentBurst = 0;
  private _lastSent = 0;

  public constructor(private readonly _now: () => number = () => performance.timeOrigin + performance.now()) {}

  /** A new connection: the old estimate belongs to the old one. */
  public reset(): void {
    this._samples = [];
    this._sentBurst = 0;
    this._lastSent = 0;
  }

  /** The next probe to send, if one is due now: { seq, clientMs }. */
  public due(): { seq: number; clientMs: number } | undefined {
    const now = this._now();
    const inBurst = this._sentBurst < BURST;
    if (!inBurst && now - this._lastSent < PERIOD_MS) return undefined;
    this._sentBurst++;
    this._lastSent = now;
    return { seq: ++this._seq >>> 0, clientMs: now };
  }

  /** A PONG: returns whether another burst probe should follow at once. */
  public pong(clientMs: number, serverMs: number): boolean {
    const now = this._now();
    const rtt = now - clientMs;
    if (rtt < 0 || rtt > 60_000) return false;
    this._samples.push({ rtt, offset: serverMs - (clientMs + now) / 2 });
    if (this._samples.length > KEEP) this._samples.shift();
    return this._sentBurst < BURST;
  }

  /** host time − page time in ms, undefined before the first PONG. */
  public get offset(): number | undefined {
    let best: Sample | undefined;
    for (const s of this._samples) if (best === undefined || s.rtt < best.rtt) best = s;
    return best?.offset;
  }

  /** The shortest round trip seen (ms): the estimate's uncertainty is half of it. */
  public get rtt(): number | undefined {
    let best: number | undefined;
    for (const s of this._samples) if (best === undefined || s.rtt < best) best = s.rtt;
    return best;
  }

  /** A host time on this page's clock (undefined before the first PONG or for 0 = unknown). */
  public toLocal(hostMs: number): number | undefined {
    const o = this.offset;
    return o === undefined || hostMs <= 0 ? undefined : hostMs - o;
  }
}
