/** Samples kept for the percentiles (about 8 s of flips at 60 Hz). */
const WINDOW = 512;

/**
 * Flip → present in the viewer: for each flip (SCANOUT) the host time of the vblank that latched
 * it, already on the viewer's clock, and when the frame that shows it was presented. A flip
 * replaced by the next one before it was presented is dropped; so is a gap in the flip numbers
 * (the server sent only the newest of several flips).
 */
export class FlipLatency {
  /** Flips never presented: superseded here or skipped by the server. */
  public dropped = 0;
  /** Flips presented (with a known vblank time). */
  public presented = 0;
  private readonly _samples: number[] = [];
  private _pending: { seq: number; vblankMs: number | undefined } | undefined;
  private _lastSeq: number | undefined;

  /** A SCANOUT arrived: flip `seq`, latched at `vblankMs` on this page's clock (undefined: unknown). */
  public flip(seq: number, vblankMs: number | undefined): void {
    if (this._pending !== undefined) this.dropped++;
    if (this._lastSeq !== undefined) {
      const gap = (seq - this._lastSeq - 1) >>> 0;
      if (gap > 0 && gap < 0x80000000) this.dropped += gap;
    }
    this._lastSeq = seq;
    this._pending = { seq, vblankMs };
  }

  /** Whether a flip waits to be presented. */
  public get waiting(): boolean {
    return this._pending !== undefined;
  }

  /** The frame showing the pending flip was presented at `nowMs` (this page's clock). */
  public present(nowMs: number): void {
    const p = this._pending;
    if (p === undefined) return;
    this._pending = undefined;
    if (p.vblankMs === undefined) return;
    this.presented++;
    this._samples.push(Math.max(0, nowMs - p.vblankMs));
    if (this._samples.length > WINDOW) this._samples.splice(0, this._samples.length - WINDOW);
  }

  /** A new connection: flip numbers start over. */
  public reset(): void {
    this._pending = undefined;
    this._lastSeq = undefined;
  }

  /** The q-quantile (0..1) of the recent samples in ms, undefined without samples. */
  public quantile(q: number): number | undefined {
    if (this._samples.length === 0) return undefined;
    const s = [...this._samples].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  }

  public get samples(): number {
    return this._samples.length;
  }
}
