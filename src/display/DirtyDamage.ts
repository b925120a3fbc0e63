import { formatInfo } from '../kms/Fourcc.ts';
import { DamageMapper } from './DamageMapper.ts';
import type { DisplayBuffer, Rect } from './DisplayBuffer.ts';
import type { DirtySource } from './DirtySource.ts';
import type { Frame } from './FrameSource.ts';

/** A buffer the dirty policy has shown, with its pages as runs [guestFirst, count, bufferPage]*. */
interface Tracked {
  readonly runs: Uint32Array;
  /** Its pages → rectangles (a buffer's geometry never changes: made once). */
  readonly mapper: DamageMapper;
  /** Buffer pages written while a buffer sharing their guest pages was shown (they were fetched there). */
  readonly carried: Set<number>;
}

/**
 * The dirty policy's damage for the shown primary: the guest pages behind the frame as runs
 * [guestFirst, count, bufferPage]*, scanned in the VM's dirty log (no ioctl) and turned into
 * rectangles by a DamageMapper. Without page information for a frame, every scan is a full frame.
 *
 * Besides rectangles it says exactly which buffer pages were written (`written`): on a flip, the
 * pages the guest wrote into the new buffer since it was last shown (the log kept them while it
 * was off screen), so a consumer that mirrors buffers (the lab server) learns what changed
 * without reading the buffer. A guest page shared by two shown buffers is remembered for the
 * other one when fetched through the first, so no write is lost to aliasing.
 */
export class DirtyDamage {
  private _frame: Frame | undefined;
  private _mapper: DamageMapper | undefined;
  private _runs: Uint32Array = new Uint32Array(0);
  private _runDelta = 0;
  private _shown: Tracked | undefined;
  private readonly _tracked = new Map<DisplayBuffer, Tracked>();
  /** Guest page → the tracked buffers holding it, with its buffer page there (only shared pages matter). */
  private readonly _owners = new Map<number, Array<{ t: Tracked; page: number }>>();
  private _aliased = 0;
  private _written: number[] = [];
  /** Dirty pages seen (counted into the display's stats). */
  public pages = 0;

  public constructor(private readonly _dirty: DirtySource) {}

  /**
   * Buffer pages the last `setup` or `scan` found written (valid until the next call); undefined
   * when the shown frame has no page map (its damage is then "the whole frame may have changed").
   */
  public get written(): readonly number[] | undefined {
    return this._mapper === undefined ? undefined : this._written;
  }

  /**
   * A new frame is shown: map its pages and fetch what was written into it while it was off screen.
   * Returns those buffer pages, or undefined when the frame has no page map (anything may differ).
   */
  public setup(frame: Frame): readonly number[] | undefined {
    this._frame = frame;
    this._mapper = undefined;
    this._runs = new Uint32Array(0);
    this._shown = undefined;
    this._written = [];
    if (frame.pages === undefined) return undefined;
    const b = frame.buffer;
    let t = this._tracked.get(b);
    if (t === undefined) {
      const cpp = formatInfo(b.drmFormat)?.cpp ?? 0;
      const mapper = new DamageMapper({ width: b.width, height: b.height, stride: b.stride, modifier: b.modifier, cpp });
      if (mapper.layout === undefined) return undefined;
      t = this._track(b, frame.pages, mapper);
    }
    const mapper = t.mapper;
    this._mapper = mapper;
    this._shown = t;
    this._runs = t.runs;
    for (const p of t.carried) this._written.push(p);
    t.carried.clear();
    this._fetch();
    // The scanout shows the whole buffer: these pages are reported with it, not as damage.
    mapper.take();
    return this._written;
  }

  /** The damage written since the last scan: none, a list, or the whole frame (no page map). */
  public scan(): readonly Rect[] | undefined {
    this._written = [];
    const mapper = this._mapper;
    if (mapper === undefined) return this._frame?.full;
    this._fetch();
    return mapper.pending ? mapper.take() : undefined;
  }

  /** The display released the buffer: forget its pages. */
  public forget(buffer: DisplayBuffer): void {
    const t = this._tracked.get(buffer);
    if (t === undefined) return;
    this._tracked.delete(buffer);
    if (this._shown === t) this._shown = undefined;
    const r = t.runs;
    for (let k = 0; k < r.length; k += 3) {
      for (let g = r[k]!, end = g + r[k + 1]!; g < end; g++) {
        const list = this._owners.get(g);
        if (list === undefined) continue;
        const rest = list.filter((o) => o.t !== t);
        if (rest.length === list.length) continue;
        if (list.length > 1) this._aliased--;
        if (rest.length === 0) this._owners.delete(g);
        else this._owners.set(g, rest);
      }
    }
  }

  private _track(b: DisplayBuffer, pages: Uint32Array, mapper: DamageMapper): Tracked {
    const count = Math.min(mapper.pageCount, pages.length);
    const runs: number[] = [];
    let i = 0;
    while (i < count) {
      const start = pages[i]!;
      let n = 1;
      while (i + n < count && pages[i + n] === start + n) n++;
      runs.push(start, n, i);
      i += n;
    }
    const t: Tracked = { runs: Uint32Array.from(runs), mapper, carried: new Set() };
    for (let p = 0; p < count; p++) {
      const g = pages[p]!;
      const list = this._owners.get(g);
      if (list === undefined) {
        this._owners.set(g, [{ t, page: p }]);
      } else {
        if (list.length === 1) this._aliased++;
        list.push({ t, page: p });
      }
    }
    this._tracked.set(b, t);
    return t;
  }

  private _fetch(): void {
    const runs = this._runs;
    for (let k = 0; k < runs.length; k += 3) {
      this._runDelta = runs[k + 2]! - runs[k]!;
      this._dirty.fetchAndClear(runs[k]!, runs[k + 1]!, this._onDirtyPage);
    }
  }

  private readonly _onDirtyPage = (page: number): void => {
    this.pages++;
    const p = page + this._runDelta;
    this._written.push(p);
    this._mapper?.markPage(p);
    if (this._aliased > 0) {
      const list = this._owners.get(page);
      if (list !== undefined && list.length > 1) {
        for (const o of list) {
          if (o.t !== this._shown) {
            o.t.carried.add(o.page);
          } else if (o.page !== p) {
            // The shown buffer maps this guest page twice.
            this._written.push(o.page);
            this._mapper?.markPage(o.page);
          }
        }
      }
    }
  };
}
