import type { DirtyLog } from '../../gpu/DirtyLog.ts';
import { PAGE_SHIFT, PAGE_SIZE, type GuestMemory } from '../../gpu/GuestMemory.ts';
import { formatInfo, formatName, type Channel, type FormatInfo } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { LINEAR, tiledOffset, tileRoundedHeight, type TileLayout } from '../../kms/Tiling.ts';
import { FONT_HEIGHT, FONT_WIDTH, glyph } from './Font8x16.ts';

const PAGE_MASK = PAGE_SIZE - 1;

/** Where a surface's pixels live and how they are laid out. */
export interface SurfaceLayout {
  /** Guest physical page numbers backing the surface, in order (possibly scattered). */
  readonly pages: ArrayLike<number>;
  readonly width: number;
  readonly height: number;
  /** Bytes per row of the untiled surface. */
  readonly stride: number;
  /** DRM fourcc; 16- and 32-bit RGB formats can be drawn. */
  readonly format: number;
  readonly tiling: TileLayout;
}

/** A rectangle; `w`/`h` may be 0 (empty). */
export interface Rect { x: number; y: number; w: number; h: number }

let nextSurfaceId = 1;

/**
 * A drawable buffer in guest memory. Every address goes through the page list and the tiling
 * layout, so a scattered or X-tiled buffer is drawn exactly as the display engine will read it.
 * Every page written is marked in the dirty log (like KVM's dirty logging), which is how the host
 * sees software rendering that never flips. Colours are 0xAARRGGBB and packed per format.
 * Pixels are accessed as native (little-endian) words, as DRM formats are little-endian.
 */
export class Surface {
  public readonly id: number;
  public readonly width: number;
  public readonly height: number;
  public readonly stride: number;
  public readonly format: number;
  public readonly tiling: TileLayout;
  public readonly info: FormatInfo;
  /** Bytes per pixel. */
  public readonly cpp: number;
  /** Bytes: stride × tile-rounded height. */
  public readonly size: number;
  public readonly pages: Uint32Array;
  /** The buffer's address in the device's own space (GGTT address, VRAM offset); driver-owned. */
  public address = 0;
  /** Free-form label for `info` and logs (e.g. 'fbcon', 'session#1'). */
  public label = '';

  private readonly _memory: GuestMemory;
  private readonly _dirty: DirtyLog | undefined;
  private readonly _u32: Uint32Array;
  private readonly _u16: Uint16Array;
  private _lastMarked = -1;
  private _cx0 = 0;
  private _cy0 = 0;
  private _cx1: number;
  private _cy1: number;
  private _packKey = -1;
  private _packVal = 0;

  /** Throws RangeError for a layout that does not fit its pages or a format it cannot draw. */
  public constructor(memory: GuestMemory, dirty: DirtyLog | undefined, layout: SurfaceLayout) {
    const info = formatInfo(layout.format);
    if (!info || info.indexed || info.yuvOrder || (info.cpp !== 2 && info.cpp !== 4)) {
      throw new RangeError(`surface format ${formatName(layout.format)} cannot be drawn`);
    }
    const { width, height, stride, tiling } = layout;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new RangeError(`bad surface size ${width}x${height}`);
    }
    if (!Number.isInteger(stride) || stride < width * info.cpp || stride % info.cpp !== 0 ||
        stride % tiling.tileWidth !== 0) {
      throw new RangeError(`bad stride ${stride} for ${width}px ${info.name} ${tiling.name}`);
    }
    this.size = stride * tileRoundedHeight(tiling, height);
    const needed = Math.ceil(this.size / PAGE_SIZE);
    if (layout.pages.length < needed) {
      throw new RangeError(`surface needs ${needed} pages, got ${layout.pages.length}`);
    }
    this.pages = Uint32Array.from({ length: needed }, (_, i) => layout.pages[i]!);
    for (const p of this.pages) {
      if (!memory.hasPage(p)) throw new RangeError(`page ${p} is outside guest memory`);
    }
    this.id = nextSurfaceId++;
    this.width = width;
    this.height = height;
    this.stride = stride;
    this.format = layout.format;
    this.tiling = tiling;
    this.info = info;
    this.cpp = info.cpp;
    this._memory = memory;
    this._dirty = dirty;
    this._u32 = new Uint32Array(memory.buffer);
    this._u16 = new Uint16Array(memory.buffer);
    this._cx1 = width;
    this._cy1 = height;
  }

  /** The smallest stride a layout accepts: 64-byte aligned linear, whole tiles otherwise. */
  public static strideFor(width: number, format: number, tiling: TileLayout): number {
    const cpp = formatInfo(format)?.cpp ?? 4;
    const align = Math.max(64, tiling.tileWidth);
    return Math.ceil((width * cpp) / align) * align;
  }

  /** Pages needed for a surface of this geometry. */
  public static pagesFor(height: number, stride: number, tiling: TileLayout): number {
    return Math.ceil((stride * tileRoundedHeight(tiling, height)) / PAGE_SIZE);
  }

  public get modifier(): bigint {
    switch (this.tiling.name) {
      case 'x': return DRM_FORMAT_MOD.I915_X_TILED;
      case 'y': return DRM_FORMAT_MOD.I915_Y_TILED;
      default: return DRM_FORMAT_MOD.LINEAR;
    }
  }

  public get memory(): GuestMemory {
    return this._memory;
  }

  public describe(): string {
    return `fb#${this.id}${this.label ? ` (${this.label})` : ''} ${this.width}x${this.height} ` +
      `${this.info.name} ${this.tiling.name} stride ${this.stride} pages ${this.pages.length}`;
  }

  /** Same pages, size, format and tiling: the mediator would see the same buffer. */
  public sameBuffer(other: Surface): boolean {
    if (other.width !== this.width || other.height !== this.height || other.format !== this.format ||
        other.stride !== this.stride || other.tiling !== this.tiling ||
        other.pages.length !== this.pages.length) return false;
    for (let i = 0; i < this.pages.length; i++) if (other.pages[i] !== this.pages[i]) return false;
    return true;
  }

  // ---- clipping ----

  /** Restrict drawing to a rectangle (intersected with the surface). */
  public setClip(r: Rect): void {
    this._cx0 = clamp(r.x, 0, this.width);
    this._cy0 = clamp(r.y, 0, this.height);
    this._cx1 = clamp(r.x + r.w, this._cx0, this.width);
    this._cy1 = clamp(r.y + r.h, this._cy0, this.height);
  }

  public resetClip(): void {
    this._cx0 = 0;
    this._cy0 = 0;
    this._cx1 = this.width;
    this._cy1 = this.height;
  }

  // ---- addressing ----

  /** Byte offset inside the surface of pixel (x, y). */
  public offsetOf(x: number, y: number): number {
    return this.tiling === LINEAR ? y * this.stride + x * this.cpp
      : tiledOffset(this.tiling, this.stride, x * this.cpp, y);
  }

  /** Guest physical byte address of pixel (x, y). */
  public physAddress(x: number, y: number): number {
    const off = this.offsetOf(x, y);
    return this.pages[off >>> PAGE_SHIFT]! * PAGE_SIZE + (off & PAGE_MASK);
  }

  /** Bytes from byte column `xb` that stay physically contiguous, given its surface offset. */
  private _runAt(xb: number, off: number): number {
    switch (this.tiling.name) {
      case 'linear': return PAGE_SIZE - (off & PAGE_MASK);
      case 'x': return 512 - (xb & 511);
      case 'y': return 16 - (xb & 15);
    }
  }

  private _mark(page: number): void {
    // Skip only while the host has not fetched the bit: a store after its fetch-and-clear must
    // set it again, or the host (and a server mirroring the buffer) never learns of that store.
    if (page === this._lastMarked && this._dirty !== undefined && this._dirty.isDirty(page)) return;
    this._lastMarked = page;
    this._dirty?.markPages(page, 1);
  }

  // Each primitive starts a new dedup window: the host may fetch-and-clear between two calls.
  private _begin(): void {
    this._lastMarked = -1;
  }

  // ---- colour ----

  /** 0xAARRGGBB → the pixel value of this format. */
  public pack(argb: number): number {
    argb >>>= 0;
    if (argb === this._packKey) return this._packVal;
    const i = this.info;
    let v = packChannel(i.r, (argb >>> 16) & 0xff) | packChannel(i.g, (argb >>> 8) & 0xff) |
      packChannel(i.b, argb & 0xff);
    if (i.a) v |= packChannel(i.a, argb >>> 24);
    this._packKey = argb;
    this._packVal = v >>> 0;
    return this._packVal;
  }

  /** A pixel value of this format → 0xAARRGGBB (alpha 0xFF for formats without alpha). */
  public unpack(v: number): number {
    const i = this.info;
    const a = i.a ? unpackChannel(i.a, v) : 0xff;
    return ((a << 24) | (unpackChannel(i.r, v) << 16) | (unpackChannel(i.g, v) << 8) |
      unpackChannel(i.b, v)) >>> 0;
  }

  // ---- primitives ----

  public putPixel(x: number, y: number, argb: number): void {
    x |= 0;
    y |= 0;
    if (x < this._cx0 || y < this._cy0 || x >= this._cx1 || y >= this._cy1) return;
    this._begin();
    this._store(x, y, this.pack(argb));
  }

  /** 0xAARRGGBB at (x, y), or 0 outside the surface. Ignores the clip. */
  public getPixel(x: number, y: number): number {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return 0;
    const phys = this.physAddress(x, y);
    return this.unpack(this.cpp === 4 ? this._u32[phys >>> 2]! : this._u16[phys >>> 1]!);
  }

  /** The raw pixel value at (x, y) (no unpacking), or 0 outside. */
  public getRaw(x: number, y: number): number {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return 0;
    const phys = this.physAddress(x, y);
    return this.cpp === 4 ? this._u32[phys >>> 2]! : this._u16[phys >>> 1]!;
  }

  public fillRect(x: number, y: number, w: number, h: number, argb: number): void {
    const x0 = Math.max(this._cx0, Math.floor(x));
    const y0 = Math.max(this._cy0, Math.floor(y));
    const x1 = Math.min(this._cx1, Math.floor(x + w));
    const y1 = Math.min(this._cy1, Math.floor(y + h));
    if (x1 <= x0 || y1 <= y0) return;
    this._begin();
    const px = this.pack(argb);
    for (let row = y0; row < y1; row++) this._fillSpan(x0, row, x1 - x0, px);
  }

  public clear(argb: number): void {
    this.fillRect(0, 0, this.width, this.height, argb);
  }

  /** A 1-pixel rectangle outline. */
  public strokeRect(x: number, y: number, w: number, h: number, argb: number): void {
    if (w <= 0 || h <= 0) return;
    this.fillRect(x, y, w, 1, argb);
    this.fillRect(x, y + h - 1, w, 1, argb);
    this.fillRect(x, y + 1, 1, h - 2, argb);
    this.fillRect(x + w - 1, y + 1, 1, h - 2, argb);
  }

  /** A filled disc, drawn as one span per row. */
  public fillCircle(cx: number, cy: number, r: number, argb: number): void {
    for (let dy = -r; dy <= r; dy++) {
      const half = Math.floor(Math.sqrt(r * r - dy * dy));
      this.fillRect(cx - half, cy + dy, half * 2 + 1, 1, argb);
    }
  }

  /**
   * One 8×16 glyph at (x, y): ink in `fg`, the rest in `bg`, or left untouched when `bg` is
   * undefined (text over a picture).
   */
  public drawGlyph(x: number, y: number, code: number, fg: number, bg?: number): void {
    x |= 0;
    y |= 0;
    if (x >= this._cx1 || y >= this._cy1 || x + FONT_WIDTH <= this._cx0 || y + FONT_HEIGHT <= this._cy0) return;
    this._begin();
    const rows = glyph(code);
    const pf = this.pack(fg);
    const pb = bg === undefined ? 0 : this.pack(bg);
    const opaque = bg !== undefined;
    const cpp = this.cpp;
    const whole = x >= this._cx0 && x + FONT_WIDTH <= this._cx1;
    for (let r = 0; r < FONT_HEIGHT; r++) {
      const py = y + r;
      if (py < this._cy0 || py >= this._cy1) continue;
      const bits = rows[r]!;
      if (!opaque && bits === 0) continue;
      const off = this.offsetOf(x, py);
      if (whole && this._runAt(x * cpp, off) >= FONT_WIDTH * cpp) {
        // Fast path: the 8 pixels of this glyph row are physically contiguous.
        const page = this.pages[off >>> PAGE_SHIFT]!;
        const phys = page * PAGE_SIZE + (off & PAGE_MASK);
        if (cpp === 4) {
          const base = phys >>> 2;
          for (let b = 0; b < 8; b++) {
            if (bits & (0x80 >>> b)) this._u32[base + b] = pf;
            else if (opaque) this._u32[base + b] = pb;
          }
        } else {
          const base = phys >>> 1;
          for (let b = 0; b < 8; b++) {
            if (bits & (0x80 >>> b)) this._u16[base + b] = pf;
            else if (opaque) this._u16[base + b] = pb;
          }
        }
        this._mark(page);
      } else {
        for (let b = 0; b < 8; b++) {
          const px = x + b;
          if (px < this._cx0 || px >= this._cx1) continue;
          if (bits & (0x80 >>> b)) this._store(px, py, pf);
          else if (opaque) this._store(px, py, pb);
        }
      }
    }
  }

  /** Draw a string left to right (no wrapping); returns the x after the last glyph. */
  public drawText(x: number, y: number, text: string, fg: number, bg?: number): number {
    for (let i = 0; i < text.length; i++, x += FONT_WIDTH) this.drawGlyph(x, y, text.charCodeAt(i), fg, bg);
    return x;
  }

  /**
   * Copy a w×h block of 0xAARRGGBB words from `src` (row pitch `srcStride` words) to (x, y).
   * With `blend`, source alpha composites over what is there; otherwise pixels are replaced.
   */
  public blit(x: number, y: number, w: number, h: number, src: Uint32Array, srcStride = w,
    blend = false): void {
    x |= 0;
    y |= 0;
    const x0 = Math.max(this._cx0, x);
    const y0 = Math.max(this._cy0, y);
    const x1 = Math.min(this._cx1, x + w);
    const y1 = Math.min(this._cy1, y + h);
    if (x1 <= x0 || y1 <= y0) return;
    this._begin();
    for (let py = y0; py < y1; py++) {
      const srow = (py - y) * srcStride - x;
      for (let px = x0; px < x1; px++) {
        let c = src[srow + px]! >>> 0;
        if (blend) {
          const a = c >>> 24;
          if (a === 0) continue;
          if (a !== 0xff) c = mix(this.unpack(this._load(px, py)), c, a);
        }
        this._store(px, py, this.pack(c));
      }
    }
  }

  // ---- internals ----

  private _store(x: number, y: number, v: number): void {
    const off = this.offsetOf(x, y);
    const page = this.pages[off >>> PAGE_SHIFT]!;
    const phys = page * PAGE_SIZE + (off & PAGE_MASK);
    if (this.cpp === 4) this._u32[phys >>> 2] = v;
    else this._u16[phys >>> 1] = v;
    this._mark(page);
  }

  private _load(x: number, y: number): number {
    const phys = this.physAddress(x, y);
    return this.cpp === 4 ? this._u32[phys >>> 2]! : this._u16[phys >>> 1]!;
  }

  /** n pixels of row y from x, split into physically contiguous runs, each one typed-array fill. */
  private _fillSpan(x: number, y: number, n: number, px: number): void {
    const cpp = this.cpp;
    let xb = x * cpp;
    let rem = n * cpp;
    while (rem > 0) {
      const off = this.tiling === LINEAR ? y * this.stride + xb : tiledOffset(this.tiling, this.stride, xb, y);
      let run = this._runAt(xb, off);
      if (run > rem) run = rem;
      const page = this.pages[off >>> PAGE_SHIFT]!;
      const phys = page * PAGE_SIZE + (off & PAGE_MASK);
      if (cpp === 4) this._u32.fill(px, phys >>> 2, (phys + run) >>> 2);
      else this._u16.fill(px, phys >>> 1, (phys + run) >>> 1);
      this._mark(page);
      xb += run;
      rem -= run;
    }
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : Math.floor(v);
}

function packChannel(c: Channel | undefined, v8: number): number {
  if (!c) return 0;
  const v = c.bits >= 8 ? (v8 << (c.bits - 8)) | (v8 >>> (16 - c.bits)) : v8 >>> (8 - c.bits);
  return (v << c.shift) >>> 0;
}

function unpackChannel(c: Channel | undefined, v: number): number {
  if (!c) return 0;
  const raw = (v >>> c.shift) & ((1 << c.bits) - 1);
  if (c.bits >= 8) return raw >>> (c.bits - 8);
  // Replicate the high bits so full scale maps to 255 (0x1F → 0xFF).
  return ((raw << (8 - c.bits)) | (raw >>> (2 * c.bits - 8 > 0 ? 2 * c.bits - 8 : 0))) & 0xff;
}

/** Source-over of `src` (alpha `a`) onto opaque `dst`, both 0xAARRGGBB. */
function mix(dst: number, src: number, a: number): number {
  const ia = 255 - a;
  const r = (((src >>> 16) & 0xff) * a + ((dst >>> 16) & 0xff) * ia + 127) / 255;
  const g = (((src >>> 8) & 0xff) * a + ((dst >>> 8) & 0xff) * ia + 127) / 255;
  const b = ((src & 0xff) * a + (dst & 0xff) * ia + 127) / 255;
  return ((0xff << 24) | (r << 16) | (g << 8) | b) >>> 0;
}
