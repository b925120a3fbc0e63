/**
 * A read-only view of a guest buffer for renderers: the buffer is the concatenation of `chunks`
 * (zero-copy views), chunk i starting at byte `chunkOffsets[i]`. A contiguous buffer is one chunk;
 * a scattered dma-buf is one chunk per run of contiguous guest pages. Structurally compatible with
 * vfio/Sys.ts `Mapping`, so a mapping is passed as it is.
 *
 * Nothing here copies or concatenates the buffer: readers hand out (chunk, index) pairs.
 */
export interface PixelSource {
  readonly chunks: readonly Uint8Array[];
  readonly chunkOffsets: readonly number[];
  readonly length: number;
}

/** A one-chunk source over `bytes` (a view, not a copy). */
export function contiguousSource(bytes: Uint8Array): PixelSource {
  return { chunks: [bytes], chunkOffsets: [0], length: bytes.length };
}

/**
 * Why `source` is malformed, or undefined when it is well formed: chunks in order, each starting
 * where the previous one ended, together covering exactly [0, length).
 */
export function checkPixelSource(source: PixelSource): string | undefined {
  const { chunks, chunkOffsets, length } = source;
  if (!Number.isSafeInteger(length) || length < 0) return `bad length ${length}`;
  if (chunks.length !== chunkOffsets.length) {
    return `${chunks.length} chunks but ${chunkOffsets.length} chunk offsets`;
  }
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    if (chunkOffsets[i] !== at) return `chunk ${i} starts at ${chunkOffsets[i]}, expected ${at}`;
    at += chunks[i]!.length;
  }
  if (at !== length) return `chunks cover ${at} bytes, length is ${length}`;
  return undefined;
}

/** Called for each contiguous piece of a byte range: `bytes[index .. index + length)`. */
export type SpanVisitor = (bytes: Uint8Array, index: number, length: number, at: number) => void;

/**
 * Random and sequential access to a PixelSource. The chunk found last is cached (`chunk`,
 * `chunkStart`, `chunkEnd`), so walking a row or a tile costs one range check per span; a new
 * chunk is found by direct division when the chunks are uniform (pages), else by binary search.
 * Callers on the hot path use `seek` and then index `chunk` themselves.
 */
export class PixelReader {
  public readonly source: PixelSource;
  /** Chunk holding the last sought offset; `chunk[offset - chunkStart]` is that byte. */
  public chunk: Uint8Array;
  public chunkStart = 0;
  public chunkEnd = 0;
  private readonly _chunks: readonly Uint8Array[];
  private readonly _offsets: readonly number[];
  /** Size of every chunk but the last when they are all equal (pages), else 0. */
  private readonly _uniform: number;

  public constructor(source: PixelSource) {
    const err = checkPixelSource(source);
    if (err !== undefined) throw new RangeError(`malformed pixel source: ${err}`);
    this.source = source;
    this._chunks = source.chunks;
    this._offsets = source.chunkOffsets;
    this.chunk = this._chunks[0] ?? new Uint8Array(0);
    this.chunkEnd = this.chunk.length;
    let uniform = this._chunks.length > 0 ? this._chunks[0]!.length : 0;
    for (let i = 1; i < this._chunks.length - 1 && uniform > 0; i++) {
      if (this._chunks[i]!.length !== uniform) uniform = 0;
    }
    this._uniform = uniform;
  }

  public get length(): number {
    return this.source.length;
  }

  /** True when the whole source is one chunk (direct indexing everywhere). */
  public get contiguous(): boolean {
    return this._chunks.length === 1;
  }

  /** Make `chunk` the chunk holding `offset`; false (and nothing changes) outside the source. */
  public seek(offset: number): boolean {
    if (offset >= this.chunkStart && offset < this.chunkEnd) return true;
    if (!(offset >= 0 && offset < this.source.length)) return false;
    let i: number;
    if (this._uniform > 0) {
      i = Math.min(Math.floor(offset / this._uniform), this._chunks.length - 1);
    } else {
      let lo = 0;
      let hi = this._chunks.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (this._offsets[mid]! <= offset) lo = mid;
        else hi = mid - 1;
      }
      i = lo;
      // Skip empty chunks that share a start offset with the one holding `offset`.
      while (this._offsets[i]! + this._chunks[i]!.length <= offset) i++;
    }
    this.chunk = this._chunks[i]!;
    this.chunkStart = this._offsets[i]!;
    this.chunkEnd = this.chunkStart + this.chunk.length;
    return true;
  }

  /** The byte at `offset`, or 0 outside the source. */
  public u8(offset: number): number {
    if (!this.seek(offset)) return 0;
    return this.chunk[offset - this.chunkStart]!;
  }

  /** Little-endian 16-bit value at `offset` (may straddle chunks); out-of-range bytes read 0. */
  public u16(offset: number): number {
    if (this.seek(offset) && offset + 2 <= this.chunkEnd) {
      const i = offset - this.chunkStart;
      return this.chunk[i]! | (this.chunk[i + 1]! << 8);
    }
    return this.u8(offset) | (this.u8(offset + 1) << 8);
  }

  /** Little-endian unsigned 32-bit value at `offset` (may straddle chunks). */
  public u32(offset: number): number {
    if (this.seek(offset) && offset + 4 <= this.chunkEnd) {
      const c = this.chunk;
      const i = offset - this.chunkStart;
      return (c[i]! | (c[i + 1]! << 8) | (c[i + 2]! << 16) | (c[i + 3]! << 24)) >>> 0;
    }
    return (this.u8(offset) | (this.u8(offset + 1) << 8) | (this.u8(offset + 2) << 16) |
      (this.u8(offset + 3) << 24)) >>> 0;
  }

  /**
   * Visit [offset, offset + length) as contiguous pieces, in order, without copying. Returns the
   * number of bytes visited (less than `length` when the range leaves the source).
   */
  public forEachSpan(offset: number, length: number, visit: SpanVisitor): number {
    let at = offset;
    const end = offset + length;
    while (at < end && this.seek(at)) {
      const n = Math.min(end, this.chunkEnd) - at;
      visit(this.chunk, at - this.chunkStart, n, at);
      at += n;
    }
    return at - offset;
  }
}
