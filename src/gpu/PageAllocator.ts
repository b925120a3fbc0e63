/**
 * A first-fit page allocator over a range of page numbers. Guests use it to allocate buffers in
 * their own memory. It prefers a contiguous run; `allocScattered` takes whatever pages are free,
 * which is how a real guest ends up with framebuffers whose pages are not contiguous.
 */
export class PageAllocator {
  private readonly _used: Uint8Array;

  public constructor(public readonly firstPage: number, public readonly pageCount: number) {
    this._used = new Uint8Array(pageCount);
  }

  public get freePages(): number {
    let n = 0;
    for (let i = 0; i < this.pageCount; i++) if (!this._used[i]) n++;
    return n;
  }

  /** A contiguous run of `count` pages, or undefined when none is free. */
  public allocContiguous(count: number): number[] | undefined {
    if (count <= 0 || count > this.pageCount) return undefined;
    let run = 0;
    for (let i = 0; i < this.pageCount; i++) {
      run = this._used[i] ? 0 : run + 1;
      if (run === count) {
        const start = i - count + 1;
        this._used.fill(1, start, i + 1);
        return Array.from({ length: count }, (_, k) => this.firstPage + start + k);
      }
    }
    return undefined;
  }

  /** `count` free pages in ascending order, not necessarily contiguous, or undefined. */
  public allocScattered(count: number, stepHint = 1): number[] | undefined {
    if (count <= 0 || count > this.freePages) return undefined;
    const out: number[] = [];
    // Walk with a step so consecutive pages of the buffer land apart (exercises scatter paths).
    for (let pass = 0; pass < stepHint && out.length < count; pass++) {
      for (let i = pass; i < this.pageCount && out.length < count; i += stepHint) {
        if (!this._used[i]) { this._used[i] = 1; out.push(this.firstPage + i); }
      }
    }
    return out.length === count ? out : undefined;
  }

  /** Prefer contiguous; fall back to scattered. */
  public alloc(count: number): number[] | undefined {
    return this.allocContiguous(count) ?? this.allocScattered(count);
  }

  public free(pages: readonly number[]): void {
    for (const p of pages) {
      const i = p - this.firstPage;
      if (i >= 0 && i < this.pageCount) this._used[i] = 0;
    }
  }
}
