/** Samples kept for the percentiles (about 8 s of flips at 60 Hz). */
const WINDOW = 512;

interface Flip {
  readonly seq: number;
  readonly vblankMs: number | undefined;
  readonly arrivedMs: number | undefined;
}

function keep(list: number[], v: number): void {
  list.push(v);
  if (list.length > WINDOW) list.splice(0, list.length - WINDOW);
}

function quantileOf(list: readonly number[], q: number): number | undefined {
  if (list.length === 0) return undefined;
  const s = [...list].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

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
  /** vblank → SCANOUT arrival of the same flips: the wire's share of the total. */
  private readonly _wire: number[] = [];
  /** The newest flip not drawn yet, and the one drawn and waiting for its frame on screen. */
  private _pending: Flip | undefined;
  private _drawn: Flip | undefined;
  private _lastSeq: number | undefined;

  /**
   * A SCANOUT arrived at `arrivedMs`: flip `seq`, latched at `vblankMs` (both on this page's
   * clock; vblankMs undefined: unknown).
   */
  public flip(seq: number, vblankMs: number | undefined, arrivedMs?: number): void {
    if (this._pending !== undefined) this.dropped++;
    if (this._lastSeq !== undefined) {
      const gap = (seq - this._lastSeq - 1) >>> 0;
      if (gap > 0 && gap < 0x80000000) this.dropped += gap;
    }
    this._lastSeq = seq;
    this._pending = { seq, vblankMs, arrivedMs };
  }

  /** The newest flip was drawn (textures uploaded, draw issued): true when there was one. */
  public drawn(): boolean {
    if (this._pending === undefined) return false;
    this._drawn = this._pending;
    this._pending = undefined;
    return true;
  }

  /** The frame with the drawn flip reached the screen at `nowMs` (this page's clock). */
  public present(nowMs: number): void {
    const p = this._drawn;
    if (p === undefined) return;
    this._drawn = undefined;
    if (p.vblankMs === undefined) return;
    this.presented++;
    keep(this._samples, Math.max(0, nowMs - p.vblankMs));
    if (p.arrivedMs !== undefined) keep(this._wire, Math.max(0, p.arrivedMs - p.vblankMs));
  }

  /** A new connection: flip numbers start over. */
  public reset(): void {
    this._pending = this._drawn = undefined;
    this._lastSeq = undefined;
  }

  /** The q-quantile (0..1) of the recent samples in ms, undefined without samples. */
  public quantile(q: number): number | undefined {
    return quantileOf(this._samples, q);
  }

  /** The same for vblank → SCANOUT arrival (the host and the wire; the rest is the viewer's). */
  public wireQuantile(q: number): number | undefined {
    return quantileOf(this._wire, q);
  }

  public get samples(): number {
    return this._samples.length;
  }
}
