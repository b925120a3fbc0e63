import type { IDisposable } from '../base/Disposable.ts';
import { Errno } from '../base/Errno.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import type { DecodedPlane, MediatedDevice } from '../vgpu/Plane.ts';
import {
  VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_QUERY_GFX_PLANE as VFIO_DEVICE_QUERY_GFX_PLANE_, VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_DISPLAY_IRQ_COUNT,
  VFIO_PCI_DISPLAY_IRQ_FLAGS, VFIO_PCI_DISPLAY_IRQ_INDEX, VFIO_PCI_NUM_IRQS,
} from './Abi.ts';
import { writeDeviceInfoReply } from './DeviceInfo.ts';
import { DmabufExporter } from './DmabufExporter.ts';
import { EventFd } from './EventFd.ts';
import type { FdTable } from './FdTable.ts';
import { decodeIrqSet, readIrqInfo, writeIrqInfoReply } from './IrqInfo.ts';
import { OpenFile } from './OpenFile.ts';
import {
  PLANE_INFO_MINSZ as PLANE_INFO_MINSZ_, writePlaneInfoOutputs, type PlaneInfoOutputs,
} from './PlaneInfo.ts';
import type { Region } from './Region.ts';
import { readRegionInfo, regionTypeCap, writeRegionInfoReply } from './RegionInfo.ts';
import type { Mapping } from './Sys.ts';
// Imports bound once at load: the tsx runtime reads an imported binding through a getter,
// and these sit on the per-refresh QUERY path.
const VFIO_DEVICE_QUERY_GFX_PLANE = VFIO_DEVICE_QUERY_GFX_PLANE_;
const PLANE_INFO_MINSZ = PLANE_INFO_MINSZ_;

/** The plane outputs of a disabled plane: every field zeroed, explicitly (the UAPI promise). */
export const EMPTY_PLANE: PlaneInfoOutputs = {
  drmFormat: 0, drmFormatMod: 0n, width: 0, height: 0, stride: 0, size: 0,
  xPos: 0, yPos: 0, xHot: 0, yHot: 0, dmabufId: 0,
};

/**
 * A mediated device as VFIO exposes it (the mdev parent driver's side): regions, IRQs, the GFX
 * plane ioctls and the dma-buf cache. One per vGPU; each open() makes a new device file, and the
 * dma-buf cache is torn down on the LAST close only (B14), or when the vGPU is destroyed.
 *
 * Subclasses give the device-specific parts: the regions, and QUERY_GFX_PLANE semantics (flags,
 * plane types and errno differ between GVT-g, mbochs and mdpy: spec §2.8, §4.3, §5).
 */
export abstract class VfioMdev {
  public abstract readonly device: MediatedDevice;
  public abstract readonly regions: readonly Region[];
  /** num_regions reported by GET_INFO. */
  public abstract readonly numRegions: number;
  /** The device-side dma-buf cache; undefined on region-only devices. */
  public abstract readonly exporter: DmabufExporter | undefined;

  /** Open device files (struct file count). */
  public openFiles = 0;
  public destroyed = false;
  /** num_irqs: the vfio-pci IRQ indexes plus our display event IRQ (extension). */
  public readonly numIrqs = VFIO_PCI_NUM_IRQS + 1;
  /** Counters for stats and tests. */
  public readonly stats = { queries: 0, gets: 0, displayIrqs: 0 };

  private _trigger: EventFd | undefined;
  private _eventSub: IDisposable | undefined;

  public constructor(public readonly uuid: string, public readonly typeName: string) {}

  /** open(2) on the device: a new device file, or -ENODEV once the vGPU is destroyed. */
  public open(): OpenFile | number {
    if (this.destroyed) return -Errno.ENODEV;
    if (!this._eventSub) this._eventSub = this.device.onDisplayEvent(() => this._signalDisplay());
    this.openFiles++;
    return new VfioDeviceFile(this);
  }

  /** vGPU destroy (mdev remove): exported dma-bufs become orphans; device fds answer -ENODEV. */
  public destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    // Wake an event-driven VMM: its next QUERY answers -ENODEV, so it can show a status instead
    // of a frame that silently never changes again.
    this._signalDisplay();
    this._teardown();
    this._eventSub?.dispose();
    this._eventSub = undefined;
  }

  // ---- device-specific parts ----------------------------------------------------------------

  /** QUERY_GFX_PLANE after argsz was checked. Writes outputs into `arg` on success. */
  protected abstract _queryPlane(flags: number, planeType: number, arg: Uint8Array): number;

  /** Flags GET_INFO reports. */
  protected get _deviceFlags(): number {
    return VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
  }

  // ---- shared helpers for subclasses --------------------------------------------------------

  /** Export a decoded plane through the dma-buf cache and write the reply. */
  protected _replyDmabuf(plane: DecodedPlane, arg: Uint8Array): number {
    const exporter = this.exporter;
    if (!exporter) return -Errno.EINVAL;
    const id = exporter.query(plane);
    if (id < 0) return id;
    return writePlaneInfoOutputs(arg, {
      drmFormat: plane.drmFormat, drmFormatMod: plane.modifier, width: plane.width,
      height: plane.height, stride: plane.stride, size: plane.size, xPos: plane.xPos,
      yPos: plane.yPos, xHot: plane.xHot, yHot: plane.yHot, dmabufId: id,
    });
  }

  /** Extra check at GET time (mbochs refuses to export a buffer that is not page aligned). */
  protected _canExport(_plane: DecodedPlane): number {
    return 0;
  }

  // ---- ioctl dispatch ------------------------------------------------------------------------

  /** @internal Called by VfioDeviceFile. */
  public _ioctl(request: number, arg: Uint8Array, fds: FdTable): number {
    if (this.destroyed) return -Errno.ENODEV;
    // QUERY first: a VMM issues it twice per refresh.
    switch (request) {
      case VFIO_DEVICE_QUERY_GFX_PLANE: {
        this.stats.queries++;
        // copy_from_user of minsz bytes: a short buffer faults before argsz is even looked at.
        if (arg.byteLength < PLANE_INFO_MINSZ) return -Errno.EFAULT;
        const v = new DataView(arg.buffer, arg.byteOffset, PLANE_INFO_MINSZ);
        if (v.getUint32(0, true) < PLANE_INFO_MINSZ) return -Errno.EINVAL;
        return this._queryPlane(v.getUint32(4, true), v.getUint32(8, true), arg);
      }
      case VFIO_DEVICE_GET_INFO:
        return writeDeviceInfoReply(arg, { flags: this._deviceFlags, numRegions: this.numRegions, numIrqs: this.numIrqs });
      case VFIO_DEVICE_GET_REGION_INFO:
        return this._regionInfo(arg);
      case VFIO_DEVICE_GET_IRQ_INFO:
        return this._irqInfo(arg);
      case VFIO_DEVICE_SET_IRQS:
        return this._setIrqs(arg, fds);
      case VFIO_DEVICE_RESET:
        this.device.reset();
        return 0;
      case VFIO_DEVICE_GET_GFX_DMABUF:
        return this._getDmabuf(arg, fds);
      default:
        return -Errno.ENOTTY;
    }
  }

  private _getDmabuf(arg: Uint8Array, fds: FdTable): number {
    const exporter = this.exporter;
    if (!exporter) return -Errno.ENOTTY;
    if (arg.byteLength < 4) return -Errno.EFAULT; // get_user(u32)
    this.stats.gets++;
    const id = new DataView(arg.buffer, arg.byteOffset, 4).getUint32(0, true);
    const file = exporter.prepareExport(id);
    if (typeof file === 'number') return file;
    const ok = this._canExport(file.object.plane);
    if (ok < 0) return ok;
    // Publish the fd last (B15); on EMFILE nothing was counted, so nothing leaks (B7).
    const fd = fds.install(file, true);
    if (fd < 0) return fd;
    exporter.commit(file);
    return fd;
  }

  private _regionInfo(arg: Uint8Array): number {
    if (arg.byteLength < 16) return -Errno.EFAULT;
    const info = readRegionInfo(arg);
    const r = this.regions.find((x) => x.index === info.index);
    if (!r) return -Errno.EINVAL;
    const caps = r.capType ? [regionTypeCap(r.capType.type, r.capType.subtype)] : [];
    return writeRegionInfoReply(arg, { flags: r.flags, size: r.size, offset: r.offset }, caps);
  }

  private _irqCount(index: number): number {
    return index === VFIO_PCI_DISPLAY_IRQ_INDEX ? VFIO_PCI_DISPLAY_IRQ_COUNT : 0;
  }

  private _irqInfo(arg: Uint8Array): number {
    if (arg.byteLength < 16) return -Errno.EFAULT;
    const info = readIrqInfo(arg);
    if (info.argsz < 16) return -Errno.EINVAL;
    if (info.index >= this.numIrqs) return -Errno.EINVAL;
    const display = info.index === VFIO_PCI_DISPLAY_IRQ_INDEX;
    return writeIrqInfoReply(arg, { flags: display ? VFIO_PCI_DISPLAY_IRQ_FLAGS : 0, count: this._irqCount(info.index) });
  }

  private _setIrqs(arg: Uint8Array, fds: FdTable): number {
    const set = decodeIrqSet(arg, this.numIrqs, (i) => this._irqCount(i));
    if (typeof set === 'number') return set;
    if (set.index !== VFIO_PCI_DISPLAY_IRQ_INDEX || set.action !== VFIO_IRQ_SET_ACTION_TRIGGER) return -Errno.EINVAL;
    if (set.dataType === VFIO_IRQ_SET_DATA_NONE) {
      // count 0 with DATA_NONE disables the trigger; count 1 fires it once (loopback test).
      if (set.count === 0) this._trigger = undefined;
      else this._trigger?.signal();
      return 0;
    }
    if (set.dataType === VFIO_IRQ_SET_DATA_BOOL) {
      if (set.bools[0]) this._trigger?.signal();
      return 0;
    }
    if (set.dataType === VFIO_IRQ_SET_DATA_EVENTFD) {
      const efd = set.eventfds[0];
      if (efd === undefined || efd === -1) { this._trigger = undefined; return 0; }
      const file = fds.get(efd);
      if (!file) return -Errno.EBADF;
      if (!(file instanceof EventFd)) return -Errno.EINVAL;
      // Like eventfd_ctx_fdget: the binding holds the eventfd itself, not the fd number.
      this._trigger = file;
      return 0;
    }
    return -Errno.EINVAL;
  }

  private _signalDisplay(): void {
    if (!this._trigger) return;
    this.stats.displayIrqs++;
    this._trigger.signal();
  }

  // ---- regions -------------------------------------------------------------------------------

  private _findRegion(offset: number, length: number): Region | undefined {
    for (const r of this.regions) {
      if (offset >= r.offset && offset < r.offset + r.size) {
        return offset + length <= r.offset + r.size ? r : undefined;
      }
    }
    return undefined;
  }

  /** @internal */
  public _pread(buf: Uint8Array, offset: number): number {
    if (this.destroyed) return -Errno.ENODEV;
    const r = this._findRegion(offset, buf.byteLength);
    if (!r || (r.flags & 1) === 0) return -Errno.EINVAL;
    return r.read(offset - r.offset, buf);
  }

  /** @internal */
  public _pwrite(buf: Uint8Array, offset: number): number {
    if (this.destroyed) return -Errno.ENODEV;
    const r = this._findRegion(offset, buf.byteLength);
    if (!r || (r.flags & 2) === 0) return -Errno.EINVAL;
    return r.write(offset - r.offset, buf);
  }

  /** @internal */
  public _mmap(offset: number, length: number, prot: number): Mapping | number {
    if (this.destroyed) return -Errno.ENODEV;
    if (offset % PAGE_SIZE !== 0) return -Errno.EINVAL;
    const r = this._findRegion(offset, length);
    if (!r || !r.map || (r.flags & 4) === 0) return -Errno.EINVAL;
    if ((prot & 2) !== 0 && (r.flags & 2) === 0) return -Errno.EACCES;
    return r.map(offset - r.offset, length);
  }

  /** @internal Last close of a device file. */
  public _closeOne(): void {
    this.openFiles--;
    if (this.openFiles === 0 && !this.destroyed) this._teardown();
  }

  private _teardown(): void {
    this.exporter?.cleanup();
    this._trigger = undefined;
  }
}

/** The `struct file` of an open VFIO device. */
export class VfioDeviceFile extends OpenFile {
  public readonly kind = 'vfio-device';
  private _released = false;

  public constructor(public readonly mdev: VfioMdev) {
    super();
  }

  public override ioctl(request: number, arg: Uint8Array, fds: FdTable): number {
    return this.mdev._ioctl(request, arg, fds);
  }
  public override pread(buf: Uint8Array, offset: number): number {
    return this.mdev._pread(buf, offset);
  }
  public override pwrite(buf: Uint8Array, offset: number): number {
    return this.mdev._pwrite(buf, offset);
  }
  public override mmap(offset: number, length: number, prot: number): Mapping | number {
    return this.mdev._mmap(offset, length, prot);
  }
  public override release(): void {
    if (this._released) return;
    this._released = true;
    this.mdev._closeOne();
  }
}
