import type { Rect } from '../display/DisplayBuffer.ts';

/** Rectangles an update may hold before the rest is sent as whole-width row bands. */
const MAX_RECTS = 256;
/** Clean pixels between two dirty runs of a row that are sent rather than cost another rectangle. */
const GAP = 24;

interface Open { x0: number; x1: number; y0: number; y1: number; used: number }

/**
 * Which pixels of the screen one client lacks: one bit per pixel (32 pixels per word) and a flag
 * per row, so clean rows cost one byte to skip. `take` turns the dirty pixels inside an area into
 * few rectangles (exact to the pixel where that is cheap) and clears what they cover. A 1920×1080
 * screen costs 259 KiB per client.
 */
export class DirtyMap {
  public readonly width: number;
  public readonly height: number;
  private readonly _words: number;
  private readonly _bits: Uint32Array;
  private readonly _rows: Uint8Array;
  private _any = false;
  // Scratch reused by every `take` (no allocation per update but the returned rectangles).
  private readonly _spanX0: Int32Array;
  private readonly _spanX1: Int32Array;

  public constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this._words = (width + 31) >>> 5;
    this._bits = new Uint32Array(this._words * height);
    this._rows = new Uint8Array(height);
    const maxSpans = (width >>> 1) + 1;
    this._spanX0 = new Int32Array(maxSpans);
    this._spanX1 = new Int32Array(maxSpans);
  }

  public get empty(): boolean {
    return !this._any;
  }

  public markAll(): void {
    this.markRect(0, 0, this.width, this.height);
  }

  /** Mark pixels [x0, x1) of row y. */
  public markSpan(y: number, x0: number, x1: number): void {
    if (y < 0 || y >= this.height) return;
    x0 = Math.max(0, x0);
    x1 = Math.min(this.width, x1);
    if (x1 <= x0) return;
    const base = y * this._words;
    for (let x = x0; x < x1;) {
      const w = x >>> 5;
      const from = x & 31;
      const to = Math.min(32, x1 - (w << 5));
      const mask = to - from === 32 ? 0xffffffff : (((1 << (to - from)) - 1) << from) >>> 0;
      this._bits[base + w] = (this._bits[base + w]! | mask) >>> 0;
      x = (w + 1) << 5;
    }
    this._rows[y] = 1;
    this._any = true;
  }

  /** The same as markSpan (the shape BlockRects.mark fills). */
  public add(y: number, x0: number, x1: number): void {
    this.markSpan(y, x0, x1);
  }

  public markRect(x: number, y: number, w: number, h: number): void {
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + h); yy++) this.markSpan(yy, x, x + w);
  }

  /** OR another map of the same size into this one (its dirty rows only). */
  public or(other: DirtyMap): void {
    if (other._words !== this._words || other.height !== this.height) throw new RangeError('DirtyMap sizes differ');
    if (!other._any) return;
    const n = this._words;
    for (let y = 0; y < this.height; y++) {
      if (other._rows[y] === 0) continue;
      const base = y * n;
      for (let k = base; k < base + n; k++) this._bits[k] = (this._bits[k]! | other._bits[k]!) >>> 0;
      this._rows[y] = 1;
    }
    this._any = true;
  }

  public clear(): void {
    if (!this._any) return;
    this._bits.fill(0);
    this._rows.fill(0);
    this._any = false;
  }

  /**
   * Rows [src, src + h) move to [dst, dst + h) (a CopyRect of whole rows queued for the client):
   * what was dirty there is dirty at its new place, and the destination's own bits are replaced.
   */
  public moveRows(src: number, dst: number, h: number): void {
    const n = this._words;
    this._bits.copyWithin(dst * n, src * n, (src + h) * n);
    this._rows.copyWithin(dst, src, src + h);
    this._any = this._rows.some((f) => f !== 0);
  }

  /** Mark whole rows [y0, y1). */
  public markRows(y0: number, y1: number): void {
    for (let y = Math.max(0, y0); y < Math.min(this.height, y1); y++) this.markSpan(y, 0, this.width);
  }

  /**
   * The dirty pixels inside `area` as rectangles, and clear everything the rectangles cover. Per
   * row, dirty runs closer than GAP pixels are joined; a run extends the rectangle above it while
   * the rectangle wastes at most half of its area on clean pixels. Past MAX_RECTS rectangles the
   * rest goes as row bands.
   */
  public take(area: Rect, out: Rect[]): Rect[] {
    out.length = 0;
    if (!this._any) return out;
    const ax0 = Math.max(0, area.x);
    const ax1 = Math.min(this.width, area.x + area.width);
    const ay0 = Math.max(0, area.y);
    const ay1 = Math.min(this.height, area.y + area.height);
    if (ax1 <= ax0 || ay1 <= ay0) return out;
    let open: Open[] = [];
    let next: Open[] = [];
    const close = (o: Open): void => {
      out.push({ x: o.x0, y: o.y0, width: o.x1 - o.x0, height: o.y1 - o.y0 });
    };
    let banded = -1;
    for (let y = ay0; y < ay1; y++) {
      if (this._rows[y] === 0) {
        for (const o of open) close(o);
        open = [];
        continue;
      }
      const spans = this._spans(y, ax0, ax1);
      if (spans === 0) {
        for (const o of open) close(o);
        open = [];
        continue;
      }
      if (out.length + open.length > MAX_RECTS) {
        banded = y;
        break;
      }
      next = [];
      let k = 0;
      for (const o of open) {
        // The first span overlapping this rectangle extends it, if the waste stays small.
        while (k < spans && this._spanX1[k]! <= o.x0) {
          next.push({ x0: this._spanX0[k]!, x1: this._spanX1[k]!, y0: y, y1: y + 1, used: this._spanX1[k]! - this._spanX0[k]! });
          k++;
        }
        if (k < spans && this._spanX0[k]! < o.x1) {
          const a = this._spanX0[k]!;
          const b = this._spanX1[k]!;
          const x0 = Math.min(o.x0, a);
          const x1 = Math.max(o.x1, b);
          const used = o.used + (b - a);
          const overlapsNext = k + 1 < spans && this._spanX0[k + 1]! < x1;
          if (!overlapsNext && (x1 - x0) * (y + 1 - o.y0) <= 2 * used) {
            o.x0 = x0;
            o.x1 = x1;
            o.y1 = y + 1;
            o.used = used;
            next.push(o);
            k++;
            continue;
          }
        }
        close(o);
      }
      for (; k < spans; k++) {
        next.push({ x0: this._spanX0[k]!, x1: this._spanX1[k]!, y0: y, y1: y + 1, used: this._spanX1[k]! - this._spanX0[k]! });
      }
      // Keep rectangles ordered by x (overlaps are harmless: both carry the same current pixels).
      next.sort((p, q) => p.x0 - q.x0);
      open = next;
    }
    for (const o of open) close(o);
    if (banded >= 0) {
      // Too many rectangles: the rest as bands of consecutive dirty rows, each as wide as its runs.
      let start = -1;
      let x0 = this.width;
      let x1 = 0;
      for (let y = banded; y <= ay1; y++) {
        const spans = y < ay1 && this._rows[y] !== 0 ? this._spans(y, ax0, ax1) : 0;
        if (spans === 0) {
          if (start >= 0) out.push({ x: x0, y: start, width: x1 - x0, height: y - start });
          start = -1;
          x0 = this.width;
          x1 = 0;
          continue;
        }
        if (start < 0) start = y;
        x0 = Math.min(x0, this._spanX0[0]!);
        x1 = Math.max(x1, this._spanX1[spans - 1]!);
      }
    }
    for (const r of out) this._clearRect(r);
    this._any = this._rows.some((f) => f !== 0);
    return out;
  }

  /** Whether pixel (x, y) is dirty (tests). */
  public dirty(x: number, y: number): boolean {
    return ((this._bits[y * this._words + (x >>> 5)]! >>> (x & 31)) & 1) === 1;
  }

  /** Dirty runs of row y within [ax0, ax1), gaps under GAP joined, into the span scratch. */
  private _spans(y: number, ax0: number, ax1: number): number {
    const base = y * this._words;
    let n = 0;
    let x = ax0;
    while (x < ax1) {
      const w = this._bits[base + (x >>> 5)]! >>> (x & 31);
      if (w === 0) {
        x = ((x >>> 5) + 1) << 5;
        continue;
      }
      x += 31 - Math.clz32(w & -w); // first dirty pixel at or after x
      if (x >= ax1) break;
      const s = x;
      while (x < ax1) {
        const v = ~this._bits[base + (x >>> 5)]! >>> (x & 31);
        if (v === 0) {
          x = ((x >>> 5) + 1) << 5;
          continue;
        }
        x += 31 - Math.clz32(v & -v); // first clean pixel
        break;
      }
      const e = Math.min(x, ax1);
      if (n > 0 && s - this._spanX1[n - 1]! < GAP) this._spanX1[n - 1] = e;
      else {
        this._spanX0[n] = s;
        this._spanX1[n] = e;
        n++;
      }
    }
    return n;
  }

  private _clearRect(r: Rect): void {
    const n = this._words;
    for (let y = r.y; y < r.y + r.height; y++) {
      const base = y * n;
      const x1 = r.x + r.width;
      for (let x = r.x; x < x1;) {
        const w = x >>> 5;
        const from = x & 31;
        const to = Math.min(32, x1 - (w << 5));
        const mask = to - from === 32 ? 0xffffffff : (((1 << (to - from)) - 1) << from) >>> 0;
        this._bits[base + w] = (this._bits[base + w]! & ~mask) >>> 0;
        x = (w + 1) << 5;
      }
      let any = false;
      for (let k = base; k < base + n; k++) {
        if (this._bits[k] !== 0) {
          any = true;
          break;
        }
      }
      this._rows[y] = any ? 1 : 0;
    }
  }
}

/**
 * Join rectangles into row bands: rectangles whose rows overlap or lie within `gap` rows of the
 * band's become its bounding box. For ZRLE, where clean pixels between changes cost little (a
 * solid or two-colour tile is a few bytes) and every rectangle costs a header, a zlib flush and
 * its tiles' headers, a few bands beat many exact rectangles.
 */
export function joinBands(rects: Rect[], gap: number): void {
  if (rects.length < 2) return;
  rects.sort((a, b) => a.y - b.y);
  const out: Rect[] = [];
  let x0 = rects[0]!.x;
  let y0 = rects[0]!.y;
  let x1 = x0 + rects[0]!.width;
  let y1 = y0 + rects[0]!.height;
  for (let i = 1; i < rects.length; i++) {
    const r = rects[i]!;
    if (r.y <= y1 + gap) {
      x0 = Math.min(x0, r.x);
      x1 = Math.max(x1, r.x + r.width);
      y1 = Math.max(y1, r.y + r.height);
      continue;
    }
    out.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
    [x0, y0, x1, y1] = [r.x, r.y, r.x + r.width, r.y + r.height];
  }
  out.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  rects.length = 0;
  rects.push(...out);
}
