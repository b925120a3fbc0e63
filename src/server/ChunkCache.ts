import { BUFFER_DATA_HEADER, Msg } from '../protocol/RemoteProtocol.ts';
import { BLOCK_SIZE, type BufferShadow } from './BufferShadow.ts';

/** At most this many blocks (bytes / 4 KiB) per BUFFER_DATA message: 256 KiB of pixels. */
export const CHUNK_BLOCKS = 64;
export const MAX_CHUNK_BYTES = CHUNK_BLOCKS * BLOCK_SIZE;
/** The payload starts 12 bytes into the allocation so it is word-aligned for hashing. */
const PAD = 3;

interface CachedChunk {
  readonly shadow: BufferShadow;
  readonly gen: number;
  readonly bytes: Uint8Array;
}

/**
 * Encoded BUFFER_DATA messages of one VM, shared by its WebSocket clients while the shadow's
 * content versions stay the same: ten viewers of one VM cost one read and one encoding per
 * chunk. LRU, bounded in bytes. Only the remote protocol's mirrors use it; a client of another
 * protocol reads the shadow itself.
 */
export class ChunkCache {
  private readonly _chunks = new Map<string, CachedChunk>();
  private readonly _limit: number;
  private _bytes = 0;
  private _hits = 0;
  private _misses = 0;

  public constructor(limitBytes: number) {
    this._limit = limitBytes;
  }

  public get stats(): { entries: number; bytes: number; hits: number; misses: number } {
    return { entries: this._chunks.size, bytes: this._bytes, hits: this._hits, misses: this._misses };
  }

  /**
   * A BUFFER_DATA message for blocks [first, last) of `shadow`. The caller records
   * `shadow.version[first..last)` as what the client now has. Undefined when the buffer is gone.
   * `keep` false: build it without keeping it (no other client could use it).
   */
  public get(shadow: BufferShadow, first: number, last: number, keep = true): Uint8Array | undefined {
    if (!shadow.alive) return undefined;
    const key = `${shadow.remoteId}:${first}:${last}`;
    const hit = this._chunks.get(key);
    if (hit !== undefined && hit.shadow === shadow && hit.gen === shadow.gen) {
      this._hits++;
      // Most recently used goes last.
      this._chunks.delete(key);
      this._chunks.set(key, hit);
      return hit.bytes;
    }
    this._misses++;
    const start = shadow.blockStart(first);
    const len = shadow.blockEnd(last - 1) - start;
    // allocUnsafeSlow: no zero-fill (every byte is written) and never a pooled slice, so the
    // payload at byte 12 is word-aligned.
    const raw = Buffer.allocUnsafeSlow(PAD + BUFFER_DATA_HEADER + len);
    if (!shadow.read(first, last, raw, PAD + BUFFER_DATA_HEADER)) return undefined;
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    raw[PAD] = Msg.BUFFER_DATA;
    v.setUint32(PAD + 1, shadow.remoteId, true);
    v.setUint32(PAD + 5, start, true);
    const bytes = raw.subarray(PAD);
    if (hit !== undefined) this._drop(key, hit);
    if (keep && bytes.byteLength <= this._limit) {
      this._chunks.set(key, { shadow, gen: shadow.gen, bytes });
      this._bytes += bytes.byteLength;
      for (const [k, e] of this._chunks) {
        if (this._bytes <= this._limit) break;
        this._drop(k, e);
      }
    }
    return bytes;
  }

  /** Forget every chunk of a released buffer. */
  public forget(shadow: BufferShadow): void {
    for (const [k, e] of this._chunks) if (e.shadow === shadow) this._drop(k, e);
  }

  public clear(): void {
    this._chunks.clear();
    this._bytes = 0;
  }

  private _drop(key: string, e: CachedChunk): void {
    this._chunks.delete(key);
    this._bytes -= e.bytes.byteLength;
  }
}
