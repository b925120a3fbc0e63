import { PAGE_SHIFT } from './GuestMemory.ts';

/**
 * One bit per guest page, set by whoever writes pixels (the guest marks its own writes, like a
 * KVM dirty log) and fetched-and-cleared by the host. Lives in its own SharedArrayBuffer so the
 * guest worker and the host share it; all updates are atomic.
 */
export class DirtyLog {
  public readonly buffer: SharedArrayBuffer;
  public readonly pageCount: number;
  private readonly _words: Int32Array;

  public constructor(pageCountOrBuffer: number | SharedArrayBuffer, pageCount?: number) {
    if (typeof pageCountOrBuffer === 'number') {
      this.pageCount = pageCountOrBuffer;
      this.buffer = new SharedArrayBuffer(Math.ceil(pageCountOrBuffer / 32) * 4);
    } else {
      this.buffer = pageCountOrBuffer;
      this.pageCount = pageCount ?? pageCountOrBuffer.byteLength * 8;
    }
    this._words = new Int32Array(this.buffer);
  }

  /** Mark the pages touched by bytes [offset, offset + length). Out-of-range parts are ignored. */
  public markBytes(offset: number, length: number): void {
    if (length <= 0) return;
    const first = Math.max(0, offset >> PAGE_SHIFT);
    const last = Math.min(this.pageCount - 1, (offset + length - 1) >> PAGE_SHIFT);
    this.markPages(first, last - first + 1);
  }

  public markPages(first: number, count: number): void {
    const end = Math.min(this.pageCount, first + count);
    for (let p = Math.max(0, first); p < end; ) {
      const w = p >>> 5;
      const bit = p & 31;
      const n = Math.min(32 - bit, end - p);
      const mask = n === 32 ? -1 : (((1 << n) - 1) << bit);
      Atomics.or(this._words, w, mask);
      p += n;
    }
  }

  /**
   * Fetch and clear the dirty bits of pages [first, first + count). Calls `onDirty(page)` for every
   * page that was dirty, in ascending order; returns how many there were.
   */
  public fetchAndClear(first: number, count: number, onDirty: (page: number) => void): number {
    const end = Math.min(this.pageCount, first + count);
    let found = 0;
    for (let p = Math.max(0, first); p < end; ) {
      const w = p >>> 5;
      const bit = p & 31;
      const n = Math.min(32 - bit, end - p);
      const mask = n === 32 ? -1 : (((1 << n) - 1) << bit);
      const old = Atomics.and(this._words, w, ~mask) & mask;
      if (old !== 0) {
        for (let b = bit; b < bit + n; b++) {
          if (old & (1 << b)) { found++; onDirty((w << 5) + b); }
        }
      }
      p += n;
    }
    return found;
  }

  public isDirty(page: number): boolean {
    if (page < 0 || page >= this.pageCount) return false;
    return (Atomics.load(this._words, page >>> 5) & (1 << (page & 31))) !== 0;
  }
}
