import { Disposable, type IDisposable } from '../base/Disposable.ts';
import type { Clock } from '../base/Clock.ts';
import { Errno, errnoName } from '../base/Errno.ts';
import { formatInfo, formatName } from '../kms/Fourcc.ts';
import { modifierName } from '../kms/Modifier.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { layoutForModifier } from '../kms/Tiling.ts';
import {
  VFIO_DEVICE_GET_GFX_DMABUF, VFIO_GFX_PLANE_TYPE_DMABUF, VFIO_GFX_PLANE_TYPE_PROBE,
  VFIO_GFX_PLANE_TYPE_REGION,
} from '../vfio/Abi.ts';
import { PROT_READ, type Mapping, type Sys } from '../vfio/Sys.ts';
import { DamageMapper } from './DamageMapper.ts';
import type { DirtySource, PageResolver } from './DirtySource.ts';
import { DisplayConsole, type StatusReason } from './DisplayConsole.ts';
import { fullRect, type DisplayBuffer, type Rect } from './DisplayBuffer.ts';
import { DisplayIrq } from './DisplayIrq.ts';
import { DmabufCache, type CacheEntry } from './DmabufCache.ts';
import { PlaneQuery, type PlaneSnapshot } from './PlaneQuery.ts';
import { RegionReader } from './RegionReader.ts';

/**
 * - `timer`: QUERY both planes every `intervalMs` (QEMU's GUI refresh timer), full-frame update.
 * - `event`: QUERY only when the device's display event channel fires, full-frame update.
 * - `dirty`: like `event` for flips, plus a dirty-log scan every `intervalMs` (no ioctl) that
 *   turns written pages of the shown buffer into damage rectangles.
 */
export type RefreshPolicy = 'timer' | 'event' | 'dirty';

/** How the device exports its display: decided by probe (DMABUF first, then REGION). */
export type DisplayMode = 'unprobed' | 'dmabuf' | 'region' | 'none';

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

export interface DisplayStats {
  readonly mode: DisplayMode;
  readonly requestedPolicy: RefreshPolicy;
  /** What runs (after falling back, e.g. to `timer` when the device has no display IRQ). */
  readonly policy: RefreshPolicy;
  /** Why `policy` differs from `requestedPolicy` ('' when it does not). */
  readonly policyNote: string;
  readonly refreshes: number;
  /** Dirty-log scans that were not refreshes (dirty policy ticks). */
  readonly dirtyScans: number;
  readonly queries: number;
  readonly gets: number;
  readonly fdsOpened: number;
  readonly fdsClosed: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly evictions: number;
  readonly cacheEntries: number;
  /** Pixel bytes copied between guest memory and renderer input: 0 on the dma-buf path. */
  readonly bytesCopied: number;
  readonly scanouts: number;
  readonly updates: number;
  readonly damageRects: number;
  readonly dirtyPages: number;
  readonly cursorDefines: number;
  readonly cursorMoves: number;
  /** Display IRQ wake-ups and the device events they carried. */
  readonly irqWakeups: number;
  readonly irqEvents: number;
  /** QUERY/GET answers of -ENOMEM/-EAGAIN (and GET's -EMFILE), retried on the next refresh. */
  readonly retries: number;
  /** Other failures (each also reported as status 'device-error'). */
  readonly errors: number;
}

export interface CacheEntryInfo {
  readonly id: number;
  readonly fd: number;
  readonly planeType: number;
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly size: number;
  readonly hits: number;
  readonly shown: 'primary' | 'cursor' | 'none';
}

const HOT_UNKNOWN = 0xffffffff;
const STATUS_SHOWING = 'showing the primary plane';

/** Default `supports`: formats we know the layout of, and addressable modifiers. */
export function defaultSupports(drmFormat: number, modifier: bigint): boolean {
  return formatInfo(drmFormat) !== undefined && layoutForModifier(modifier) !== undefined;
}

function isRetry(r: number): boolean {
  return r === -Errno.ENOMEM || r === -Errno.EAGAIN;
}

/**
 * The VMM display client (QEMU hw/vfio/display.c, redone): it drives a VFIO display device only
 * through the device-file interface (Sys + fd), so the same code drives the emulated kernel and
 * a real one. It probes DMABUF then REGION, refreshes by policy, caches dma-bufs by dmabuf_id,
 * tracks the cursor, and tells renderers what to show through `console`.
 *
 * Failure handling: -ENOMEM/-EAGAIN mean "retry next refresh" (real mbochs answers ENOMEM to the
 * first query after a mode change); a disabled plane, an unsupported format or any other error
 * keep the last frame and set a status — never a silent black (a GET failing with EMFILE sets
 * its status and is retried too). `halt` freezes the last frame when the VM itself stopped.
 */
export class VfioDisplay extends Disposable {
  public readonly console: DisplayConsole;
  public readonly intervalMs: number;
  public readonly requestedPolicy: RefreshPolicy;

  private readonly _sys: Sys;
  private readonly _fd: number;
  private readonly _clock: Clock;
  private readonly _cache: DmabufCache;
  private readonly _dirty: DirtySource | undefined;
  private readonly _resolve: PageResolver | undefined;
  private readonly _trackCursor: boolean;
  private readonly _supports: (drmFormat: number, modifier: bigint) => boolean;

  private _mode: DisplayMode = 'unprobed';
  private _policy: RefreshPolicy;
  private _policyNote = '';
  private _started = false;
  private _halted = false;

  // Reused per refresh: the QUERY argument of each plane and the GET argument.
  private readonly _qPrimary = new PlaneQuery();
  private readonly _qCursor = new PlaneQuery();
  private readonly _getArg = new Uint8Array(4);
  private readonly _getView = new DataView(this._getArg.buffer);

  // What is shown. `_primary` stays while the plane is off or failing (the last frame).
  private _primary: CacheEntry | undefined;
  private _primaryOn = false;
  private _cursor: CacheEntry | undefined;
  private _hotX = 0;
  private _hotY = 0;
  private _posX = 0;
  private _posY = 0;

  // Dirty policy: damage of the shown primary, and its page runs [guestFirst, count, bufferPage]*.
  private _mapper: DamageMapper | undefined;
  private _runs = new Uint32Array(0);
  private _runDelta = 0;

  // Region path.
  private _region: RegionReader | undefined;
  private _regionBuffer: DisplayBuffer | undefined;
  private _regionStaging = new Uint8Array(0);
  private _regionFull: readonly Rect[] = [];

  private _timer: IDisposable | undefined;
  private _irq: DisplayIrq | undefined;
  private _eventPending: IDisposable | undefined;
  private _retryPending: IDisposable | undefined;

  private _refreshes = 0;
  private _dirtyScans = 0;
  private _queries = 0;
  private _gets = 0;
  private _fdsOpened = 0;
  private _fdsClosed = 0;
  private _hits = 0;
  private _misses = 0;
  private _evictions = 0;
  private _bytesCopied = 0;
  private _scanouts = 0;
  private _updates = 0;
  private _damageRects = 0;
  private _dirtyPages = 0;
  private _cursorDefines = 0;
  private _cursorMoves = 0;
  private _retries = 0;
  private _errors = 0;

  public constructor(sys: Sys, fd: number, options: VfioDisplayOptions) {
    super();
    const interval = options.intervalMs ?? 16;
    if (!(interval > 0) || !Number.isFinite(interval)) {
      throw new RangeError(`intervalMs must be > 0, got ${interval}`);
    }
    const policy = options.policy ?? 'timer';
    if (policy !== 'timer' && policy !== 'event' && policy !== 'dirty') {
      throw new RangeError(`unknown refresh policy '${String(policy)}' (timer, event, dirty)`);
    }
    this._sys = sys;
    this._fd = fd;
    this._clock = options.clock;
    this.intervalMs = interval;
    this.requestedPolicy = policy;
    this._policy = policy;
    this._cache = new DmabufCache(options.cacheSize ?? 8);
    this._dirty = options.dirtyLog;
    this._resolve = options.pageResolver;
    this._trackCursor = options.cursor ?? true;
    this._supports = options.supports ?? defaultSupports;
    this.console = new DisplayConsole();
  }

  public get mode(): DisplayMode {
    return this._mode;
  }

  /** The policy in effect (after any fallback). */
  public get policy(): RefreshPolicy {
    return this._policy;
  }

  public get policyNote(): string {
    return this._policyNote;
  }

  /** True once `halt` was called: nothing refreshes any more. */
  public get halted(): boolean {
    return this._halted;
  }

  /** QUERY with PROBE|DMABUF, then PROBE|REGION (QEMU's order). Idempotent. */
  public probe(): DisplayMode {
    if (this._mode !== 'unprobed' || this.isDisposed) return this._mode;
    const q = this._qPrimary;
    this._queries++;
    const probe = (how: number): number =>
      q.run(this._sys, this._fd, VFIO_GFX_PLANE_TYPE_PROBE | how, PlaneType.PRIMARY);
    if (probe(VFIO_GFX_PLANE_TYPE_DMABUF) === 0) {
      this._mode = 'dmabuf';
    } else {
      this._queries++;
      this._mode = probe(VFIO_GFX_PLANE_TYPE_REGION) === 0 ? 'region' : 'none';
    }
    return this._mode;
  }

  /**
   * Probe, arm the refresh policy (falling back when the device cannot do it) and refresh once.
   * With no display at all the status becomes 'no-display' and nothing is armed.
   */
  public start(): void {
    if (this._started || this.isDisposed || this._halted) return;
    this._started = true;
    const mode = this.probe();
    if (mode === 'none') {
      this.console.setStatus('no-display', "device doesn't support any (known) display method");
      return;
    }
    let policy = this.requestedPolicy;
    const notes: string[] = [];
    if (policy !== 'timer' && mode === 'region') {
      notes.push('the region path has no content events: polling');
      policy = 'timer';
    }
    if (policy === 'dirty' && (!this._dirty || !this._resolve)) {
      notes.push('dirty policy needs a dirty log and a page resolver: event policy');
      policy = 'event';
    }
    if (policy !== 'timer') {
      const irq = DisplayIrq.arm(this._sys, this._fd, this._onIrq);
      if (irq instanceof DisplayIrq) {
        this._irq = irq;
      } else {
        notes.push(`${irq.reason}: timer policy`);
        policy = 'timer';
      }
    }
    this._policy = policy;
    this._policyNote = notes.join('; ');
    if (this._policyNote) {
      this.console.setStatus('policy-fallback', `${this.requestedPolicy} → ${policy}: ${this._policyNote}`);
    }
    if (policy !== 'event') this._timer = this._clock.setInterval(this._onTick, this.intervalMs);
    this.refresh();
  }

  /** One refresh now: query the planes, update cache, console and damage. Never throws. */
  public refresh(): void {
    if (this.isDisposed || this._halted) return;
    if (this._mode === 'unprobed') this.probe();
    this._refreshes++;
    if (this._mode === 'dmabuf') this._refreshDmabuf();
    else if (this._mode === 'region') this._refreshRegion();
  }

  /** The last QUERY answer for a plane (what `probe` prints). */
  public planeInfo(planeType: number): PlaneSnapshot {
    return (planeType === PlaneType.CURSOR ? this._qCursor : this._qPrimary).snapshot();
  }

  /** The dma-buf cache, most recently used first. */
  public cacheEntries(): CacheEntryInfo[] {
    return this._cache.entries().map((e) => ({
      id: e.id, fd: e.buffer.fd, planeType: e.buffer.planeType, drmFormat: e.buffer.drmFormat,
      modifier: e.buffer.modifier, width: e.buffer.width, height: e.buffer.height,
      stride: e.buffer.stride, size: e.buffer.size, hits: e.hits,
      shown: e === this._primary ? 'primary' : e === this._cursor ? 'cursor' : 'none',
    }));
  }

  public get stats(): DisplayStats {
    return {
      mode: this._mode, requestedPolicy: this.requestedPolicy, policy: this._policy,
      policyNote: this._policyNote, refreshes: this._refreshes, dirtyScans: this._dirtyScans,
      queries: this._queries, gets: this._gets, fdsOpened: this._fdsOpened, fdsClosed: this._fdsClosed,
      cacheHits: this._hits, cacheMisses: this._misses, evictions: this._evictions,
      cacheEntries: this._cache.size, bytesCopied: this._bytesCopied, scanouts: this._scanouts,
      updates: this._updates, damageRects: this._damageRects, dirtyPages: this._dirtyPages,
      cursorDefines: this._cursorDefines, cursorMoves: this._cursorMoves,
      irqWakeups: this._irq?.wakeups ?? 0, irqEvents: this._irq?.signals ?? 0,
      retries: this._retries, errors: this._errors,
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
    this._timer?.dispose();
    this._eventPending?.dispose();
    this._retryPending?.dispose();
    this._timer = this._eventPending = this._retryPending = undefined;
    this._irq?.dispose(); // kept for its counters
    this.console.setStatus('vm-stopped', message);
  }

  /** Stop refreshing, disarm the IRQ, release every buffer (fd closed, then onRelease). */
  public override dispose(): void {
    if (this.isDisposed) return;
    this._timer?.dispose();
    this._eventPending?.dispose();
    this._retryPending?.dispose();
    this._irq?.dispose(); // kept for its counters
    this._timer = this._eventPending = this._retryPending = undefined;
    const shown = [this._primary, this._cursor];
    this._primary = this._cursor = undefined;
    const all = this._cache.clear();
    // A shown buffer dropped from the cache (its id changed meaning) is still ours to release.
    for (const e of shown) if (e !== undefined && !all.includes(e)) all.push(e);
    for (const e of new Set(all)) this._release(e);
    this._region?.close();
    this._region = undefined;
    if (this._regionBuffer) this.console.release(this._regionBuffer);
    this._regionBuffer = undefined;
    super.dispose();
    this.console.dispose();
  }

  // ---- scheduling (bound once: nothing is allocated per refresh) ------------------------------

  private readonly _onTick = (): void => {
    if (this._policy === 'dirty') this._dirtyTick();
    else this.refresh();
  };

  /** IRQ wake-up: refresh soon, outside the device's event dispatch; bursts coalesce. */
  private readonly _onIrq = (): void => {
    if (this._eventPending === undefined && !this.isDisposed && !this._halted) {
      this._eventPending = this._clock.setTimeout(this._onEventDue, 0);
    }
  };

  private readonly _onEventDue = (): void => {
    this._eventPending = undefined;
    this.refresh();
  };

  private readonly _onRetryDue = (): void => {
    this._retryPending = undefined;
    this.refresh();
  };

  /** ENOMEM/EAGAIN/EMFILE: the timer policy retries on its next tick; event policies need a timer. */
  private _retryLater(): void {
    this._retries++;
    if (this._policy === 'timer' || this._retryPending !== undefined || this.isDisposed || this._halted) return;
    this._retryPending = this._clock.setTimeout(this._onRetryDue, this.intervalMs);
  }

  private _fail(reason: StatusReason, message: string, errno = 0): void {
    if (reason === 'device-error') this._errors++;
    this.console.setStatus(reason, message, Math.abs(errno));
  }

  // ---- dma-buf path ---------------------------------------------------------------------------

  /** Set by `_acquire`: its last call inserted a new cache entry. */
  private _fetched = false;

  private _refreshDmabuf(): void {
    const q = this._qPrimary;
    this._queries++;
    const r = q.run(this._sys, this._fd, VFIO_GFX_PLANE_TYPE_DMABUF, PlaneType.PRIMARY);
    if (isRetry(r)) {
      this._retryLater();
      return;
    }
    let inserted = false;
    let scanout = false;
    if (r < 0) {
      this._primaryOn = false;
      this._fail('device-error', `QUERY_GFX_PLANE(primary) failed: ${errnoName(r)}`, r);
    } else if (q.disabled) {
      this._primaryOn = false;
      this.console.setStatus('plane-disabled', 'the guest disabled the primary plane (last frame kept)');
    } else {
      const got = this._acquire(q, PlaneType.PRIMARY);
      if (got === 0) return; // retry scheduled
      const e = typeof got === 'number' ? undefined : got;
      if (e === undefined) this._primaryOn = false;
      else if (this._fetched) inserted = true;
      if (e !== undefined) {
        if (e !== this._primary || !this._primaryOn) {
          const old = this._primary;
          this._primary = e;
          this._primaryOn = true;
          this._showPrimary(e);
          scanout = true;
          // A buffer we dropped from the cache while it was shown goes now.
          if (old !== undefined && old !== this._cursor && this._cache.peek(old.id) !== old) this._release(old);
        }
        this.console.setStatus('ok', STATUS_SHOWING);
      }
    }
    if (this._trackCursor && this._refreshCursor()) inserted = true;
    if (inserted) this._evict();
    if (!this._primaryOn || this._primary === undefined) return;
    if (scanout) {
      this._update(this._primary.full);
    } else if (this._policy === 'dirty') {
      this._scanDirty();
    } else {
      this._update(this._primary.full);
    }
  }

  /**
   * The cache entry for the buffer `q` names: a hit (no GET, no new fd), or GET + mmap of an id
   * never seen or whose layout changed under the same id. Same return values as `_fetch`;
   * `_fetched` tells whether an entry was inserted (the caller then runs eviction). One path for
   * the primary and the cursor plane: they share one cache, as in QEMU.
   */
  private _acquire(q: PlaneQuery, planeType: number): CacheEntry | number {
    let e = this._cache.lookup(q.id);
    if (e !== undefined && !sameGeometry(e.buffer, q)) {
      // The same id now describes another layout: drop ours (after it stops being shown).
      this._cache.remove(e.id);
      if (e !== this._primary && e !== this._cursor) this._release(e);
      e = undefined;
    }
    this._fetched = e === undefined;
    if (e !== undefined) {
      this._hits++;
      return e;
    }
    return this._fetch(q, planeType);
  }

  /**
   * GET + mmap for the plane in `q`, inserted in the cache. Returns the entry, 0 when a retry was
   * scheduled, or -1 after reporting a status (unsupported format, GET or mmap failure).
   */
  private _fetch(q: PlaneQuery, planeType: number): CacheEntry | number {
    const modifier = q.modifier;
    const primary = planeType === PlaneType.PRIMARY;
    if (!this._supports(q.drmFormat, modifier)) {
      if (primary) {
        this.console.setStatus('unsupported-format',
          `cannot show ${formatName(q.drmFormat)} with modifier ${modifierName(modifier)} (last frame kept)`);
      }
      return -1;
    }
    this._misses++;
    this._getView.setUint32(0, q.id, true);
    this._gets++;
    const fd = this._sys.ioctl(this._fd, VFIO_DEVICE_GET_GFX_DMABUF, this._getArg);
    if (fd < 0) {
      if (isRetry(fd)) { this._retryLater(); return 0; }
      if (primary) this._fail('device-error', `GET_GFX_DMABUF(${q.id}) failed: ${errnoName(fd)}`, fd);
      else this._errors++;
      // Out of fds is this process's state, not the device's: an idle guest sends no more
      // events, so without a retry the display would stay on the error after fds are freed.
      if (fd === -Errno.EMFILE) this._retryLater();
      return -1;
    }
    this._fdsOpened++;
    const size = q.size;
    const mapping = this._sys.mmap(fd, 0, size, PROT_READ);
    if (typeof mapping === 'number') {
      this._sys.close(fd);
      this._fdsClosed++;
      if (primary) this._fail('device-error', `mmap of dma-buf ${q.id} failed: ${errnoName(mapping)}`, mapping);
      else this._errors++;
      return -1;
    }
    const width = q.width;
    const height = q.height;
    const buffer: DisplayBuffer = {
      id: q.id, fd, kind: 'dmabuf', planeType, mapping, drmFormat: q.drmFormat, modifier,
      width, height, stride: q.stride, size,
    };
    const entry: CacheEntry = {
      id: q.id, buffer, full: [fullRect(width, height)],
      pages: this._resolve?.(fd), hits: 0,
    };
    this._cache.insert(entry);
    return entry;
  }

  private _showPrimary(e: CacheEntry): void {
    this._scanouts++;
    this._setupDamage(e);
    this.console.showScanout(e.buffer);
  }

  /** Returns true when a cache entry was inserted. */
  private _refreshCursor(): boolean {
    const q = this._qCursor;
    this._queries++;
    const r = q.run(this._sys, this._fd, VFIO_GFX_PLANE_TYPE_DMABUF, PlaneType.CURSOR);
    if (isRetry(r)) {
      this._retryLater();
      return false;
    }
    if (r < 0) this._errors++;
    if (r < 0 || q.disabled) {
      this._hideCursor();
      return false;
    }
    const e = this._acquire(q, PlaneType.CURSOR);
    if (typeof e === 'number') {
      if (e !== 0) this._hideCursor();
      return false;
    }
    const inserted = this._fetched;
    const hx = q.xHot;
    const hy = q.yHot;
    const isNew = e !== this._cursor;
    if (isNew || hx !== this._hotX || hy !== this._hotY) {
      const old = this._cursor;
      this._cursor = e;
      this._hotX = hx;
      this._hotY = hy;
      this._cursorDefines++;
      this.console.defineCursor({
        buffer: e.buffer, hotX: hx, hotY: hy, hotKnown: hx !== HOT_UNKNOWN && hy !== HOT_UNKNOWN,
      });
      if (old !== undefined && old !== this._primary && this._cache.peek(old.id) !== old) this._release(old);
    }
    const x = q.xPos;
    const y = q.yPos;
    if (isNew || x !== this._posX || y !== this._posY) {
      this._posX = x;
      this._posY = y;
      this._cursorMoves++;
      this.console.moveCursor(x, y);
    }
    return inserted;
  }

  private _hideCursor(): void {
    if (this._cursor === undefined) return;
    const old = this._cursor;
    this._cursor = undefined;
    this._cursorDefines++;
    this.console.defineCursor({ buffer: null, hotX: 0, hotY: 0, hotKnown: false });
    if (old !== this._primary && this._cache.peek(old.id) !== old) this._release(old);
  }

  private readonly _isShown = (e: CacheEntry): boolean => e === this._primary || e === this._cursor;

  private _evict(): void {
    const gone = this._cache.evict(this._isShown);
    for (const e of gone) {
      this._evictions++;
      this._release(e);
    }
  }

  /** Close the fd first, then tell the renderer to drop its texture (QEMU's order), then unmap. */
  private _release(e: CacheEntry): void {
    const b = e.buffer;
    if (b.fd >= 0) {
      this._sys.close(b.fd);
      this._fdsClosed++;
    }
    this.console.release(b);
    b.mapping.unmap();
  }

  private _update(rects: readonly Rect[]): void {
    this._updates++;
    this._damageRects += rects.length;
    this.console.update(rects);
  }

  // ---- dirty policy ---------------------------------------------------------------------------

  private _setupDamage(e: CacheEntry): void {
    this._mapper = undefined;
    this._runs = new Uint32Array(0);
    if (this._policy !== 'dirty' || this._dirty === undefined || e.pages === undefined) return;
    const b = e.buffer;
    const cpp = formatInfo(b.drmFormat)?.cpp ?? 0;
    const mapper = new DamageMapper({
      width: b.width, height: b.height, stride: b.stride, modifier: b.modifier, cpp,
    });
    if (mapper.layout === undefined) return;
    this._mapper = mapper;
    const count = Math.min(mapper.pageCount, e.pages.length);
    const runs: number[] = [];
    let i = 0;
    while (i < count) {
      const start = e.pages[i]!;
      let n = 1;
      while (i + n < count && e.pages[i + n] === start + n) n++;
      runs.push(start, n, i);
      i += n;
    }
    this._runs = Uint32Array.from(runs);
    // The scanout is a full update: what was written before it is already covered.
    const r = this._runs;
    for (let k = 0; k < r.length; k += 3) this._dirty.fetchAndClear(r[k]!, r[k + 1]!, ignorePage);
  }

  private readonly _onDirtyPage = (page: number): void => {
    this._dirtyPages++;
    this._mapper?.markPage(page + this._runDelta);
  };

  /** Dirty ticks read the dirty log only: no ioctl. */
  private _dirtyTick(): void {
    if (this.isDisposed || this._halted || !this._primaryOn || this._primary === undefined) return;
    this._dirtyScans++;
    this._scanDirty();
  }

  private _scanDirty(): void {
    const mapper = this._mapper;
    const dirty = this._dirty;
    if (mapper === undefined || dirty === undefined) {
      // No page information for this buffer: full frames, as the timer policy would.
      if (this._primary) this._update(this._primary.full);
      return;
    }
    const runs = this._runs;
    for (let k = 0; k < runs.length; k += 3) {
      this._runDelta = runs[k + 2]! - runs[k]!;
      dirty.fetchAndClear(runs[k]!, runs[k + 1]!, this._onDirtyPage);
    }
    if (mapper.pending) this._update(mapper.take());
  }

  // ---- region path ----------------------------------------------------------------------------

  private _refreshRegion(): void {
    const q = this._qPrimary;
    this._queries++;
    const r = q.run(this._sys, this._fd, VFIO_GFX_PLANE_TYPE_REGION, PlaneType.PRIMARY);
    if (isRetry(r)) {
      this._retryLater();
      return;
    }
    if (r < 0) {
      this._fail('device-error', `QUERY_GFX_PLANE(region) failed: ${errnoName(r)}`, r);
      return;
    }
    if (q.disabled) {
      this.console.setStatus('plane-disabled', 'the guest disabled the display (last frame kept)');
      return;
    }
    const index = q.id;
    if (this._region === undefined || this._region.index !== index) {
      this._region?.close();
      this._region = undefined;
      const reader = RegionReader.open(this._sys, this._fd, index);
      if (typeof reader === 'number') {
        this._fail('device-error', `region ${index}: ${errnoName(reader)}`, reader);
        return;
      }
      this._region = reader;
    }
    let b = this._regionBuffer;
    const changed = b === undefined || b.id !== index || b.width !== q.width || b.height !== q.height ||
      b.stride !== q.stride || b.drmFormat !== q.drmFormat;
    if (changed) {
      const modifier = q.modifier;
      if (!this._supports(q.drmFormat, modifier) || modifier !== 0n) {
        this.console.setStatus('unsupported-format',
          `cannot show region format ${formatName(q.drmFormat)} (last frame kept)`);
        return;
      }
      const bytes = q.stride * q.height;
      if (bytes <= 0 || bytes > this._region.size || q.stride < q.width) {
        const what = `${q.width}x${q.height} stride ${q.stride}`;
        this._fail('device-error', `region ${index}: ${what} does not fit ${this._region.size} bytes`, -Errno.EINVAL);
        return;
      }
      // Fill the new staging buffer before showing it, so the renderer's first look sees a frame.
      const staging = new Uint8Array(bytes);
      if (!this._copyRegion(staging)) return;
      const mapping: Mapping = { length: bytes, chunks: [staging], chunkOffsets: [0], unmap: () => {} };
      const old = b;
      b = {
        id: index, fd: -1, kind: 'region', planeType: PlaneType.PRIMARY, mapping, drmFormat: q.drmFormat,
        modifier, width: q.width, height: q.height, stride: q.stride, size: bytes,
      };
      this._regionStaging = staging;
      this._regionBuffer = b;
      this._regionFull = [fullRect(q.width, q.height)];
      this._scanouts++;
      this.console.showScanout(b);
      if (old !== undefined) this.console.release(old);
    } else if (!this._copyRegion(this._regionStaging)) {
      return;
    }
    this.console.setStatus('ok', STATUS_SHOWING);
    this._update(this._regionFull);
  }

  /** The copy the dma-buf path avoids, counted. */
  private _copyRegion(staging: Uint8Array): boolean {
    const n = this._region!.copy(staging);
    if (n < 0) {
      this._fail('device-error', `region read failed: ${errnoName(n)}`, n);
      return false;
    }
    this._bytesCopied += n;
    return true;
  }
}

function sameGeometry(b: DisplayBuffer, q: PlaneQuery): boolean {
  return b.width === q.width && b.height === q.height && b.stride === q.stride && b.drmFormat === q.drmFormat &&
    b.size === q.size;
}

function ignorePage(): void {}
