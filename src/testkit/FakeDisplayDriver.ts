import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { LINEAR, X_TILED } from '../kms/Tiling.ts';
import type { DisplayMode, DriverCaps, ModeConfig, SurfaceRequest } from '../guest/os/DisplayDriver.ts';
import { DisplayDriverBase, type DriverResources } from '../guest/os/DisplayDriverBase.ts';
import type { Surface } from '../guest/os/Surface.ts';

export interface FakeDriverOptions {
  /** EDID modes, preferred first (default 1024×768, 800×600, 640×480). */
  readonly modes?: DisplayMode[];
  /** Allocate buffers page by page with this step (scattered), instead of contiguous runs. */
  readonly scatterStep?: number;
  readonly caps?: Partial<DriverCaps>;
}

/**
 * A display driver with no device behind it, for unit tests of fbcon, the session and the kernel:
 * it records what a real driver would program. Flips latch at the next `vblank()`.
 */
export class FakeDisplayDriver extends DisplayDriverBase {
  public readonly caps: DriverCaps;
  /** Every latched primary surface, in order. */
  public readonly history: Array<Surface | null> = [];
  /** Calls of each hook, for assertions. */
  public modeSets = 0;
  public primaryWrites = 0;
  public cursorPosWrites = 0;
  private _modes: DisplayMode[];
  private readonly _scatter: number | undefined;

  public constructor(res: DriverResources, opts: FakeDriverOptions = {}) {
    super(res);
    this._modes = opts.modes ??
      [{ width: 1024, height: 768, refresh: 60 }, { width: 800, height: 600 }, { width: 640, height: 480 }];
    this._scatter = opts.scatterStep;
    this.caps = {
      name: 'fake',
      formats: [DRM_FORMAT.XRGB8888, DRM_FORMAT.XBGR8888, DRM_FORMAT.ARGB8888, DRM_FORMAT.RGB565],
      tilings: [LINEAR, X_TILED],
      cursor: true,
      cursorSize: 64,
      minWidth: 64,
      minHeight: 64,
      maxWidth: 4096,
      maxHeight: 4096,
      ...opts.caps,
    };
    this._register(this.onFlip((s) => this.history.push(s)));
  }

  public modes(): DisplayMode[] {
    return this._modes.slice();
  }

  /** Simulate a monitor change: new EDID modes and a hotplug interrupt. */
  public plug(modes: DisplayMode[]): void {
    this._modes = modes.slice();
    this._fireHotplug();
  }

  protected _programMode(_m: ModeConfig): number {
    this.modeSets++;
    return 0;
  }

  protected _programPrimary(_s: Surface | null): number {
    this.primaryWrites++;
    return 0;
  }

  protected override _programCursorPos(_x: number, _y: number): void {
    this.cursorPosWrites++;
  }

  protected override _allocPages(count: number, _req: SurfaceRequest): number[] | undefined {
    return this._scatter ? this._allocator.allocScattered(count, this._scatter) : this._allocator.alloc(count);
  }

  protected override _mapSurface(s: Surface): number {
    s.address = s.pages[0]! * 4096;
    return 0;
  }
}
