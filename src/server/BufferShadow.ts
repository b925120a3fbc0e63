import type { DisplayBuffer, Rect } from '../display/DisplayBuffer.ts';
import { layoutForModifier } from '../kms/Tiling.ts';

/** Mirroring granularity: one guest page. A 1024-pixel XRGB row is exactly one block. */
export const BLOCK_SIZE = 4096;
const BLOCK_SHIFT = 12;

/**
 * What the server knows about the content of one guest buffer: per 4 KiB block, a version stamp
 * that changes whenever the content may have changed, and a 64-bit hash of the bytes last observed.
 * Shared by every client of a VM: a client's copy of block i is current when the version it was
 * sent equals `version[i]`. No guest write — not even one that undoes another — is ever lost:
 *
 * - Damage that only says "may have changed" (a flip without dirty-log knowledge, a timer
 *   refresh's full damage) marks blocks for the next `scan`, which hashes them and gives a new
 *   version only to those whose hash differs; every later `read` of such a block hashes the bytes
 *   it copies, so the stamp a client records belongs to the exact bytes it got.
 * - Damage that says exactly which pages the guest wrote (the dirty log: `markWritten`) gives
 *   those blocks a new version without reading them, and leaves them unhashed: the next read
 *   copies without hashing. Any write after that read is in the dirty log, so it comes back as
 *   another `markWritten` and a new version — a flip costs only the pages the guest wrote, and a
 *   buffer whose every page changed is read once, by the copy that sends it.
 *
 * Hashes of unhashed blocks are taken when someone asks (`hashLow`/`hashHigh`: comparing blocks
 * of two buffers) or when a "may have changed" mark scans them.
 */
export class BufferShadow {
  public readonly buffer: DisplayBuffer;
  /** The id the client knows the buffer by (the dmabuf_id unless that id is busy). */
  public readonly remoteId: number;
  public readonly blocks: number;
  /** Bytes mirrored: min(buffer.size, mapping length). */
  public readonly size: number;
  /** Version stamp per block; 0 is never used (a client's "nothing"). */
  public readonly version: Uint32Array;
  /** Block was all zero bytes at its last observation (a fresh client buffer already has it). */
  public readonly zero: Uint8Array;
  private _gen = 1;
  private _alive = true;
  private _bytesHashed = 0;

  private readonly _h1: Int32Array;
  private readonly _h2: Int32Array;
  private readonly _pending: Uint8Array;
  /** 1: `_h1/_h2` hold the hash of the bytes the version stands for; 0: stamped by a write report. */
  private readonly _hashed: Uint8Array;
  private _pendingCount = 0;
  private _stamp = 1;
  private readonly _words: (Int32Array | undefined)[];

  public constructor(buffer: DisplayBuffer, remoteId: number) {
    this.buffer = buffer;
    this.remoteId = remoteId;
    this.size = Math.max(0, Math.min(buffer.size, buffer.mapping.length));
    this.blocks = Math.ceil(this.size / BLOCK_SIZE);
    this.version = new Uint32Array(this.blocks);
    this.zero = new Uint8Array(this.blocks);
    this._h1 = new Int32Array(this.blocks);
    this._h2 = new Int32Array(this.blocks);
    this._pending = new Uint8Array(this.blocks);
    this._hashed = new Uint8Array(this.blocks);
    // Word views per chunk, made once: the mapping's chunks are fixed for its lifetime.
    this._words = buffer.mapping.chunks.map((c) => (c.byteOffset % 4 === 0 && c.byteLength % 4 === 0
      ? new Int32Array(c.buffer, c.byteOffset, c.byteLength >> 2) : undefined));
    this.markAll();
  }

  /** Bumped whenever any block's version changes. */
  public get gen(): number {
    return this._gen;
  }

  /** False once the display released the buffer: its mapping must not be read any more. */
  public get alive(): boolean {
    return this._alive;
  }

  /** Bytes hashed so far (a cost counter for STATS). */
  public get bytesHashed(): number {
    return this._bytesHashed;
  }

  /** The display released the buffer: never read its mapping again. */
  public retire(): void {
    this._alive = false;
  }

  public get pending(): boolean {
    return this._pendingCount > 0;
  }

  public markAll(): void {
    if (this._pendingCount === this.blocks) return;
    this._pending.fill(1);
    this._pendingCount = this.blocks;
  }

  /** Mark the blocks holding the pixels of `r` for the next scan (whole tile rows when tiled). */
  public markRect(r: Rect): void {
    const b = this.buffer;
    const layout = layoutForModifier(b.modifier);
    if (layout === undefined || b.stride <= 0) {
      this.markAll();
      return;
    }
    const y0 = Math.max(0, r.y);
    const y1 = Math.min(b.height, r.y + r.height);
    if (y1 <= y0 || r.width <= 0) return;
    const th = layout.tileHeight;
    const start = Math.floor(y0 / th) * th * b.stride;
    const end = Math.ceil(y1 / th) * th * b.stride;
    this._markBytes(start, end);
  }

  /**
   * The guest wrote these blocks (buffer pages: a block is one page), as the dirty log says: new
   * versions, no hashing. Pages past the buffer are ignored.
   */
  public markWritten(pages: readonly number[]): void {
    if (pages.length === 0) return;
    // One stamp for the whole report: versions need only differ per block over time.
    const stamp = ++this._stamp;
    const n = this.blocks;
    for (let k = 0; k < pages.length; k++) {
      const i = pages[k]!;
      if (!(i >= 0 && i < n)) continue;
      this.version[i] = stamp;
      this._hashed[i] = 0;
      this.zero[i] = 0;
      if (this._pending[i] !== 0) {
        this._pending[i] = 0;
        this._pendingCount--;
      }
    }
    this._gen++;
  }

  /** Low 32 bits of block i's content hash (hashed now if a write report left it unhashed). */
  public hashLow(i: number): number {
    this._ensureHashed(i);
    return this._h1[i]!;
  }

  /** High 32 bits of block i's content hash. */
  public hashHigh(i: number): number {
    this._ensureHashed(i);
    return this._h2[i]!;
  }

  /** Whether block i's hash is known without reading guest memory. */
  public hashed(i: number): boolean {
    return this._hashed[i] === 1;
  }

  private _ensureHashed(i: number): void {
    if (!(i >= 0 && i < this.blocks)) throw new RangeError(`block ${i} outside 0..${this.blocks - 1}`);
    if (this._hashed[i] === 0 && this._alive) this._observeMapping(i);
  }

  private _markBytes(start: number, end: number): void {
    const last = Math.min(this.blocks, Math.ceil(end / BLOCK_SIZE));
    for (let i = Math.max(0, start >> BLOCK_SHIFT); i < last; i++) {
      if (this._pending[i] === 0) {
        this._pending[i] = 1;
        this._pendingCount++;
      }
    }
  }

  /** Hash every marked block (reading guest memory in place); returns how many changed. */
  public scan(): number {
    if (!this._alive || this._pendingCount === 0) return 0;
    let changed = 0;
    const pending = this._pending;
    for (let i = 0; i < this.blocks; i++) {
      if (pending[i] === 0) continue;
      pending[i] = 0;
      if (this._observeMapping(i)) changed++;
    }
    this._pendingCount = 0;
    return changed;
  }

  /** Byte range of block i. */
  public blockStart(i: number): number {
    return i << BLOCK_SHIFT;
  }

  public blockEnd(i: number): number {
    return Math.min(this.size, (i + 1) << BLOCK_SHIFT);
  }

  /**
   * Copy blocks [first, last) into `dst` (at `dstOffset`, which must be 4-byte aligned in its
   * ArrayBuffer) and observe the copied bytes: afterwards `version[first..last)` belong to exactly
   * the bytes in `dst`. Returns false when the buffer is gone.
   */
  public read(first: number, last: number, dst: Uint8Array, dstOffset: number): boolean {
    if (!this._alive) return false;
    const start = first << BLOCK_SHIFT;
    const end = this.blockEnd(last - 1);
    this._copy(start, end, dst, dstOffset);
    const aligned = (dst.byteOffset + dstOffset) % 4 === 0;
    for (let i = first; i < last; i++) {
      // Stamped by a write report: the stamp is these bytes' (a later write brings a new report).
      if (this._hashed[i] === 0 && this.version[i] !== 0) continue;
      const o = dstOffset + ((i - first) << BLOCK_SHIFT);
      const n = this.blockEnd(i) - this.blockStart(i);
      if (aligned && n % 4 === 0) this._record(i, new Int32Array(dst.buffer, dst.byteOffset + o, n >> 2), 0, n >> 2);
      else this._recordBytes(i, dst.subarray(o, o + n));
    }
    return true;
  }

  private _copy(start: number, end: number, dst: Uint8Array, dstOffset: number): void {
    const m = this.buffer.mapping;
    const offs = m.chunkOffsets;
    for (let c = 0; c < m.chunks.length && start < end; c++) {
      const chunk = m.chunks[c]!;
      const co = offs[c]!;
      const ce = co + chunk.byteLength;
      if (ce <= start || co >= end) continue;
      const a = Math.max(start, co);
      const b = Math.min(end, ce);
      dst.set(chunk.subarray(a - co, b - co), dstOffset + (a - start));
    }
  }

  /** Observe block i in guest memory; true when its version changed. */
  private _observeMapping(i: number): boolean {
    const start = i << BLOCK_SHIFT;
    const end = this.blockEnd(i);
    const m = this.buffer.mapping;
    // Fast path: the block lies inside one word-aligned chunk (every page-aligned mapping).
    for (let c = 0; c < m.chunks.length; c++) {
      const co = m.chunkOffsets[c]!;
      const chunk = m.chunks[c]!;
      if (start >= co && end <= co + chunk.byteLength) {
        const words = this._words[c];
        if (words !== undefined && (start - co) % 4 === 0 && (end - start) % 4 === 0) {
          return this._record(i, words, (start - co) >> 2, (end - start) >> 2);
        }
        return this._recordBytes(i, chunk.subarray(start - co, end - co));
      }
    }
    const tmp = new Uint8Array(end - start);
    this._copy(start, end, tmp, 0);
    return this._recordBytes(i, tmp);
  }

  /**
   * Four multiply-xor lanes over the words (word j goes to lane j % 4), folded into 64 bits. Each
   * lane step is a bijection of its state, so changing any single word always changes the hash;
   * four independent lanes keep the loop at memory speed (about 2 GB/s).
   */
  private _record(i: number, words: Int32Array, from: number, count: number): boolean {
    let a = 0x811c9dc5 | 0;
    let b = 0x2545f491 | 0;
    let c = 0x6b43a9b5 | 0;
    let d = 0x3c6ef372 | 0;
    let any = 0;
    const end = from + count;
    const end4 = from + (count & ~3);
    let k = from;
    for (; k < end4; k += 4) {
      const w0 = words[k]!;
      const w1 = words[k + 1]!;
      const w2 = words[k + 2]!;
      const w3 = words[k + 3]!;
      any |= w0 | w1 | w2 | w3;
      a = Math.imul(a ^ w0, 0x01000193);
      b = Math.imul(b ^ w1, 0x5bd1e995);
      c = Math.imul(c ^ w2, 0x01000193);
      d = Math.imul(d ^ w3, 0x5bd1e995);
    }
    for (let lane = 0; k < end; k++, lane++) {
      const w = words[k]!;
      any |= w;
      if (lane === 0) a = Math.imul(a ^ w, 0x01000193);
      else if (lane === 1) b = Math.imul(b ^ w, 0x5bd1e995);
      else c = Math.imul(c ^ w, 0x01000193);
    }
    return this._commit(i, a ^ Math.imul(c, 0x2c1b3c6d), b ^ Math.imul(d, 0x297a2d39) ^ (count * 4), any === 0, count * 4);
  }

  /** The same hash as `_record` over little-endian words (this host's order), plus tail bytes. */
  private _recordBytes(i: number, bytes: Uint8Array): boolean {
    let a = 0x811c9dc5 | 0;
    let b = 0x2545f491 | 0;
    let c = 0x6b43a9b5 | 0;
    let d = 0x3c6ef372 | 0;
    let any = 0;
    const n = bytes.length;
    const whole = n & ~3;
    for (let k = 0; k < whole; k += 4) {
      const w = bytes[k]! | (bytes[k + 1]! << 8) | (bytes[k + 2]! << 16) | (bytes[k + 3]! << 24);
      any |= w;
      switch ((k >> 2) & 3) {
        case 0: a = Math.imul(a ^ w, 0x01000193); break;
        case 1: b = Math.imul(b ^ w, 0x5bd1e995); break;
        case 2: c = Math.imul(c ^ w, 0x01000193); break;
        default: d = Math.imul(d ^ w, 0x5bd1e995); break;
      }
    }
    for (let k = whole; k < n; k++) {
      any |= bytes[k]!;
      a = Math.imul(a ^ (bytes[k]! | 0x100), 0x01000193);
    }
    return this._commit(i, a ^ Math.imul(c, 0x2c1b3c6d), b ^ Math.imul(d, 0x297a2d39) ^ n, any === 0, n);
  }

  private _commit(i: number, h1: number, h2: number, zero: boolean, bytes: number): boolean {
    this._bytesHashed += bytes;
    const known = this._hashed[i] === 1;
    if (known && this._h1[i] === h1 && this._h2[i] === h2) return false;
    this._h1[i] = h1;
    this._h2[i] = h2;
    this._hashed[i] = 1;
    this.zero[i] = zero ? 1 : 0;
    // Stamped by a write report: that stamp stands for these bytes (any later write is reported).
    if (!known && this.version[i] !== 0) return false;
    this.version[i] = ++this._stamp;
    this._gen++;
    return true;
  }
}
