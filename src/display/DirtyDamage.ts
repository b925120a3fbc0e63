import { formatInfo } from '../kms/Fourcc.ts';
import { DamageMapper } from './DamageMapper.ts';
import type { Rect } from './DisplayBuffer.ts';
import type { DirtySource } from './DirtySource.ts';
import type { Frame } from './FrameSource.ts';

/**
 * The dirty policy's damage for the shown primary: the guest pages behind the frame as runs
 * [guestFirst, count, bufferPage]*, scanned in the VM's dirty log (no ioctl) and turned into
 * rectangles by a DamageMapper. Without page information for a frame, every scan is a full frame.
 */
export class DirtyDamage {
  private _frame: Frame | undefined;
  private _mapper: DamageMapper | undefined;
  private _runs = new Uint32Array(0);
  private _runDelta = 0;
  /** Dirty pages seen (counted into the display's stats). */
  public pages = 0;

  public constructor(private readonly _dirty: DirtySource) {}

  /** A new frame is shown: map its pages, and forget what was written before (the scanout covers it). */
  public setup(frame: Frame): void {
    this._frame = frame;
    this._mapper = undefined;
    this._runs = new Uint32Array(0);
    if (frame.pages === undefined) return;
    const b = frame.buffer;
    const cpp = formatInfo(b.drmFormat)?.cpp ?? 0;
    const mapper = new DamageMapper({ width: b.width, height: b.height, stride: b.stride, modifier: b.modifier, cpp });
    if (mapper.layout === undefined) return;
    this._mapper = mapper;
    const pages = frame.pages;
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
    this._runs = Uint32Array.from(runs);
    const r = this._runs;
    for (let k = 0; k < r.length; k += 3) this._dirty.fetchAndClear(r[k]!, r[k + 1]!, ignorePage);
  }

  /** The damage written since the last scan: none, a list, or the whole frame (no page map). */
  public scan(): readonly Rect[] | undefined {
    const mapper = this._mapper;
    if (mapper === undefined) return this._frame?.full;
    const runs = this._runs;
    for (let k = 0; k < runs.length; k += 3) {
      this._runDelta = runs[k + 2]! - runs[k]!;
      this._dirty.fetchAndClear(runs[k]!, runs[k + 1]!, this._onDirtyPage);
    }
    return mapper.pending ? mapper.take() : undefined;
  }

  private readonly _onDirtyPage = (page: number): void => {
    this.pages++;
    this._mapper?.markPage(page + this._runDelta);
  };
}

function ignorePage(): void {}
