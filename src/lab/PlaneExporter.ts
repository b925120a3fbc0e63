import type { IDisposable } from '../base/Disposable.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { VFIO_GFX_PLANE_TYPE_DMABUF } from '../vfio/Abi.ts';
import type { PlaneInfo } from '../vfio/PlaneInfo.ts';
import { PROT_READ, type Mapping, type Sys } from '../vfio/Sys.ts';
import { getDmabuf, query } from '../vfio/GfxIoctl.ts';

/** A plane as the VMM holds it: the QUERY reply and a read-only mapping of its dma-buf. */
export interface ExportedPlane {
  readonly info: PlaneInfo;
  readonly id: number;
  /** The dma-buf fd (owned by the exporter's cache; do not close). */
  readonly fd: number;
  readonly mapping: Mapping;
}

interface Entry {
  readonly fd: number;
  readonly mapping: Mapping;
  used: number;
}

/**
 * The VMM side of the display ABI for one device fd, as the seed mail describes it: QUERY the
 * plane; a `dmabuf_id` seen before reuses the dma-buf already held; a new one is exported with
 * GET_GFX_DMABUF and mapped once. Holding the dma-buf open is also what keeps a GVT id stable (the
 * device frees an object once its last dma-buf is closed). Bounded: the least recently used
 * dma-bufs are closed beyond `capacity`.
 */
export class PlaneExporter implements IDisposable {
  /** GET_GFX_DMABUF calls made (a cache hit makes none). */
  public gets = 0;
  public queries = 0;
  private readonly _cache = new Map<number, Entry>();
  private _tick = 0;

  public constructor(
    private readonly _sys: Sys, private readonly _fd: number, private readonly _capacity = 8,
  ) {}

  /** QUERY_GFX_PLANE for a DRM plane type: rc and the decoded reply. */
  public query(planeType: number): { rc: number; info: PlaneInfo } {
    this.queries++;
    const { rc, info } = query(this._sys, this._fd, VFIO_GFX_PLANE_TYPE_DMABUF, planeType);
    return { rc, info };
  }

  /**
   * The plane of `planeType` with a mapping of its buffer: null when the plane is disabled
   * (QUERY succeeds with no format), -errno when QUERY, GET or mmap fails.
   */
  public acquire(planeType: number): ExportedPlane | null | number {
    const { rc, info } = this.query(planeType);
    if (rc < 0) return rc;
    if (info.drmFormat === 0 || info.size === 0 || info.dmabufId === 0) return null;
    const id = info.dmabufId;
    let e = this._cache.get(id);
    if (!e) {
      this.gets++;
      const fd = getDmabuf(this._sys, this._fd, id);
      if (fd < 0) return fd;
      const length = Math.ceil(info.size / PAGE_SIZE) * PAGE_SIZE;
      const mapping = this._sys.mmap(fd, 0, length, PROT_READ);
      if (typeof mapping === 'number') {
        this._sys.close(fd);
        return mapping;
      }
      e = { fd, mapping, used: ++this._tick };
      this._cache.set(id, e);
      this._evict();
    }
    e.used = ++this._tick;
    return { info, id, fd: e.fd, mapping: e.mapping };
  }

  /** dma-buf ids held now. */
  public get held(): number[] {
    return [...this._cache.keys()];
  }

  public dispose(): void {
    for (const e of this._cache.values()) {
      e.mapping.unmap();
      this._sys.close(e.fd);
    }
    this._cache.clear();
  }

  private _evict(): void {
    while (this._cache.size > this._capacity) {
      let oldest: [number, Entry] | undefined;
      for (const kv of this._cache) if (!oldest || kv[1].used < oldest[1].used) oldest = kv;
      if (!oldest) return;
      oldest[1].mapping.unmap();
      this._sys.close(oldest[1].fd);
      this._cache.delete(oldest[0]);
    }
  }
}
