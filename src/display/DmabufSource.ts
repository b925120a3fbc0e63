import { Errno, errnoName } from '../base/Errno.ts';
import { formatName } from '../kms/Fourcc.ts';
import { modifierName } from '../kms/Modifier.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import {
  VFIO_DEVICE_GET_GFX_DMABUF as VFIO_DEVICE_GET_GFX_DMABUF_,
  VFIO_DEVICE_QUERY_GFX_PLANE as VFIO_DEVICE_QUERY_GFX_PLANE_,
  VFIO_GFX_PLANE_TYPE_DMABUF as VFIO_GFX_PLANE_TYPE_DMABUF_,
} from '../vfio/Abi.ts';
import { PlaneInfoView } from '../vfio/PlaneInfo.ts';
import { PROT_READ, type Sys } from '../vfio/Sys.ts';
import { fullRect, type DisplayBuffer } from './DisplayBuffer.ts';
import type { PageResolver } from './DirtySource.ts';
import type { DisplayCounters } from './DisplayStats.ts';
import { DmabufCache, type CacheEntry } from './DmabufCache.ts';
import {
  captureQueryOutcome, isTransient, type CacheEntryInfo, type Capture, type FrameSink, type FrameSource, type PlaneReply,
  type RefreshResult,
} from './FrameSource.ts';
// Imports bound once at load: the tsx runtime reads an imported binding through a getter,
// and these sit on the per-refresh QUERY path.
const VFIO_DEVICE_GET_GFX_DMABUF = VFIO_DEVICE_GET_GFX_DMABUF_;
const VFIO_DEVICE_QUERY_GFX_PLANE = VFIO_DEVICE_QUERY_GFX_PLANE_;
const VFIO_GFX_PLANE_TYPE_DMABUF = VFIO_GFX_PLANE_TYPE_DMABUF_;

const HOT_UNKNOWN = 0xffffffff;
export const STATUS_SHOWING = 'showing the primary plane';

export interface DmabufSourceOptions {
  /** Cache entries (primary and cursor buffers together), >= 2. */
  readonly cacheSize: number;
  /** Track the cursor plane. */
  readonly cursor: boolean;
  /** Formats the renderer can show. */
  readonly supports: (drmFormat: number, modifier: bigint) => boolean;
  readonly pageResolver: PageResolver | undefined;
}

/** Why a buffer could not be had (allocated on failures only). */
class AcquireFailure {
  public constructor(
    public readonly reason: 'retry' | 'unsupported' | 'error',
    public readonly errno: number,
    public readonly message: string,
  ) {}
}

/**
 * The dma-buf path (QEMU's vfio_display_dmabuf_*): QUERY_GFX_PLANE with the DMABUF flag for the
 * primary and the cursor plane, a known `dmabuf_id` answered from the cache (no GET, no new fd),
 * a new one exported with GET_GFX_DMABUF and mapped once. Zero copy: the renderer reads the
 * guest's pages through the mapping. The primary and the cursor share one cache, as in QEMU.
 */
export class DmabufSource implements FrameSource {
  public readonly mode = 'dmabuf';
  public readonly delivery = 'pull';
  public readonly events = true;

  private readonly _cache: DmabufCache;
  // Reused per refresh: the QUERY argument of each plane, of one-shot captures, and the GET argument.
  private readonly _qPrimary = new PlaneInfoView();
  private readonly _qCursor = new PlaneInfoView();
  private readonly _qOnce = new PlaneInfoView();
  private _rPrimary = 0;
  private _rCursor = 0;
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

  public constructor(
    private readonly _sys: Sys,
    private readonly _fd: number,
    private readonly _sink: FrameSink,
    private readonly _n: DisplayCounters,
    private readonly _o: DmabufSourceOptions,
  ) {
    this._cache = new DmabufCache(_o.cacheSize);
  }

  public get cacheSize(): number {
    return this._cache.size;
  }

  public refresh(): RefreshResult {
    const q = this._qPrimary;
    const r = this._rPrimary = this._query(q, PlaneType.PRIMARY);
    if (isTransient(r)) {
      this._sink.retry();
      return 'retry';
    }
    let result: RefreshResult = 'off';
    if (r < 0) {
      this._primaryOn = false;
      this._n.errors++;
      this._sink.status('device-error', `QUERY_GFX_PLANE(primary) failed: ${errnoName(r)}`, r);
    } else if (q.disabled) {
      this._primaryOn = false;
      this._sink.status('plane-disabled', 'the guest disabled the primary plane (last frame kept)');
    } else {
      result = this._showPrimary(q);
      if (result === 'retry') return result;
    }
    if (this._o.cursor) this._refreshCursor();
    this._evict();
    return result;
  }

  public capture(planeType: number): Capture {
    const q = this._qOnce;
    const ended = captureQueryOutcome(this._query(q, planeType), q);
    if (ended !== undefined) return ended;
    const e = this._acquire(q, planeType, false);
    if (e instanceof AcquireFailure) {
      return { kind: e.reason === 'retry' ? 'retry' : 'error', errno: e.errno, message: e.message };
    }
    this._evict();
    return { kind: 'frame', plane: q.read(), buffer: e.buffer };
  }

  public planeReply(planeType: number): PlaneReply {
    const cursor = planeType === PlaneType.CURSOR;
    const r = cursor ? this._rCursor : this._rPrimary;
    return { ...(cursor ? this._qCursor : this._qPrimary).read(), result: r < 0 ? r : 0 };
  }

  public cacheEntries(): CacheEntryInfo[] {
    return this._cache.entries().map((e) => ({
      id: e.id, fd: e.buffer.fd, planeType: e.buffer.planeType, drmFormat: e.buffer.drmFormat,
      modifier: e.buffer.modifier, width: e.buffer.width, height: e.buffer.height,
      stride: e.buffer.stride, size: e.buffer.size, hits: e.hits,
      shown: e === this._primary ? 'primary' : e === this._cursor ? 'cursor' : 'none',
    }));
  }

  public dispose(): void {
    const shown = [this._primary, this._cursor];
    this._primary = this._cursor = undefined;
    const all = this._cache.clear();
    // A shown buffer dropped from the cache (its id changed meaning) is still ours to release.
    for (const e of shown) if (e !== undefined && !all.includes(e)) all.push(e);
    for (const e of new Set(all)) this._release(e);
  }

  private _query(q: PlaneInfoView, planeType: number): number {
    this._n.queries++;
    const r = this._sys.ioctl(this._fd, VFIO_DEVICE_QUERY_GFX_PLANE, q.request(VFIO_GFX_PLANE_TYPE_DMABUF, planeType));
    if (r < 0) q.clearOutputs();
    return r;
  }

  private _showPrimary(q: PlaneInfoView): RefreshResult {
    const e = this._acquire(q, PlaneType.PRIMARY, true);
    if (e instanceof AcquireFailure) {
      if (e.reason === 'retry') {
        this._sink.retry();
        return 'retry';
      }
      this._primaryOn = false;
      if (e.reason === 'unsupported') {
        this._sink.status('unsupported-format', e.message);
      } else {
        this._n.errors++;
        this._sink.status('device-error', e.message, e.errno);
        // Out of fds is this process's state, not the device's: an idle guest sends no more
        // events, so without a retry the display would stay on the error after fds are freed.
        if (e.errno === -Errno.EMFILE) this._sink.retry();
      }
      return 'off';
    }
    let result: RefreshResult = 'unchanged';
    if (e !== this._primary || !this._primaryOn) {
      const old = this._primary;
      this._primary = e;
      this._primaryOn = true;
      this._sink.scanout(e);
      result = 'scanout';
      // A buffer we dropped from the cache while it was shown goes now.
      if (old !== undefined && old !== this._cursor && this._cache.peek(old.id) !== old) this._release(old);
    }
    this._sink.status('ok', STATUS_SHOWING);
    return result;
  }

  /**
   * The cache entry for the buffer `q` names: a hit (no GET, no new fd), or GET + mmap of an id
   * never seen or whose layout changed under the same id. `check`: refuse what the renderer
   * cannot show (a capture takes any buffer the device exports).
   */
  private _acquire(q: PlaneInfoView, planeType: number, check: boolean): CacheEntry | AcquireFailure {
    let e = this._cache.lookup(q.dmabufId);
    if (e !== undefined && !sameGeometry(e.buffer, q)) {
      // The same id now describes another layout: drop ours (after it stops being shown).
      this._cache.remove(e.id);
      if (e !== this._primary && e !== this._cursor) this._release(e);
      e = undefined;
    }
    if (e === undefined) return this._fetch(q, planeType, check);
    this._n.cacheHits++;
    const b = e.buffer;
    // A buffer a capture cached without asking the renderer.
    if (check && e !== this._primary && e !== this._cursor && !this._o.supports(b.drmFormat, b.modifier)) {
      return unsupported(b.drmFormat, b.modifier);
    }
    return e;
  }

  /** GET + mmap for the plane in `q`, inserted in the cache. */
  private _fetch(q: PlaneInfoView, planeType: number, check: boolean): CacheEntry | AcquireFailure {
    const id = q.dmabufId;
    const modifier = q.drmFormatMod;
    if (check && !this._o.supports(q.drmFormat, modifier)) return unsupported(q.drmFormat, modifier);
    this._n.cacheMisses++;
    this._getView.setUint32(0, id, true);
    this._n.gets++;
    const fd = this._sys.ioctl(this._fd, VFIO_DEVICE_GET_GFX_DMABUF, this._getArg);
    if (fd < 0) {
      return new AcquireFailure(isTransient(fd) ? 'retry' : 'error', fd, `GET_GFX_DMABUF(${id}) failed: ${errnoName(fd)}`);
    }
    this._n.fdsOpened++;
    const size = q.size;
    const mapping = this._sys.mmap(fd, 0, size, PROT_READ);
    if (typeof mapping === 'number') {
      this._sys.close(fd);
      this._n.fdsClosed++;
      // Stock mbochs exports its dma-bufs O_RDONLY, and a read-only dma-buf cannot be mapped.
      const hint = mapping === -Errno.EINVAL ? ' (a read-only dma-buf? stock mbochs exports them O_RDONLY)' : '';
      return new AcquireFailure('error', mapping, `mmap of dma-buf ${id} failed: ${errnoName(mapping)}${hint}`);
    }
    const width = q.width;
    const height = q.height;
    const buffer: DisplayBuffer = {
      id, fd, kind: 'dmabuf', planeType, mapping, drmFormat: q.drmFormat, modifier, width, height,
      stride: q.stride, size,
    };
    const entry: CacheEntry = { id, buffer, full: [fullRect(width, height)], pages: this._o.pageResolver?.(fd), hits: 0 };
    this._cache.insert(entry);
    return entry;
  }

  private _refreshCursor(): void {
    const q = this._qCursor;
    const r = this._rCursor = this._query(q, PlaneType.CURSOR);
    if (isTransient(r)) {
      this._sink.retry();
      return;
    }
    if (r < 0) this._n.errors++;
    if (r < 0 || q.disabled) {
      this._hideCursor();
      return;
    }
    const e = this._acquire(q, PlaneType.CURSOR, true);
    if (e instanceof AcquireFailure) {
      if (e.reason === 'retry') {
        this._sink.retry();
        return;
      }
      if (e.reason === 'error') {
        this._n.errors++;
        if (e.errno === -Errno.EMFILE) this._sink.retry();
      }
      this._hideCursor();
      return;
    }
    const hx = q.xHot;
    const hy = q.yHot;
    const isNew = e !== this._cursor;
    if (isNew || hx !== this._hotX || hy !== this._hotY) {
      const old = this._cursor;
      this._cursor = e;
      this._hotX = hx;
      this._hotY = hy;
      this._sink.defineCursor({
        buffer: e.buffer, hotX: hx, hotY: hy, hotKnown: hx !== HOT_UNKNOWN && hy !== HOT_UNKNOWN,
      });
      if (old !== undefined && old !== this._primary && this._cache.peek(old.id) !== old) this._release(old);
    }
    // The ABI's u32 positions are signed: a cursor may hang off the top/left edge.
    const x = q.xPos | 0;
    const y = q.yPos | 0;
    if (isNew || x !== this._posX || y !== this._posY) {
      this._posX = x;
      this._posY = y;
      this._sink.moveCursor(x, y);
    }
  }

  private _hideCursor(): void {
    if (this._cursor === undefined) return;
    const old = this._cursor;
    this._cursor = undefined;
    this._sink.defineCursor({ buffer: null, hotX: 0, hotY: 0, hotKnown: false });
    if (old !== this._primary && this._cache.peek(old.id) !== old) this._release(old);
  }

  private readonly _isShown = (e: CacheEntry): boolean => e === this._primary || e === this._cursor;

  private _evict(): void {
    if (this._cache.size <= this._cache.capacity) return; // the common case: nothing to allocate
    const gone = this._cache.evict(this._isShown);
    for (const e of gone) {
      this._n.evictions++;
      this._release(e);
    }
  }

  /** Close the fd first, then tell the renderer to drop its texture (QEMU's order), then unmap. */
  private _release(e: CacheEntry): void {
    const b = e.buffer;
    this._sys.close(b.fd);
    this._n.fdsClosed++;
    this._sink.release(b);
    b.mapping.unmap();
  }
}

function unsupported(drmFormat: number, modifier: bigint): AcquireFailure {
  return new AcquireFailure('unsupported', 0,
    `cannot show ${formatName(drmFormat)} with modifier ${modifierName(modifier)} (last frame kept)`);
}

function sameGeometry(b: DisplayBuffer, q: PlaneInfoView): boolean {
  return b.width === q.width && b.height === q.height && b.stride === q.stride && b.drmFormat === q.drmFormat &&
    b.size === q.size;
}
