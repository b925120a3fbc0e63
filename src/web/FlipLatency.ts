/** Samples kept for the percentiles (about 8 s of flips at 60 Hz). */
const WINDOW = 512;

/**
 * Where a flip's vblank → present time goes, each part on this page's clock (ms):
 * - `wire`: vblank → the SCANOUT message received (the host's display client, server, socket);
 * - `message`: received → decoded and handled (protocol decode, the session's bookkeeping);
 * - `waitFrame`: handled → the animation frame that renders it begins;
 * - `upload`, `convert`, `draw`: that render's texture upload, format conversion pass and draw;
 * - `toPresent`: render done → the next animation frame (the frame with it reached the screen).
 * They add up to the total (up to the render's own bookkeeping).
 */
export const FLIP_PARTS = ['wire', 'message', 'waitFrame', 'upload', 'convert', 'draw', 'toPresent'] as const;
export type FlipPart = (typeof FLIP_PARTS)[number];

/** What one render cost (the renderer's timings of that render, ms). */
export interface RenderCost {
  readonly upload: number;
  readonly decode: number;
  readonly present: number;
}

interface Flip {
  readonly seq: number;
  readonly vblankMs: number | undefined;
  readonly arrivedMs: number | undefined;
  readonly handledMs: number | undefined;
}

interface Drawn {
  readonly flip: Flip;
  readonly startMs: number | undefined;
  readonly endMs: number | undefined;
  readonly cost: RenderCost | undefined;
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
 * it, already on the viewer's clock, and when the frame that shows it was presented, with the
 * parts in between (FLIP_PARTS). A flip replaced by the next one before it was presented is
 * dropped; so is a gap in the flip numbers (the server sent only the newest of several flips).
 */
export class FlipLatency {
  /** Flips never presented: superseded here or skipped by the server. */
  public dropped = 0;
  /** Flips presented (with a known vblank time). */
  public presented = 0;
  private readonly _samples: number[] = [];
  private readonly _parts = new Map<FlipPart, number[]>(FLIP_PARTS.map((p) => [p, []]));
  /** The newest flip not drawn yet, and the one drawn and waiting for its frame on screen. */
  private _pending: Flip | undefined;
  private _drawn: Drawn | undefined;
  private _lastSeq: number | undefined;

  /**
   * A SCANOUT arrived: flip `seq`, latched at `vblankMs` (undefined: unknown), its message
   * received at `arrivedMs` and handled at `handledMs` (all on this page's clock).
   */
  public flip(seq: number, vblankMs: number | undefined, arrivedMs?: number, handledMs?: number): void {
    if (this._pending !== undefined) this.dropped++;
    if (this._lastSeq !== undefined) {
      const gap = (seq - this._lastSeq - 1) >>> 0;
      if (gap > 0 && gap < 0x80000000) this.dropped += gap;
    }
    this._lastSeq = seq;
    this._pending = { seq, vblankMs, arrivedMs, handledMs };
  }

  /**
   * The newest flip was drawn (textures uploaded, draw issued) by a render that ran from
   * `startMs` to `endMs` at `cost`: true when there was one.
   */
  public drawn(startMs?: number, endMs?: number, cost?: RenderCost): boolean {
    if (this._pending === undefined) return false;
    this._drawn = { flip: this._pending, startMs, endMs, cost: cost === undefined ? undefined : { ...cost } };
    this._pending = undefined;
    return true;
  }

  /**
   * The frame with the drawn flip reached the screen at `nowMs` (this page's clock). Returns that
   * flip's number (undefined when no flip was waiting for its frame).
   */
  public present(nowMs: number): number | undefined {
    const d = this._drawn;
    if (d === undefined) return undefined;
    this._drawn = undefined;
    const p = d.flip;
    if (p.vblankMs === undefined) return p.seq;
    this.presented++;
    keep(this._samples, Math.max(0, nowMs - p.vblankMs));
    const part = (name: FlipPart, v: number | undefined): void => {
      if (v !== undefined && Number.isFinite(v)) keep(this._parts.get(name)!, Math.max(0, v));
    };
    const span = (a: number | undefined, b: number | undefined): number | undefined =>
      a === undefined || b === undefined ? undefined : b - a;
    part('wire', span(p.vblankMs, p.arrivedMs));
    part('message', span(p.arrivedMs, p.handledMs));
    part('waitFrame', span(p.handledMs, d.startMs));
    part('upload', d.cost?.upload);
    part('convert', d.cost?.decode);
    part('draw', d.cost?.present);
    part('toPresent', span(d.endMs, nowMs));
    return p.seq;
  }

  /** A new connection: flip numbers start over. */
  public reset(): void {
    this._pending = this._drawn = undefined;
    this._lastSeq = undefined;
  }

  /** Forget the figures (samples and counts), keeping the flip in flight: a new measurement. */
  public clear(): void {
    this.dropped = this.presented = 0;
    this._samples.length = 0;
    for (const l of this._parts.values()) l.length = 0;
  }

  /** The q-quantile (0..1) of the recent samples in ms, undefined without samples. */
  public quantile(q: number): number | undefined {
    return quantileOf(this._samples, q);
  }

  /** The same for vblank → SCANOUT arrival (the host and the wire; the rest is the viewer's). */
  public wireQuantile(q: number): number | undefined {
    return this.partQuantile('wire', q);
  }

  /** The same for one part of the total. */
  public partQuantile(part: FlipPart, q: number): number | undefined {
    return quantileOf(this._parts.get(part)!, q);
  }

  public get samples(): number {
    return this._samples.length;
  }
}
