import { DRM_FORMAT_MOD, modifierName } from '../kms/Modifier.ts';
import { formatName } from '../kms/Fourcc.ts';
import { layoutForModifier, strideFits, tiledOffset } from '../kms/Tiling.ts';
import type { TileLayout } from '../kms/Tiling.ts';
import { getConverter, isDecodeError } from './FormatDecoder.ts';
import type { PixelConverter } from './FormatDecoder.ts';
import { HOTSPOT_UNKNOWN } from '../vgpu/Plane.ts';
import { checkPixelSource, PixelReader } from './PixelSource.ts';
import type { PixelSource } from './PixelSource.ts';

/** A rectangle in framebuffer pixels. */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface PrimaryPlaneInput {
  readonly source: PixelSource;
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
}

export interface CursorPlaneInput {
  readonly source: PixelSource;
  readonly drmFormat: number;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  /** Top-left of the cursor plane on screen, SIGNED (see `toSigned32` for ABI u32 values). */
  readonly x: number;
  readonly y: number;
  /** Hotspot; 0xFFFFFFFF = unknown. Informational: used by host cursors, not by composition. */
  readonly hotX: number;
  readonly hotY: number;
  /** Cursors are linear in practice; tiled layouts work too. Default LINEAR. */
  readonly modifier?: bigint;
}

export type PlaneError =
  'unsupported-format' | 'unsupported-modifier' | 'bad-geometry' | 'bad-source';
export type RenderStatus = 'ok' | 'no-primary' | PlaneError;
export type CursorStatus = 'none' | 'ok' | PlaneError;

export interface RenderResult {
  readonly status: RenderStatus;
  /** Why the status is not 'ok' (or why the cursor was not drawn). */
  readonly message?: string;
  /** Rectangles redrawn this call: clipped, non-overlapping. */
  readonly rects: readonly Rect[];
  /** Primary-plane pixels converted this call (the damage-awareness measure). */
  readonly pixelsConverted: number;
  /** Cursor pixels converted and blended this call. */
  readonly cursorPixels: number;
  readonly cursorStatus: CursorStatus;
}

/** What a host cursor needs: position of the plane's top-left and the hotspot (0 when unknown). */
export interface HostCursorInfo {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly hotX: number;
  readonly hotY: number;
  readonly hotspotKnown: boolean;
}

export interface SoftwareRendererOptions {
  /** C8 colour map, 256 × 0xRRGGBB; default a grey ramp. */
  readonly palette?: ArrayLike<number>;
  /** Output alpha 255 for ARGB/ABGR primaries (scanout ignores the bottom plane's alpha). */
  readonly opaquePrimary?: boolean;
  /** Largest accepted plane width/height: guest-controlled sizes must not allocate without bound. */
  readonly maxSize?: number;
}

export interface RendererTotals {
  renders: number;
  pixelsConverted: number;
  cursorPixels: number;
}

/** An ABI u32 position (two's complement) as a signed int32. */
export function toSigned32(u32: number): number {
  return u32 | 0;
}

/** A plane validated once at set time, so the render loop never checks again. */
interface Prepared {
  readonly converter: PixelConverter;
  readonly reader: PixelReader;
  readonly layout: TileLayout;
  readonly stride: number;
  readonly width: number;
  readonly height: number;
}

interface PlaneFailure { readonly error: PlaneError; readonly message: string }

function prepare(input: PrimaryPlaneInput | CursorPlaneInput, modifier: bigint, ignoreAlpha: boolean,
  palette: ArrayLike<number> | undefined, maxSize: number): Prepared | PlaneFailure {
  const conv = getConverter(input.drmFormat, { ignoreAlpha, palette });
  if (isDecodeError(conv)) {
    return { error: 'unsupported-format', message: conv.message };
  }
  const layout = layoutForModifier(modifier);
  if (layout === undefined) {
    return { error: 'unsupported-modifier', message: `cannot address modifier ${modifierName(modifier)}` };
  }
  const { width, height, stride } = input;
  const name = formatName(input.drmFormat);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
    width > maxSize || height > maxSize) {
    return { error: 'bad-geometry', message: `bad size ${width}x${height} (max ${maxSize})` };
  }
  if (conv.unitPixels > 1 && width % conv.unitPixels !== 0) {
    return { error: 'bad-geometry', message: `${name} needs a width that is a multiple of 2` };
  }
  const rowBytes = (width / conv.unitPixels) * conv.unitBytes;
  if (!Number.isInteger(stride) || stride < rowBytes || stride > 0x7fffffff) {
    return { error: 'bad-geometry', message: `stride ${stride} too small for ${width} ${name} pixels` };
  }
  if (!strideFits(layout, stride)) {
    return { error: 'bad-geometry', message: `stride ${stride} is not whole ${layout.name} tiles` };
  }
  const srcErr = checkPixelSource(input.source);
  if (srcErr !== undefined) return { error: 'bad-source', message: srcErr };
  // The farthest byte read: (last byte of the last row) is the maximum offset in every layout.
  const need = tiledOffset(layout, stride, rowBytes - 1, height - 1) + 1;
  if (need > input.source.length) {
    return { error: 'bad-geometry', message: `buffer of ${input.source.length} bytes < ${need} needed` };
  }
  return { converter: conv, reader: new PixelReader(input.source), layout, stride, width, height };
}

const isFailure = (p: Prepared | PlaneFailure): p is PlaneFailure => (p as PlaneFailure).error !== undefined;

function intersect(a: Rect, b: Rect): Rect | null {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

/** `a` minus `b` as up to four disjoint rectangles. */
function subtract(a: Rect, b: Rect): Rect[] {
  const i = intersect(a, b);
  if (i === null) return [a];
  const out: Rect[] = [];
  const ay1 = a.y + a.height;
  const ax1 = a.x + a.width;
  const iy1 = i.y + i.height;
  const ix1 = i.x + i.width;
  if (i.y > a.y) out.push({ x: a.x, y: a.y, width: a.width, height: i.y - a.y });
  if (iy1 < ay1) out.push({ x: a.x, y: iy1, width: a.width, height: ay1 - iy1 });
  if (i.x > a.x) out.push({ x: a.x, y: i.y, width: i.x - a.x, height: i.height });
  if (ix1 < ax1) out.push({ x: ix1, y: i.y, width: ax1 - ix1, height: i.height });
  return out;
}

/** Clip to `bounds`, drop empty or malformed rectangles, and remove overlaps (no pixel twice). */
export function normalizeRects(rects: readonly Rect[], bounds: Rect): Rect[] {
  const out: Rect[] = [];
  for (const r of rects) {
    if (![r.x, r.y, r.width, r.height].every(Number.isFinite)) continue;
    const x0 = Math.floor(r.x);
    const y0 = Math.floor(r.y);
    const c = intersect({ x: x0, y: y0, width: Math.ceil(r.x + r.width) - x0,
      height: Math.ceil(r.y + r.height) - y0 }, bounds);
    if (c === null) continue;
    let pieces = [c];
    for (const o of out) {
      if (pieces.length === 0) break;
      pieces = pieces.flatMap((p) => subtract(p, o));
    }
    out.push(...pieces);
  }
  return out;
}

/**
 * The host software compositor: a guest primary plane (any kms/Fourcc format; linear, X- or
 * Y-tiled) plus an optional cursor plane, into an RGBA8 framebuffer the size of the primary.
 * Reads the guest buffer in place through PixelSource (no copy of it is made).
 *
 * Damage: `render(damage)` redraws only the damaged rectangles and, when the cursor changed, the
 * rectangles it covered before and covers now. Anything that invalidates everything (a new
 * primary, a size change, the first frame, no damage argument) redraws the full frame.
 */
export class SoftwareRenderer {
  public readonly totals: RendererTotals = { renders: 0, pixelsConverted: 0, cursorPixels: 0 };
  private readonly _opts: SoftwareRendererOptions;
  private readonly _maxSize: number;
  private _fb = new Uint8Array(0);
  private _clamped = new Uint8ClampedArray(0);
  private _w = 0;
  private _h = 0;
  private _primary: Prepared | PlaneFailure | null = null;
  private _cursorInput: CursorPlaneInput | null = null;
  private _cursor: Prepared | PlaneFailure | null = null;
  private _cursorRow = new Uint8Array(0);
  private _fullPending = true;
  private _cursorDirty = false;
  /** The on-screen cursor rectangle as last drawn (clipped), to repair it when it moves. */
  private _drawnCursor: Rect | null = null;
  /** Holds the ≤4 bytes of a pixel unit that straddles two chunks. */
  private readonly _straddle = new Uint8Array(4);

  public constructor(options: SoftwareRendererOptions = {}) {
    this._opts = options;
    this._maxSize = options.maxSize ?? 16384;
    if (!Number.isInteger(this._maxSize) || this._maxSize < 1) {
      throw new RangeError(`bad maxSize ${options.maxSize}`);
    }
  }

  /** RGBA8, straight alpha, `width * height * 4` bytes. Reallocated when the primary resizes. */
  public get framebuffer(): Uint8Array {
    return this._fb;
  }

  /** The same pixels as `framebuffer`, as a Uint8ClampedArray view (for ImageData). */
  public get clampedFramebuffer(): Uint8ClampedArray {
    return this._clamped;
  }

  public get width(): number {
    return this._w;
  }

  public get height(): number {
    return this._h;
  }

  /** Set the guest primary plane (null: plane off; the last frame stays). Never throws. */
  public setPrimary(p: PrimaryPlaneInput | null): RenderStatus {
    if (p === null) {
      this._primary = null;
      return 'no-primary';
    }
    const prep = prepare(p, p.modifier, this._opts.opaquePrimary === true, this._opts.palette,
      this._maxSize);
    this._primary = prep;
    if (isFailure(prep)) return prep.error;
    if (prep.width !== this._w || prep.height !== this._h) {
      this._w = prep.width;
      this._h = prep.height;
      this._fb = new Uint8Array(prep.width * prep.height * 4);
      this._clamped = new Uint8ClampedArray(this._fb.buffer);
      this._drawnCursor = null;
    }
    this._fullPending = true;
    return 'ok';
  }

  /** Set the cursor plane (null: cursor off). Any call redraws the old and new cursor areas. */
  public setCursor(c: CursorPlaneInput | null): CursorStatus {
    this._cursorInput = c;
    this._cursorDirty = true;
    if (c === null) {
      this._cursor = null;
      return 'none';
    }
    const prep: Prepared | PlaneFailure = Number.isInteger(c.x) && Number.isInteger(c.y)
      ? prepare(c, c.modifier ?? DRM_FORMAT_MOD.LINEAR, false, this._opts.palette, this._maxSize)
      : { error: 'bad-geometry', message: `cursor position ${c.x},${c.y} is not integral` };
    this._cursor = prep;
    if (isFailure(prep)) return prep.error;
    if (this._cursorRow.length < prep.width * 4) this._cursorRow = new Uint8Array(prep.width * 4);
    return 'ok';
  }

  /** Move the cursor plane (signed integer positions); the shape stays. False: ignored. */
  public moveCursor(x: number, y: number): boolean {
    if (this._cursorInput === null || !Number.isInteger(x) || !Number.isInteger(y)) return false;
    if (x === this._cursorInput.x && y === this._cursorInput.y) return true;
    this._cursorInput = { ...this._cursorInput, x, y };
    this._cursorDirty = true;
    return true;
  }

  /**
   * For a host-side cursor (drawn by the host windowing system instead of composed): the plane
   * position, size and hotspot; unknown hotspot (0xFFFFFFFF) reads as 0 with hotspotKnown false.
   */
  public get hostCursor(): HostCursorInfo | null {
    const c = this._cursorInput;
    if (c === null || this._cursor === null || isFailure(this._cursor)) return null;
    const known = c.hotX !== HOTSPOT_UNKNOWN && c.hotY !== HOTSPOT_UNKNOWN;
    return {
      x: c.x, y: c.y, width: c.width, height: c.height,
      hotX: known ? c.hotX : 0, hotY: known ? c.hotY : 0, hotspotKnown: known,
    };
  }

  /** Mark the whole frame for redraw at the next render. */
  public invalidate(): void {
    this._fullPending = true;
  }

  /** Redraw `damage` (clipped to the frame) or, without it, the full frame. Never throws. */
  public render(damage?: readonly Rect[]): RenderResult {
    this.totals.renders++;
    const p = this._primary;
    if (p === null) return this._fail('no-primary', 'no primary plane');
    if (isFailure(p)) return this._fail(p.error, p.message);

    const bounds: Rect = { x: 0, y: 0, width: this._w, height: this._h };
    // The cursor's plane top-left is (x, y): in the VFIO ABI x_pos/y_pos position the cursor
    // plane itself and the hotspot is informational (for host cursors), so it is NOT subtracted.
    const cur = this._cursor !== null && !isFailure(this._cursor) ? this._cursor : null;
    const ci = this._cursorInput;
    const cursorRect = cur !== null && ci !== null
      ? intersect({ x: ci.x, y: ci.y, width: cur.width, height: cur.height }, bounds) : null;

    let wanted: Rect[];
    if (damage === undefined || this._fullPending) {
      wanted = [bounds];
    } else {
      wanted = [...damage];
      if (this._cursorDirty) {
        if (this._drawnCursor !== null) wanted.push(this._drawnCursor);
        if (cursorRect !== null) wanted.push(cursorRect);
      }
    }
    const rects = normalizeRects(wanted, bounds);

    let converted = 0;
    let blended = 0;
    for (const r of rects) {
      this._drawRect(p, r, this._fb, this._w);
      converted += r.width * r.height;
      if (cursorRect !== null && ci !== null && cur !== null) {
        const i = intersect(r, cursorRect);
        if (i !== null) blended += this._blendCursor(cur, ci, i);
      }
    }
    this._fullPending = false;
    this._cursorDirty = false;
    this._drawnCursor = cursorRect;
    this.totals.pixelsConverted += converted;
    this.totals.cursorPixels += blended;
    const cs = this._cursor === null ? 'none' : isFailure(this._cursor) ? this._cursor.error : 'ok';
    const result: RenderResult = { status: 'ok', rects, pixelsConverted: converted, cursorPixels: blended,
      cursorStatus: cs };
    return this._cursor !== null && isFailure(this._cursor)
      ? { ...result, message: `cursor not drawn: ${this._cursor.message}` } : result;
  }

  private _fail(status: RenderStatus, message: string): RenderResult {
    const cs = this._cursor === null ? 'none' : isFailure(this._cursor) ? this._cursor.error : 'ok';
    return { status, message, rects: [], pixelsConverted: 0, cursorPixels: 0, cursorStatus: cs };
  }

  /**
   * Convert the plane's pixels of rect `r` (plane coordinates) into `dst` rows of `dstWidth`.
   * Work goes in blocks whose rows sit at a fixed pitch in memory: the whole rectangle for linear
   * (pitch = stride), a tile's 512-byte rows for X (pitch 512, ≤ 8 rows), a 16-byte OWord column
   * for Y (pitch 16, ≤ 32 rows). One tile address and one converter call per block; a block
   * that crosses a chunk boundary (scattered pages not tile aligned) falls back to row spans.
   */
  private _drawRect(p: Prepared, r: Rect, dst: Uint8Array, dstWidth: number): void {
    const cv = p.converter;
    const up = cv.unitPixels;
    const ub = cv.unitBytes;
    const reader = p.reader;
    const layout = p.layout;
    const dstPitch = dstWidth * 4;
    const xEnd = r.x + r.width;
    const yEnd = r.y + r.height;
    let blockBytes: number;
    let blockRows: number;
    let pitch: number;
    if (layout.name === 'linear') {
      blockBytes = Infinity;
      blockRows = Infinity;
      pitch = p.stride;
    } else if (layout.name === 'x') {
      blockBytes = 512;
      blockRows = 8;
      pitch = 512;
    } else {
      blockBytes = 16;
      blockRows = 32;
      pitch = 16;
    }
    for (let y = r.y; y < yEnd;) {
      const rows = blockRows === Infinity ? yEnd - y
        : Math.min(yEnd, (Math.floor(y / blockRows) + 1) * blockRows) - y;
      for (let x = r.x; x < xEnd;) {
        const unit = Math.floor(x / up);
        const phase = x - unit * up;
        const xb = unit * ub;
        const n = Math.min(xEnd - x, ((blockBytes - (xb % blockBytes)) / ub) * up - phase);
        const off = tiledOffset(layout, p.stride, xb, y);
        const last = off + (rows - 1) * pitch + Math.ceil((phase + n) / up) * ub - 1;
        const di = (y * dstWidth + x) * 4;
        if (reader.seek(off) && last < reader.chunkEnd) {
          cv.convert(reader.chunk, off - reader.chunkStart, dst, di, n, phase, rows, pitch, dstPitch);
        } else {
          for (let k = 0; k < rows; k++) {
            this._convertRun(reader, cv, off + k * pitch, dst, di + k * dstPitch, n, phase);
          }
        }
        x += n;
      }
      y += rows;
    }
  }

  /**
   * Pixels [x0, x1) of row `y` → RGBA at dst[di] (the cursor's rows). The row is walked as spans
   * contiguous in the layout (the whole row for linear, 512-byte tile rows for X, 16-byte OWords
   * for Y), so the tile address is computed once per span, not per pixel. Units never straddle
   * a span since unitBytes (1, 2, 4) divides 16.
   */
  private _convertRow(p: Prepared, y: number, x0: number, x1: number, dst: Uint8Array, di: number): void {
    const cv = p.converter;
    const up = cv.unitPixels;
    const ub = cv.unitBytes;
    const stride = p.stride;
    const kind = p.layout.name;
    // Row base in the layout (same arithmetic as kms/Tiling.ts tiledOffset, hoisted out of x).
    const rowBase = kind === 'linear' ? y * stride
      : kind === 'x' ? (y >>> 3) * (stride >>> 9) * 4096 + (y & 7) * 512
        : (y >>> 5) * (stride >>> 7) * 4096 + (y & 31) * 16;
    let x = x0;
    while (x < x1) {
      const unit = up === 1 ? x : Math.floor(x / up);
      const phase = x - unit * up;
      const xb = unit * ub;
      let off: number;
      let segBytes: number;
      if (kind === 'linear') {
        off = rowBase + xb;
        segBytes = Infinity;
      } else if (kind === 'x') {
        off = rowBase + (xb >>> 9) * 4096 + (xb & 511);
        segBytes = 512 - (xb & 511);
      } else {
        off = rowBase + (xb >>> 7) * 4096 + ((xb & 127) >>> 4) * 512 + (xb & 15);
        segBytes = 16 - (xb & 15);
      }
      const n = Math.min(x1 - x, (segBytes / ub) * up - phase);
      this._convertRun(p.reader, cv, off, dst, di, n, phase);
      x += n;
      di += n * 4;
    }
  }

  /** Convert `count` pixels whose units start at byte `off` of the source, across chunks. */
  private _convertRun(reader: PixelReader, cv: PixelConverter, off: number, dst: Uint8Array, di: number,
    count: number, phase: number): void {
    const up = cv.unitPixels;
    const ub = cv.unitBytes;
    while (count > 0) {
      reader.seek(off);
      const availUnits = Math.floor((reader.chunkEnd - off) / ub);
      const needUnits = Math.ceil((phase + count) / up);
      if (availUnits >= needUnits) {
        // The common case, and the only one for a one-chunk source.
        cv.convert(reader.chunk, off - reader.chunkStart, dst, di, count, phase);
        return;
      }
      let n: number;
      if (availUnits > 0) {
        n = availUnits * up - phase;
        cv.convert(reader.chunk, off - reader.chunkStart, dst, di, n, phase);
        off += availUnits * ub;
      } else {
        // One unit straddles two chunks (odd stride or chunk sizes): gather its ≤4 bytes.
        const s = this._straddle;
        for (let i = 0; i < ub; i++) s[i] = reader.u8(off + i);
        n = Math.min(count, up - phase);
        cv.convert(s, 0, dst, di, n, phase);
        off += ub;
      }
      di += n * 4;
      count -= n;
      phase = 0;
    }
  }

  /** Blend the cursor over screen rect `i` (inside the cursor and the frame). Returns pixels. */
  private _blendCursor(c: Prepared, ci: CursorPlaneInput, i: Rect): number {
    const fb = this._fb;
    const row = this._cursorRow;
    const u0 = i.x - ci.x;
    for (let y = i.y, end = i.y + i.height; y < end; y++) {
      this._convertRow(c, y - ci.y, u0, u0 + i.width, row, 0);
      let d = (y * this._w + i.x) * 4;
      for (let s = 0, send = i.width * 4; s < send; s += 4, d += 4) {
        const sa = row[s + 3]!;
        if (sa === 0) continue;
        if (sa === 255) {
          fb[d] = row[s]!;
          fb[d + 1] = row[s + 1]!;
          fb[d + 2] = row[s + 2]!;
          fb[d + 3] = 255;
          continue;
        }
        const da = fb[d + 3]!;
        if (da === 255) {
          // Straight-alpha "over" onto an opaque pixel: c = (s·a + d·(255 − a)) / 255, rounded.
          const ia = 255 - sa;
          fb[d] = div255(row[s]! * sa + fb[d]! * ia);
          fb[d + 1] = div255(row[s + 1]! * sa + fb[d + 1]! * ia);
          fb[d + 2] = div255(row[s + 2]! * sa + fb[d + 2]! * ia);
        } else {
          // General "over": αo = αs + αd(1 − αs); co = (cs·αs + cd·αd(1 − αs)) / αo.
          const as = sa / 255;
          const ad = (da / 255) * (1 - as);
          const ao = as + ad;
          fb[d] = Math.round((row[s]! * as + fb[d]! * ad) / ao);
          fb[d + 1] = Math.round((row[s + 1]! * as + fb[d + 1]! * ad) / ao);
          fb[d + 2] = Math.round((row[s + 2]! * as + fb[d + 2]! * ad) / ao);
          fb[d + 3] = Math.round(ao * 255);
        }
      }
    }
    return i.width * i.height;
  }
}

/** Exact round(v / 255) for 0 ≤ v ≤ 255·255. */
function div255(v: number): number {
  const t = v + 128;
  return (t + (t >>> 8)) >>> 8;
}

