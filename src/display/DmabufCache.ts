import type { DisplayBuffer, Rect } from './DisplayBuffer.ts';

/** One cached dma-buf: the fd we hold for a dmabuf_id and what was built from it. */
export interface CacheEntry {
  readonly id: number;
  readonly buffer: DisplayBuffer;
  /** The whole buffer as a damage list, made once (timer/event updates reuse it). */
  readonly full: readonly Rect[];
  /** Guest pages backing the buffer (dirty policy), when a PageResolver knows them. */
  readonly pages: Uint32Array | undefined;
  /** Hits since it was fetched. */
  hits: number;
}

/**
 * The consumer-side dma-buf cache (QEMU's VFIODMABuf list, spec §1.4): keyed by dmabuf_id,
 * most-recently-used first, bounded. Eviction skips entries that are shown (the primary, the
 * cursor, or the last frame kept while a plane is off) — so it can only run after the caller has
 * decided what is shown this refresh. Releasing is the caller's job (close fd, then texture).
 */
export class DmabufCache {
  /** Insertion order of a Map is the recency order: re-inserting on a hit moves it to the end. */
  private readonly _entries = new Map<number, CacheEntry>();
  /** Id of the most recently used entry: a hit on it needs no reordering. */
  private _mru = -1;

  public constructor(public readonly capacity: number) {
    DmabufCache.check(capacity);
  }

  /** Throws RangeError unless `capacity` can hold a primary and a cursor buffer. */
  public static check(capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < 2) {
      throw new RangeError(`cache size must be an integer >= 2 (primary + cursor), got ${capacity}`);
    }
  }

  public get size(): number {
    return this._entries.size;
  }

  /** A hit makes the entry most recently used. */
  public lookup(id: number): CacheEntry | undefined {
    const e = this._entries.get(id);
    if (e === undefined) return undefined;
    if (this._mru !== id) {
      this._entries.delete(id);
      this._entries.set(id, e);
      this._mru = id;
    }
    e.hits++;
    return e;
  }

  /** Read without touching recency (inspection). */
  public peek(id: number): CacheEntry | undefined {
    return this._entries.get(id);
  }

  public insert(entry: CacheEntry): void {
    this._entries.delete(entry.id);
    this._entries.set(entry.id, entry);
    this._mru = entry.id;
  }

  /**
   * Remove least-recently-used entries until at most `capacity` remain, never one for which
   * `shown` is true. Returns the removed entries, oldest first (the caller releases them).
   */
  public evict(shown: (e: CacheEntry) => boolean): CacheEntry[] {
    const out: CacheEntry[] = [];
    if (this._entries.size <= this.capacity) return out;
    let excess = this._entries.size - this.capacity;
    for (const e of this._entries.values()) {
      if (excess === 0) break;
      if (shown(e)) continue;
      out.push(e);
      excess--;
    }
    for (const e of out) this._entries.delete(e.id);
    if (!this._entries.has(this._mru)) this._mru = -1;
    return out;
  }

  /** Remove one entry (it went bad) without releasing it. */
  public remove(id: number): CacheEntry | undefined {
    const e = this._entries.get(id);
    if (e) this._entries.delete(id);
    if (id === this._mru) this._mru = -1;
    return e;
  }

  /** Remove and return every entry, oldest first. */
  public clear(): CacheEntry[] {
    const out = [...this._entries.values()];
    this._entries.clear();
    this._mru = -1;
    return out;
  }

  /** Entries most recently used first. */
  public entries(): CacheEntry[] {
    return [...this._entries.values()].reverse();
  }
}
