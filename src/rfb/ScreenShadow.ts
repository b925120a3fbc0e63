import type { Rect } from '../display/DisplayBuffer.ts';
import { formatInfo } from '../kms/Fourcc.ts';
import { layoutForModifier, type TileLayout } from '../kms/Tiling.ts';
import { SoftwareRenderer } from '../render/SoftwareRenderer.ts';
import { BLOCK_SIZE, type BufferShadow } from '../server/BufferShadow.ts';
import type { Mapping } from '../vfio/Sys.ts';
import { BlockRects } from './BlockRects.ts';
import { DirtyMap } from './DirtyMap.ts';

/** Whole rows that moved inside the shadow (a console scroll): a CopyRect for a client. */
export interface RowMove {
  readonly srcY: number;
  readonly dstY: number;
  readonly height: number;
}

/** CopyRects a client may have queued; past that a scroll is sent as pixels. */
const MAX_MOVES = 8;
/** A scroll is looked for when at least this many rows changed. */
const MIN_SCROLL_ROWS = 16;

/**
 * What one RFB client lacks of the shadow: the pixels that changed since it was sent them and
 * the row moves (CopyRects) it has yet to apply, in order, before those pixels.
 */
export class ShadowView {
  public dirty: DirtyMap;
  public readonly moves: RowMove[] = [];
  /** The client advertised CopyRect: scrolls reach it as moves. */
  public copyRect = false;

  public constructor(width: number, height: number) {
    this.dirty = new DirtyMap(width, height);
    this.dirty.markAll();
  }

  /** Forget the queued moves: their destination rows are resent as pixels instead. */
  public dropMoves(): void {
    for (const m of this.moves.splice(0)) this.dirty.markRows(m.dstY, m.dstY + m.height);
  }
}

let nextSerial = 1;
const serials = new WeakMap<BufferShadow, number>();
function serialOf(s: BufferShadow): number {
  let n = serials.get(s);
  if (n === undefined) serials.set(s, (n = nextSerial++));
  return n;
}

/**
 * ONE copy per VM screen of the pixels the VNC clients are encoded from (QEMU's VNC keeps the
 * same: its "server surface"), in the guest buffer's own layout, and per client a `ShadowView`:
 * the pixels that changed since that client was sent them.
 *
 * Why one shadow and per-client dirty bits: every client, fast or slow, is encoded from the same
 * shadow, and every change to the shadow marks those pixels in every client's view. So for each
 * client and pixel, "its framebuffer equals the shadow, or the pixel is marked" holds whatever
 * its pace: a slow client accumulates marks (bounded: one bit per pixel) and gets the current
 * pixels once, a fast one gets each change. Copies per client would cost memory per client and
 * comparisons per client; comparing the guest buffers directly (the client shows buffer A, the
 * new scanout is B) is only right while A still holds what the client was sent, and a
 * double-buffering guest draws into A right after the flip, while in-place writes destroy the
 * old pixels outright. So the shadow stands in for A: where its block hashes equal B's nothing is
 * read, elsewhere B is compared with the shadow (the same reads as with A) and only the differing
 * words are copied.
 *
 * `refresh` brings the shadow to a guest buffer: the BufferShadow's block versions and hashes
 * skip the blocks that hold what the shadow holds (a flip between two buffers of one layout
 * compares only the blocks whose hashes differ), the other blocks are compared pixel by pixel and
 * only differing pixel words are copied (`bytesCopied` counts every byte written into the
 * shadow). A console scroll is found as a row shift and becomes a move instead of pixels.
 */
export class ScreenShadow {
  /** Bytes copied from guest memory (or moved) into the shadow: the VNC path's one copy. */
  public bytesCopied = 0;
  /** Pixels converted from the shadow to RGBA for encoders. */
  public pixelsConverted = 0;
  /** Scrolls found (row moves). */
  public scrolls = 0;
  private _key = '';
  private _width = 0;
  private _height = 0;
  private _stride = 0;
  private _cpp = 4;
  private _layout: TileLayout | undefined;
  private _geometry: BlockRects | undefined;
  private _bytes = new Uint8Array(0);
  private _u32 = new Uint32Array(0);
  private _src = new Int32Array(0);
  private _ver = new Uint32Array(0);
  private _h1 = new Int32Array(0);
  private _h2 = new Int32Array(0);
  private _hk = new Uint8Array(0);
  private _todo = new Uint8Array(0);
  private _fresh = new DirtyMap(0, 0);
  private _renderer: SoftwareRenderer | undefined;
  private readonly _views = new Set<ShadowView>();
  private _lastSerial = -1;
  private _lastGen = -1;
  private _scratch = new Uint8Array(BLOCK_SIZE);
  private _px = 0;
  private _py = 0;

  public get width(): number {
    return this._width;
  }

  public get height(): number {
    return this._height;
  }

  /** A client's view, all dirty (it has nothing yet). */
  public attach(): ShadowView {
    const v = new ShadowView(this._width, this._height);
    this._views.add(v);
    return v;
  }

  public detach(v: ShadowView): void {
    this._views.delete(v);
  }

  /** Bring the shadow to `p`'s current content, marking what changed in every view. */
  public refresh(p: BufferShadow): void {
    if (!p.alive) return;
    const serial = serialOf(p);
    const gen = p.gen;
    if (serial === this._lastSerial && gen === this._lastGen) return;
    const b = p.buffer;
    const key = `${b.width}x${b.height}:${b.stride}:${b.drmFormat}:${b.modifier}:${p.size}`;
    if (key !== this._key) this._reset(p, key);
    this._lastSerial = serial;
    this._lastGen = gen;
    const g = this._geometry!;
    if (!g.addressable || (BLOCK_SIZE % this._cpp) !== 0) {
      // Blocks cannot be placed on screen: any difference resends the frame.
      if (this._copyWhole(p)) for (const v of this._views) v.dirty.markAll();
      return;
    }
    const todo = this._todo;
    let first = -1;
    let last = -1;
    let count = 0;
    for (let i = 0; i < p.blocks; i++) {
      const ver = p.version[i]!;
      if (this._src[i] === serial && this._ver[i] === ver) continue;
      if (this._hk[i] === 1 && p.hashed(i) && p.hashLow(i) === this._h1[i] && p.hashHigh(i) === this._h2[i]) {
        this._src[i] = serial;
        this._ver[i] = ver;
        continue;
      }
      todo[i] = 1;
      count++;
      if (first < 0) first = i;
      last = i;
    }
    if (count === 0) return;
    // Looking for a scroll reads the changed rows twice: only when a client can take a CopyRect.
    if (this._layout!.name === 'linear' && [...this._views].some((v) => v.copyRect)) this._scroll(p, first, last);
    for (let i = 0; i < p.blocks; i++) {
      if (todo[i] === 0) continue;
      todo[i] = 0;
      this._compareBlock(p, i, g);
      this._src[i] = serial;
      this._ver[i] = p.version[i]!;
      if (p.hashed(i)) {
        this._h1[i] = p.hashLow(i);
        this._h2[i] = p.hashHigh(i);
        this._hk[i] = 1;
      } else this._hk[i] = 0;
    }
    if (this._fresh.empty) return;
    for (const v of this._views) v.dirty.or(this._fresh);
    this._fresh.clear();
  }

  /**
   * The shadow's pixels in `rects` as RGBA8 (width × 4 bytes per row), converted now; undefined
   * when the format cannot be shown.
   */
  public render(rects: readonly Rect[]): Uint8Array | undefined {
    const r = this._renderer;
    if (r === undefined) return undefined;
    const res = r.render(rects);
    if (res.status !== 'ok') return undefined;
    this.pixelsConverted += res.pixelsConverted;
    return r.framebuffer;
  }

  /** The shadow's bytes (tests). */
  public get bytes(): Uint8Array {
    return this._bytes;
  }

  // ---- internals -------------------------------------------------------------------------------

  private _reset(p: BufferShadow, key: string): void {
    const b = p.buffer;
    this._key = key;
    this._width = b.width;
    this._height = b.height;
    this._stride = b.stride;
    this._cpp = (formatInfo(b.drmFormat)?.bpp ?? 32) / 8;
    this._layout = layoutForModifier(b.modifier);
    this._geometry = new BlockRects(b);
    const size = (p.size + 3) & ~3;
    this._bytes = new Uint8Array(size);
    this._u32 = new Uint32Array(this._bytes.buffer, 0, size >> 2);
    this._src = new Int32Array(p.blocks).fill(-1);
    this._ver = new Uint32Array(p.blocks);
    this._h1 = new Int32Array(p.blocks);
    this._h2 = new Int32Array(p.blocks);
    this._hk = new Uint8Array(p.blocks);
    this._todo = new Uint8Array(p.blocks);
    this._fresh = new DirtyMap(b.width, b.height);
    for (const v of this._views) {
      v.moves.length = 0;
      v.dirty = new DirtyMap(b.width, b.height);
      v.dirty.markAll();
    }
    const mapping: Mapping = { length: this._bytes.length, chunks: [this._bytes], chunkOffsets: [0], unmap: () => {} };
    const r = new SoftwareRenderer({ opaquePrimary: true });
    const status = r.setPrimary({ source: mapping, drmFormat: b.drmFormat, modifier: b.modifier, width: b.width, height: b.height, stride: b.stride });
    this._renderer = status === 'ok' ? r : undefined;
    // The views are all dirty already: fill the shadow without comparing.
    this._copyWhole(p);
    this._src.fill(serialOf(p));
    for (let i = 0; i < p.blocks; i++) {
      this._ver[i] = p.version[i]!;
      this._hk[i] = p.hashed(i) ? 1 : 0;
      if (this._hk[i] === 1) {
        this._h1[i] = p.hashLow(i);
        this._h2[i] = p.hashHigh(i);
      }
    }
  }

  /** Copy all of `p` into the shadow; true when any byte differed. */
  private _copyWhole(p: BufferShadow): boolean {
    let changed = false;
    for (let i = 0; i < p.blocks; i++) {
      const s = p.blockStart(i);
      const e = p.blockEnd(i);
      const g = this._guest(p, s, e);
      const mine = this._bytes.subarray(s, e);
      if (!changed && Buffer.compare(g, mine) === 0) continue;
      changed = true;
      mine.set(g);
      this.bytesCopied += e - s;
    }
    return changed;
  }

  /** Guest bytes [s, e) as one view (zero copy inside a chunk; copied into scratch across chunks). */
  private _guest(p: BufferShadow, s: number, e: number): Uint8Array {
    const m = p.buffer.mapping;
    for (let c = 0; c < m.chunks.length; c++) {
      const co = m.chunkOffsets[c]!;
      const chunk = m.chunks[c]!;
      if (s >= co && e <= co + chunk.byteLength) return chunk.subarray(s - co, e - co);
    }
    if (this._scratch.length < e - s) this._scratch = new Uint8Array(e - s);
    const out = this._scratch.subarray(0, e - s);
    for (let c = 0; c < m.chunks.length; c++) {
      const co = m.chunkOffsets[c]!;
      const chunk = m.chunks[c]!;
      const a = Math.max(s, co);
      const z = Math.min(e, co + chunk.byteLength);
      if (a < z) out.set(chunk.subarray(a - co, z - co), a - s);
    }
    this.bytesCopied += e - s;
    return out;
  }

  /**
   * Compare block i with the shadow pixel by pixel, copy the differing words and mark their
   * pixels. The words are compared 4 bytes at a time; a differing word's pixels are placed on
   * screen through the layout (the inverse of `tiledOffset`).
   */
  private _compareBlock(p: BufferShadow, i: number, g: BlockRects): void {
    const s = p.blockStart(i);
    const e = p.blockEnd(i);
    const guest = this._guest(p, s, e);
    const cpp = this._cpp;
    if (cpp === 3 || (e - s) % 4 !== 0 || (guest.byteOffset & 3) !== 0) {
      // Pixels straddle words (or the view is unaligned): compare the block whole.
      const mine = this._bytes.subarray(s, e);
      if (Buffer.compare(guest, mine) === 0) return;
      mine.set(guest);
      this.bytesCopied += e - s;
      g.mark(i, this._fresh);
      return;
    }
    const gw = new Uint32Array(guest.buffer, guest.byteOffset, (e - s) >> 2);
    const sw = this._u32;
    const base = s >> 2;
    const fresh = this._fresh;
    const per = 4 / cpp;
    let runY = -1;
    let runX0 = 0;
    let runX1 = 0;
    for (let k = 0; k < gw.length; k++) {
      const nw = gw[k]!;
      const ow = sw[base + k]!;
      if (nw === ow) continue;
      sw[base + k] = nw;
      this.bytesCopied += 4;
      const o = s + (k << 2);
      for (let j = 0; j < per; j++) {
        if (per > 1) {
          const mask = cpp === 2 ? 0xffff : 0xff;
          const shift = j * cpp * 8;
          if (((nw >>> shift) & mask) === ((ow >>> shift) & mask)) continue;
        }
        if (!this._place(o + j * cpp)) continue;
        const y = this._py;
        const x = this._px / cpp;
        if (x >= this._width) continue;
        if (y === runY && x === runX1) {
          runX1++;
          continue;
        }
        if (runY >= 0) fresh.markSpan(runY, runX0, runX1);
        runY = y;
        runX0 = x;
        runX1 = x + 1;
      }
    }
    if (runY >= 0) fresh.markSpan(runY, runX0, runX1);
  }

  /** Screen position of byte offset o into `_py` and `_px` (x in bytes); false past the frame. */
  private _place(o: number): boolean {
    const stride = this._stride;
    const l = this._layout!;
    let y: number;
    let xb: number;
    if (l.name === 'linear') {
      y = Math.floor(o / stride);
      xb = o - y * stride;
    } else {
      const tile = o >>> 12;
      const within = o & 4095;
      const perRow = Math.floor(stride / l.tileWidth);
      const tx = tile % perRow;
      const ty = Math.floor(tile / perRow);
      if (l.name === 'x') {
        y = ty * 8 + (within >>> 9);
        xb = tx * 512 + (within & 511);
      } else {
        y = ty * 32 + ((within >>> 4) & 31);
        xb = tx * 128 + (within >>> 9) * 16 + (within & 15);
      }
    }
    this._py = y;
    this._px = xb;
    return y < this._height;
  }

  /**
   * A vertical scroll in the rows of blocks [first, last]: rows of the new picture that equal the
   * shadow's rows dy further down (or up). Row hashes vote for dy, the matching rows are verified
   * byte for byte, then the shadow's rows move and each view gets the move (or,
   * without CopyRect or with too many queued, the rows as dirty). The moved rows' blocks are then
   * compared like any other: what the move did not produce (the exposed rows) is marked.
   */
  private _scroll(p: BufferShadow, first: number, last: number): void {
    const stride = this._stride;
    const rowBytes = this._width * this._cpp;
    if (stride <= 0 || rowBytes > stride) return;
    const y0 = Math.floor(p.blockStart(first) / stride);
    const y1 = Math.min(this._height, Math.ceil(p.blockEnd(last) / stride));
    if (y1 - y0 < MIN_SCROLL_ROWS * 2) return;
    const n = y1 - y0;
    const oldH = new Int32Array(n);
    const newH = new Int32Array(n);
    for (let y = y0; y < y1; y++) {
      const at = y * stride;
      if (at + rowBytes > p.size) return;
      oldH[y - y0] = rowHash(this._bytes, at, rowBytes);
      newH[y - y0] = rowHash(this._guest(p, at, at + rowBytes), 0, rowBytes);
    }
    // Rows whose content is unique in the old band vote for their shift.
    const where = new Map<number, number>();
    for (let k = 0; k < n; k++) where.set(oldH[k]!, where.has(oldH[k]!) ? -1 : k);
    const votes = new Map<number, number>();
    for (let k = 0; k < n; k++) {
      if (newH[k] === oldH[k]) continue;
      const j = where.get(newH[k]!);
      if (j === undefined || j < 0) continue;
      votes.set(j - k, (votes.get(j - k) ?? 0) + 1);
    }
    let dy = 0;
    let best = 0;
    for (const [d, c] of votes) if (c > best) [dy, best] = [d, c];
    if (dy === 0 || best < MIN_SCROLL_ROWS / 2) return;
    // The rows from the first to the last k with new[k] === old[k + dy] move together, if at least
    // three quarters of them match: the others (a line the client has not seen yet, the prompt)
    // are compared after the move like any changed row.
    const lo = Math.max(0, -dy);
    const hi = Math.min(n, n - dy);
    let a = -1;
    let z = -1;
    let matched = 0;
    for (let k = lo; k < hi; k++) {
      if (newH[k] !== oldH[k + dy]) continue;
      if (a < 0) a = k;
      z = k;
      matched++;
    }
    const len = z - a + 1;
    if (a < 0 || matched < MIN_SCROLL_ROWS || matched * 4 < len * 3) return;
    const dst = y0 + a;
    const src = dst + dy;
    for (let k = a; k <= z; k++) {
      if (newH[k] !== oldH[k + dy]) continue;
      const at = (y0 + k) * stride;
      const from = (y0 + k + dy) * stride;
      if (Buffer.compare(this._guest(p, at, at + rowBytes), this._bytes.subarray(from, from + rowBytes)) !== 0) return;
    }
    this._bytes.copyWithin(dst * stride, src * stride, (src + len) * stride);
    this.bytesCopied += len * stride;
    this.scrolls++;
    const move: RowMove = { srcY: src, dstY: dst, height: len };
    for (const v of this._views) {
      if (v.copyRect && v.moves.length < MAX_MOVES) {
        v.moves.push(move);
        v.dirty.moveRows(src, dst, len);
      } else v.dirty.markRows(dst, dst + len);
    }
    // The moved rows' blocks no longer hold what their records say: compare them again.
    const b0 = Math.floor((dst * stride) / BLOCK_SIZE);
    const b1 = Math.min(p.blocks, Math.ceil(((dst + len) * stride) / BLOCK_SIZE));
    for (let i = b0; i < b1; i++) {
      this._src[i] = -1;
      this._hk[i] = 0;
      this._todo[i] = 1;
    }
  }
}

/** A 32-bit hash of `n` bytes at `at` (row matching; candidates are verified byte for byte). */
function rowHash(b: Uint8Array, at: number, n: number): number {
  let h = 0x811c9dc5 | 0;
  if (((b.byteOffset + at) & 3) === 0 && (n & 3) === 0) {
    const w = new Int32Array(b.buffer, b.byteOffset + at, n >> 2);
    for (let k = 0; k < w.length; k++) h = Math.imul(h ^ w[k]!, 0x01000193);
    return h;
  }
  for (let k = 0; k < n; k++) h = Math.imul(h ^ b[at + k]!, 0x01000193);
  return h;
}
