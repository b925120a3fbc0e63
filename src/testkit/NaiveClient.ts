import type { IDisposable } from '../base/Disposable.ts';
import type { Clock } from '../base/Clock.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_GFX_PLANE_TYPE_DMABUF } from '../vfio/Abi.ts';
import { PlaneInfoView } from '../vfio/PlaneInfo.ts';
import { PROT_READ, type Sys } from '../vfio/Sys.ts';

/**
 * The baseline the cache is measured against: a client with no dma-buf cache (kmsgrab style).
 * Every refresh queries both planes, GETs a new fd for the primary, maps it, and closes the
 * previous one. Correct, but it pays a GET, an mmap and a close per refresh.
 */
export class NaiveClient implements IDisposable {
  public refreshes = 0;
  public queries = 0;
  public gets = 0;
  public fdsOpened = 0;
  public readonly bytesCopied = 0;
  private readonly _q = new PlaneInfoView();
  private readonly _qc = new PlaneInfoView();
  private readonly _arg = new Uint8Array(4);
  private readonly _view = new DataView(this._arg.buffer);
  private _fd = -1;
  private _timer: IDisposable | undefined;

  public constructor(private readonly _sys: Sys, private readonly _dev: number) {}

  public start(clock: Clock, intervalMs: number): void {
    this._timer = clock.setInterval(() => this.refresh(), intervalMs);
  }

  public refresh(): void {
    this.refreshes++;
    this.queries += 2;
    const r = this._query(this._q, PlaneType.PRIMARY);
    this._query(this._qc, PlaneType.CURSOR);
    if (r < 0 || this._q.disabled) return;
    this._view.setUint32(0, this._q.dmabufId, true);
    this.gets++;
    const fd = this._sys.ioctl(this._dev, VFIO_DEVICE_GET_GFX_DMABUF, this._arg);
    if (fd < 0) return;
    this.fdsOpened++;
    const m = this._sys.mmap(fd, 0, this._q.size, PROT_READ);
    if (typeof m !== 'number') m.unmap();
    if (this._fd >= 0) this._sys.close(this._fd);
    this._fd = fd;
  }

  private _query(q: PlaneInfoView, planeType: number): number {
    return this._sys.ioctl(this._dev, VFIO_DEVICE_QUERY_GFX_PLANE, q.request(VFIO_GFX_PLANE_TYPE_DMABUF, planeType));
  }

  public dispose(): void {
    this._timer?.dispose();
    if (this._fd >= 0) this._sys.close(this._fd);
    this._fd = -1;
  }
}
