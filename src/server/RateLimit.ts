/**
 * A token bucket: `rate` events per second on average, `burst` at once. `take()` says whether one
 * more event may happen now. Time comes from `now` (ms) so tests and the server share the code.
 */
export class RateLimit {
  public readonly rate: number;
  public readonly burst: number;
  private _tokens: number;
  private _at: number;

  public constructor(rate: number, burst: number, now: number) {
    if (!(rate > 0) || !(burst >= 1)) throw new RangeError(`rate limit needs rate > 0 and burst >= 1, got ${rate}/${burst}`);
    this.rate = rate;
    this.burst = burst;
    this._tokens = burst;
    this._at = now;
  }

  public take(now: number): boolean {
    this._tokens = Math.min(this.burst, this._tokens + ((now - this._at) * this.rate) / 1000);
    this._at = now;
    if (this._tokens < 1) return false;
    this._tokens -= 1;
    return true;
  }
}
