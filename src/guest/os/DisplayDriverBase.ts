import { Disposable } from '../../base/Disposable.ts';
import { Emitter } from '../../base/Emitter.ts';
import { Errno } from '../../base/Errno.ts';
import type { DirtyLog } from '../../gpu/DirtyLog.ts';
import type { GuestMemory } from '../../gpu/GuestMemory.ts';
import type { PageAllocator } from '../../gpu/PageAllocator.ts';
import { DRM_FORMAT, formatInfo, formatName } from '../../kms/Fourcc.ts';
import { LINEAR } from '../../kms/Tiling.ts';
import type {
  DisplayDriver, DisplayMode, DriverCaps, ModeConfig, SurfaceRequest, VblankInfo,
} from './DisplayDriver.ts';
import { Surface } from './Surface.ts';

/** What every driver gets from the kernel. */
export interface DriverResources {
  readonly memory: GuestMemory;
  readonly dirty: DirtyLog | undefined;
  /** Guest RAM pages for buffers. */
  readonly allocator: PageAllocator;
  /** The register window's write counter (0 for drivers without registers). */
  readonly writeSeq?: () => number;
}

export interface CursorState {
  readonly image: Surface | null;
  readonly hotX: number;
  readonly hotY: number;
  readonly x: number;
  readonly y: number;
}

/**
 * The device-independent half of a display driver: mode validation against caps, buffer
 * allocation and deferred release, flip bookkeeping (a show() latches at the first vblank after
 * the device applied its register writes), cursor state and events. A device driver implements
 * the `_program*` hooks (and `_mapSurface` when buffers need a device mapping, e.g. the GGTT).
 */
export abstract class DisplayDriverBase extends Disposable implements DisplayDriver {
  public abstract readonly caps: DriverCaps;

  /** Buffers allocated, freed and flips latched: tests use them to prove reuse. */
  public allocCount = 0;
  public freeCount = 0;
  public flipCount = 0;

  protected readonly _memory: GuestMemory;
  protected readonly _dirty: DirtyLog | undefined;
  protected readonly _allocator: PageAllocator;
  private readonly _writeSeq: () => number;
  private _mode: ModeConfig | undefined;
  private _front: Surface | null = null;
  private _pending: Surface | null | undefined = undefined;
  private _pendingSeq = 0;
  private _cursor: CursorState = { image: null, hotX: 0, hotY: 0, x: 0, y: 0 };
  private readonly _owned = new Set<Surface>();
  private readonly _deferred = new Set<Surface>();

  private readonly _onVblank = this._register(new Emitter<VblankInfo>());
  public readonly onVblank = this._onVblank.event;
  private readonly _onFlip = this._register(new Emitter<Surface | null>());
  public readonly onFlip = this._onFlip.event;
  private readonly _onHotplug = this._register(new Emitter<void>());
  public readonly onHotplug = this._onHotplug.event;

  public constructor(res: DriverResources) {
    super();
    this._memory = res.memory;
    this._dirty = res.dirty;
    this._allocator = res.allocator;
    this._writeSeq = res.writeSeq ?? (() => 0);
  }

  public init(): number {
    return 0;
  }

  public abstract modes(): DisplayMode[];

  public get mode(): ModeConfig | undefined {
    return this._mode;
  }

  public get front(): Surface | null {
    return this._front;
  }

  public get pending(): Surface | null | undefined {
    return this._pending;
  }

  public get cursor(): CursorState {
    return this._cursor;
  }

  /** Live buffers (allocated, not yet released). */
  public get surfaces(): readonly Surface[] {
    return [...this._owned];
  }

  public checkMode(m: ModeConfig): number {
    const c = this.caps;
    if (!Number.isInteger(m.width) || !Number.isInteger(m.height)) return -Errno.EINVAL;
    if (m.width < c.minWidth || m.height < c.minHeight || m.width > c.maxWidth || m.height > c.maxHeight) {
      return -Errno.EINVAL;
    }
    if (!c.formats.includes(m.format)) return -Errno.EINVAL;
    if (!c.tilings.some((t) => t.name === m.tiling.name)) return -Errno.EINVAL;
    return 0;
  }

  public setMode(m: ModeConfig): number {
    const r = this.checkMode(m);
    if (r < 0) return r;
    const p = this._programMode(m);
    if (p < 0) return p;
    this._mode = m;
    return 0;
  }

  public allocSurface(req: SurfaceRequest): Surface | number {
    const info = formatInfo(req.format);
    if (!info || info.indexed || info.yuvOrder) return -Errno.EINVAL;
    if (!Number.isInteger(req.width) || !Number.isInteger(req.height) || req.width <= 0 || req.height <= 0) {
      return -Errno.EINVAL;
    }
    if (req.purpose === 'cursor') {
      if (!this.caps.cursor || req.width !== this.caps.cursorSize || req.height !== this.caps.cursorSize ||
          req.format !== DRM_FORMAT.ARGB8888 || req.tiling !== LINEAR) return -Errno.EINVAL;
    } else if (!this.caps.tilings.some((t) => t.name === req.tiling.name) ||
        req.width > this.caps.maxWidth || req.height > this.caps.maxHeight) {
      return -Errno.EINVAL;
    }
    const stride = this._stride(req);
    const count = Surface.pagesFor(req.height, stride, req.tiling);
    const pages = this._allocPages(count, req);
    if (!pages) return -Errno.ENOMEM;
    let s: Surface;
    try {
      s = new Surface(this._memory, this._dirty, {
        pages, width: req.width, height: req.height, stride, format: req.format, tiling: req.tiling,
      });
    } catch {
      this._allocator.free(pages);
      return -Errno.EINVAL;
    }
    s.label = req.label ?? '';
    const r = this._mapSurface(s, req);
    if (r < 0) {
      this._allocator.free(pages);
      return r;
    }
    this._owned.add(s);
    this.allocCount++;
    return s;
  }

  public freeSurface(s: Surface): void {
    if (!this._owned.has(s)) return;
    if (this._inUse(s)) {
      this._deferred.add(s);
      return;
    }
    this._release(s);
  }

  public show(s: Surface | null): number {
    if (s && !this._owned.has(s)) return -Errno.EINVAL;
    const r = this._programPrimary(s);
    if (r < 0) return r;
    this._pending = s;
    this._pendingSeq = this._writeSeq();
    return 0;
  }

  public setCursor(image: Surface | null, hotX: number, hotY: number): number {
    if (!this.caps.cursor) return -Errno.ENODEV;
    if (image && !this._owned.has(image)) return -Errno.EINVAL;
    if (image && (hotX < 0 || hotY < 0 || hotX >= image.width || hotY >= image.height)) return -Errno.EINVAL;
    const r = this._programCursor(image, hotX, hotY);
    if (r < 0) return r;
    const old = this._cursor.image;
    this._cursor = { ...this._cursor, image, hotX, hotY };
    if (old && old !== image && this._deferred.has(old)) this._flushDeferred();
    return 0;
  }

  public moveCursor(x: number, y: number): void {
    x = Math.trunc(x);
    y = Math.trunc(y);
    if (x === this._cursor.x && y === this._cursor.y) return;
    this._cursor = { ...this._cursor, x, y };
    if (this.caps.cursor) this._programCursorPos(x, y);
  }

  public vblank(info: VblankInfo): void {
    if (this._pending !== undefined && ((info.writesApplied - this._pendingSeq) | 0) >= 0) {
      const next = this._pending;
      this._pending = undefined;
      this._front = next;
      this.flipCount++;
      this._flushDeferred();
      this._onFlip.fire(next);
    }
    this._onVblank.fire(info);
  }

  public info(): string[] {
    const m = this._mode;
    const cur = this._cursor;
    const front = this._front;
    const lines = [
      `driver: ${this.caps.name}`,
      m ? `mode: ${m.width}x${m.height} ${formatName(m.format)} ${m.tiling.name}` : 'mode: unset',
      `primary: ${front ? `${front.describe()} at 0x${front.address.toString(16)}` : 'disabled'}`,
    ];
    if (this._pending !== undefined) {
      lines.push(`pending: ${this._pending ? this._pending.describe() : 'disable'}`);
    }
    if (this.caps.cursor) {
      const img = cur.image;
      lines.push(img
        ? `cursor: ${img.width}x${img.height} ${img.info.name} at (${cur.x},${cur.y}) ` +
          `hot (${cur.hotX},${cur.hotY})`
        : 'cursor: off');
    }
    lines.push(`buffers: ${this._owned.size} live, ${this.allocCount} allocated, ${this.flipCount} flips`);
    return [...lines, ...this._infoExtra()];
  }

  public override dispose(): void {
    for (const s of [...this._owned]) this._release(s);
    super.dispose();
  }

  // ---- hooks for device drivers ----

  /** Program the pipe for a validated mode. */
  protected abstract _programMode(m: ModeConfig): number;
  /** Program the primary plane (the device latches it at its next vblank). */
  protected abstract _programPrimary(s: Surface | null): number;
  protected _programCursor(_image: Surface | null, _hotX: number, _hotY: number): number {
    return 0;
  }
  protected _programCursorPos(_x: number, _y: number): void {}
  /** Bytes per row for a new buffer (default: 64-byte aligned linear, whole tiles otherwise). */
  protected _stride(req: SurfaceRequest): number {
    return Surface.strideFor(req.width, req.format, req.tiling);
  }
  /** Pages for a new buffer; contiguous when possible. */
  protected _allocPages(count: number, _req: SurfaceRequest): number[] | undefined {
    return this._allocator.alloc(count);
  }
  /** Make a buffer reachable by the device (e.g. GGTT entries) and set `s.address`. */
  protected _mapSurface(_s: Surface, _req: SurfaceRequest): number {
    return 0;
  }
  protected _unmapSurface(_s: Surface): void {}
  protected _infoExtra(): string[] {
    return [];
  }
  protected _fireHotplug(): void {
    this._onHotplug.fire();
  }

  private _inUse(s: Surface): boolean {
    return s === this._front || s === this._pending || s === this._cursor.image;
  }

  private _flushDeferred(): void {
    for (const s of [...this._deferred]) {
      if (!this._inUse(s)) {
        this._deferred.delete(s);
        this._release(s);
      }
    }
  }

  private _release(s: Surface): void {
    if (!this._owned.delete(s)) return;
    this._deferred.delete(s);
    this._unmapSurface(s);
    this._allocator.free([...s.pages]);
    this.freeCount++;
  }
}
