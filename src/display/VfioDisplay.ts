import type { Clock } from '../base/Clock.ts';
import { Disposable } from '../base/Disposable.ts';
import { formatInfo } from '../kms/Fourcc.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { layoutForModifier } from '../kms/Tiling.ts';
import {
  VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_GFX_PLANE_TYPE_DMABUF, VFIO_GFX_PLANE_TYPE_PROBE, VFIO_GFX_PLANE_TYPE_REGION,
} from '../vfio/Abi.ts';
import { PlaneInfoView } from '../vfio/PlaneInfo.ts';
import type { Sys } from '../vfio/Sys.ts';
import { DirtyDamage } from './DirtyDamage.ts';
import type { DirtySource, PageResolver } from './DirtySource.ts';
import type { Rect } from './DisplayBuffer.ts';
import { DisplayConsole, type CursorShape, type StatusReason } from './DisplayConsole.ts';
import { DisplayIrq } from './DisplayIrq.ts';
import { DisplayCounters, type DisplayMode, type DisplayStats, type RefreshPolicy } from './DisplayStats.ts';
import { DmabufCache } from './DmabufCache.ts';
import { DmabufSource } from './DmabufSource.ts';
import type {
  CacheEntryInfo, Capture, Frame, FrameSink, FrameSource, PlaneReply, RefreshResult,
} from './FrameSource.ts';
import { RefreshScheduler } from './RefreshScheduler.ts';
import { RegionSource } from './RegionSource.ts';

export type { CacheEntryInfo, Capture, PlaneReply } from './FrameSource.ts';
export type { DisplayMode, DisplayStats, RefreshPolicy } from './DisplayStats.ts';

export interface VfioDisplayOptions {
  readonly clock: Clock;
  /** Default 'timer'. */
  readonly policy?: RefreshPolicy;
  /** Timer period; for `dirty`, the dirty-log scan period. Default 16 ms. */
  readonly intervalMs?: number;
  /** Consumer dma-buf cache entries (primary and cursor buffers together). Default 8, min 2. */
  readonly cacheSize?: number;
  /** `dirty` policy: the VM's dirty-page log. */
  readonly dirtyLog?: DirtySource;
  /** `dirty` policy: guest pages behind a dma-buf fd (emulated hosts: EmulatedPages.ts). */
  readonly pageResolver?: PageResolver;
  /** Track the cursor plane (dma-buf path only). Default true. */
  readonly cursor?: boolean;
  /** Formats the renderer can show. Default: every format kms/Fourcc knows, linear/X/Y tiling. */
  readonly supports?: (drmFormat: number, modifier: bigint) => boolean;
}

/** Default `supports`: formats we know the layout of, and addressable modifiers. */
export function defaultSupports(drmFormat: number, modifier: bigint): boolean {
  return formatInfo(drmFormat) !== undefined && layoutForModifier(modifier) !== undefined;
}

/**
 * The VMM display client (QEMU hw/vfio/display.c, redone): it drives a VFIO display device only
 * through the device-file interface (Sys + fd), so the same code drives the emulated kernel and
 * a real one. `probe` picks a source once (DmabufSource, else RegionSource); a RefreshScheduler
 * says when to refresh; the source tells this coordinator what to show (FrameSink), which counts
 * it and forwards it to `console`, adding dirty-log damage (DirtyDamage) under the dirty policy.
 *
 * Failure handling: -ENOMEM/-EAGAIN mean "retry later" (real mbochs answers ENOMEM to the first
 * query after a mode change); a disabled plane, an unsupported format or any other error keep the
 * last frame and set a status — never a silent black (a GET failing with EMFILE is retried too).
 * `halt` freezes the last frame when the VM itself stopped.
 */
export class VfioDisplay extends Disposable {
  public readonly console = new DisplayConsole();
  public readonly intervalMs: number;
  public readonly requestedPolicy: RefreshPolicy;

  private readonly _n = new DisplayCounters();
  private readonly _scheduler: RefreshScheduler;
  private _source: FrameSource | undefined;
  private _mode: DisplayMode = 'unprobed';
  private _damage: DirtyDamage | undefined;
  /** The frame on screen (kept while the plane is off or failing). */
  private _shown: Frame | undefined;
  /** The last scanout said which pages were written (dirty policy): no full update follows it. */
  private _scanoutWritten = false;
  /** The primary plane is on (last refresh showed it). */
  private _on = false;
  private _started = false;
  private _halted = false;

  public constructor(private readonly _sys: Sys, private readonly _fd: number, private readonly _o: VfioDisplayOptions) {
    super();
    const interval = _o.intervalMs ?? 16;
    if (!(interval > 0) || !Number.isFinite(interval)) {
      throw new RangeError(`intervalMs must be > 0, got ${interval}`);
    }
    const policy = _o.policy ?? 'timer';
    if (policy !== 'timer' && policy !== 'event' && policy !== 'dirty') {
      throw new RangeError(`unknown refresh policy '${String(policy)}' (timer, event, dirty)`);
    }
    // Bad options fail here, not at the first probe.
    DmabufCache.check(_o.cacheSize ?? 8);
    this.intervalMs = interval;
    this.requestedPolicy = policy;
    this._scheduler = new RefreshScheduler(_o.clock, interval, () => this.refresh(), () => this._dirtyTick(), policy);
  }

  public get mode(): DisplayMode {
    return this._mode;
  }

  /** The policy in effect (after any fallback). */
  public get policy(): RefreshPolicy {
    return this._scheduler.policy;
  }

  public get policyNote(): string {
    return this._scheduler.note;
  }

  /** True once `halt` was called: nothing refreshes any more. */
  public get halted(): boolean {
    return this._halted;
  }

  /** QUERY with PROBE|DMABUF, then PROBE|REGION (QEMU's order), and pick the source. Idempotent. */
  public probe(): DisplayMode {
    if (this._mode !== 'unprobed' || this.isDisposed) return this._mode;
    const q = new PlaneInfoView();
    const probe = (how: number): boolean => {
      this._n.queries++;
      const flags = VFIO_GFX_PLANE_TYPE_PROBE | how;
      return this._sys.ioctl(this._fd, VFIO_DEVICE_QUERY_GFX_PLANE, q.request(flags, PlaneType.PRIMARY)) === 0;
    };
    const o = this._o;
    const supports = o.supports ?? defaultSupports;
    if (probe(VFIO_GFX_PLANE_TYPE_DMABUF)) {
      this._source = new DmabufSource(this._sys, this._fd, this._sink, this._n, {
        cacheSize: o.cacheSize ?? 8, cursor: o.cursor ?? true, supports, pageResolver: o.pageResolver,
      });
    } else if (probe(VFIO_GFX_PLANE_TYPE_REGION)) {
      this._source = new RegionSource(this._sys, this._fd, this._sink, this._n, supports);
    }
    this._mode = this._source?.mode ?? 'none';
    return this._mode;
  }

  /**
   * Probe, arm the refresh policy (falling back when the device cannot do it) and refresh once.
   * With no display at all the status becomes 'no-display' and nothing is armed.
   */
  public start(): void {
    if (this._started || this.isDisposed || this._halted) return;
    this._started = true;
    this.probe();
    const source = this._source;
    if (source === undefined) {
      this.console.setStatus('no-display', "device doesn't support any (known) display method");
      return;
    }
    const o = this._o;
    const policy = this._scheduler.arm({
      requested: this.requestedPolicy,
      noEvents: source.events ? '' : `the ${source.mode} path has no content events: polling`,
      dirtyCapable: o.dirtyLog !== undefined && o.pageResolver !== undefined,
      armIrq: (onEvent, now) => DisplayIrq.arm(this._sys, this._fd, onEvent, now),
    });
    if (policy === 'dirty') this._damage = new DirtyDamage(o.dirtyLog!);
    if (this.policyNote) {
      this.console.setStatus('policy-fallback', `${this.requestedPolicy} → ${policy}: ${this.policyNote}`);
    }
    this.refresh();
  }

  /** One refresh now: the source looks at the device; damage follows. Never throws. */
  public refresh(): void {
    if (this.isDisposed || this._halted) return;
    if (this._mode === 'unprobed') this.probe();
    const source = this._source;
    if (source === undefined) return;
    this._n.refreshes++;
    const r: RefreshResult = source.refresh();
    if (r === 'retry') return;
    this._on = r !== 'off';
    const shown = this._shown;
    if (!this._on || shown === undefined) return;
    if (r === 'unchanged' && this._damage !== undefined) this._updateDirty();
    else if (r !== 'scanout' || !this._scanoutWritten) this._update(shown.full);
  }

  /**
   * One plane, now, for a one-shot reader (snapshot, probe, the lab's screen text): the source's
   * buffer for it (cached like any other, so repeated reads of one buffer make one GET), without
   * changing what the console shows. A device that says "later" (-ENOMEM/-EAGAIN: real mbochs'
   * first answer after a mode change, B12) is asked once more.
   */
  public capture(planeType: number = PlaneType.PRIMARY): Capture {
    if (this.isDisposed) return { kind: 'error', errno: 0, message: 'the display client is disposed' };
    if (this.probe() === 'none') {
      return { kind: 'error', errno: 0, message: "device doesn't support any (known) display method" };
    }
    const source = this._source!;
    let c = source.capture(planeType);
    if (c.kind === 'retry') {
      this._n.retries++;
      c = source.capture(planeType);
    }
    return c.kind === 'retry' ? { ...c, kind: 'error' } : c;
  }

  /** The last QUERY answer for a plane (what `probe` prints); all zero before any. */
  public planeInfo(planeType: number): PlaneReply {
    if (this._source !== undefined) return this._source.planeReply(planeType);
    return { ...new PlaneInfoView().read(), result: 0 };
  }

  /** The source's buffers (the dma-buf cache), most recently used first. */
  public cacheEntries(): CacheEntryInfo[] {
    return this._source?.cacheEntries() ?? [];
  }

  public get stats(): DisplayStats {
    const s = this._scheduler;
    return {
      ...this._n, mode: this._mode, requestedPolicy: this.requestedPolicy, policy: s.policy, policyNote: s.note,
      cacheEntries: this._source instanceof DmabufSource ? this._source.cacheSize : 0,
      irqWakeups: s.irqWakeups, irqEvents: s.irqEvents,
    };
  }

  /**
   * The VM behind the device stopped (its guest halted, crashed or was killed, or the VM is being
   * destroyed): stop refreshing and disarm the IRQ — the last call on the device fd, so its owner
   * may close it next — keep the last frame and the buffers it shows, and say why with status
   * 'vm-stopped'. A refreshing display would otherwise keep reporting 'ok' over a dead guest's
   * frozen frame. `dispose` still releases everything. Idempotent.
   */
  public halt(message: string): void {
    if (this.isDisposed || this._halted) return;
    this._halted = true;
    this._scheduler.dispose();
    this.console.setStatus('vm-stopped', message);
  }

  /** Stop refreshing, disarm the IRQ, release every buffer (fd closed, then onRelease). */
  public override dispose(): void {
    if (this.isDisposed) return;
    this._scheduler.dispose();
    this._source?.dispose();
    this._shown = undefined;
    super.dispose();
    this.console.dispose();
  }

  // ---- what the source shows, counted and forwarded (bound once) ---------------------------------

  private readonly _sink: FrameSink = {
    scanout: (frame: Frame): void => {
      this._n.scanouts++;
      this._shown = frame;
      const written = this._damage?.setup(frame);
      this._scanoutWritten = written !== undefined;
      this.console.showScanout(frame.buffer, written, this._scheduler.irqAt);
    },
    update: (rects: readonly Rect[]): void => this._update(rects),
    defineCursor: (shape: CursorShape): void => {
      this._n.cursorDefines++;
      this.console.defineCursor(shape);
    },
    moveCursor: (x: number, y: number): void => {
      this._n.cursorMoves++;
      this.console.moveCursor(x, y);
    },
    status: (reason: StatusReason, message: string, errno = 0): void => {
      this.console.setStatus(reason, message, Math.abs(errno));
    },
    release: (buffer): void => {
      if (this._shown?.buffer === buffer) this._shown = undefined;
      this._damage?.forget(buffer);
      this.console.release(buffer);
    },
    retry: (): void => {
      this._n.retries++;
      if (!this.isDisposed && !this._halted) this._scheduler.retry();
    },
  };

  /** `written`: the buffer pages behind `rects` when the dirty log says exactly which. */
  private _update(rects: readonly Rect[], written?: readonly number[]): void {
    this._n.updates++;
    this._n.damageRects += rects.length;
    this.console.update(rects, written);
  }

  /** Dirty ticks read the dirty log only: no ioctl. */
  private _dirtyTick(): void {
    if (this.isDisposed || this._halted || !this._on || this._shown === undefined) return;
    this._n.dirtyScans++;
    this._updateDirty();
  }

  private _updateDirty(): void {
    const d = this._damage!;
    const before = d.pages;
    const rects = d.scan();
    this._n.dirtyPages += d.pages - before;
    if (rects !== undefined) this._update(rects, d.written);
  }
}

