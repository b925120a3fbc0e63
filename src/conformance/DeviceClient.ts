import { Errno } from '../base/Errno.ts';
import {
  VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS, VFIO_REGION_INFO_FLAG_CAPS,
} from '../vfio/Abi.ts';
import { encodeDeviceInfoRequest, readDeviceInfo, type DeviceInfo } from '../vfio/DeviceInfo.ts';
import { encodeIrqInfoRequest, encodeIrqSet, readIrqInfo, type IrqInfo, type IrqSetRequest } from '../vfio/IrqInfo.ts';
import { encodePlaneInfoRequest, readPlaneInfo, type PlaneInfo } from '../vfio/PlaneInfo.ts';
import {
  encodeRegionInfoRequest, findRegionType, readRegionInfo, REGION_INFO_SIZE, type RegionInfo,
} from '../vfio/RegionInfo.ts';
import type { Mapping, Sys } from '../vfio/Sys.ts';

/** A region as GET_REGION_INFO described it (offsets as numbers: they stay below 2^53). */
export interface RegionDesc {
  readonly index: number;
  readonly flags: number;
  readonly size: number;
  /** fd offset of the region: always read from the kernel, never assumed. */
  readonly offset: number;
  /** VFIO_REGION_INFO_CAP_TYPE, when the region has one. */
  readonly capType?: { readonly type: number; readonly subtype: number };
  /** argsz the kernel asked for (32 without capabilities). */
  readonly argsz: number;
}

export interface QueryResult {
  readonly rc: number;
  readonly info: PlaneInfo;
  /** The 64-byte argument as the kernel left it. */
  readonly bytes: Uint8Array;
}

/**
 * The client side of a VFIO display device, over nothing but a Sys and a device fd: the same
 * calls a VMM makes. Every method answers like the syscalls (a value or -errno); nothing throws.
 */
export class DeviceClient {
  private readonly _regions = new Map<number, RegionDesc | number>();

  public constructor(public readonly sys: Sys, public fd: number) {}

  public ioctl(request: number, arg: Uint8Array): number {
    return this.sys.ioctl(this.fd, request, arg);
  }

  public getInfo(argsz = 24): { rc: number; info: DeviceInfo; bytes: Uint8Array } {
    const bytes = encodeDeviceInfoRequest(argsz);
    const rc = this.ioctl(VFIO_DEVICE_GET_INFO, bytes);
    return { rc, info: readDeviceInfo(bytes), bytes };
  }

  /** One raw GET_REGION_INFO call with the given argsz (the buffer holds max(argsz, 32) bytes). */
  public regionInfoRaw(index: number, argsz = REGION_INFO_SIZE): { rc: number; info: RegionInfo; bytes: Uint8Array } {
    const bytes = encodeRegionInfoRequest(index, argsz);
    const rc = this.ioctl(VFIO_DEVICE_GET_REGION_INFO, bytes);
    return { rc, info: readRegionInfo(bytes), bytes };
  }

  /**
   * A region, the way a careful VMM asks: argsz 32 first, and again with the argsz the kernel
   * reports when it has capabilities (mbochs refuses an argsz larger than its own struct).
   * Cached; -errno when the kernel refuses the index.
   */
  public region(index: number): RegionDesc | number {
    const cached = this._regions.get(index);
    if (cached !== undefined) return cached;
    let r = this.regionInfoRaw(index);
    if (r.rc >= 0 && (r.info.flags & VFIO_REGION_INFO_FLAG_CAPS) !== 0 && r.info.argsz > REGION_INFO_SIZE) {
      r = this.regionInfoRaw(index, r.info.argsz);
    }
    const desc: RegionDesc | number = r.rc < 0 ? r.rc : {
      index, flags: r.info.flags, size: Number(r.info.size), offset: Number(r.info.offset),
      capType: findRegionType(r.bytes), argsz: r.info.argsz,
    };
    this._regions.set(index, desc);
    return desc;
  }

  public irqInfo(index: number, argsz = 16): { rc: number; info: IrqInfo } {
    const bytes = encodeIrqInfoRequest(index);
    new DataView(bytes.buffer).setUint32(0, argsz, true);
    const rc = this.ioctl(VFIO_DEVICE_GET_IRQ_INFO, bytes);
    return { rc, info: readIrqInfo(bytes) };
  }

  public setIrqs(req: IrqSetRequest): number {
    return this.ioctl(VFIO_DEVICE_SET_IRQS, encodeIrqSet(req));
  }

  public reset(): number {
    return this.ioctl(VFIO_DEVICE_RESET, new Uint8Array(0));
  }

  /**
   * QUERY_GFX_PLANE with a 64-byte buffer. `fill` pre-fills the output bytes 12..63 (a sentinel
   * shows which bytes the kernel wrote); `argsz` defaults to 64.
   */
  public query(flags: number, planeType: number, opts: { argsz?: number; fill?: number } = {}): QueryResult {
    const bytes = encodePlaneInfoRequest({ argsz: opts.argsz ?? 64, flags, planeType });
    if (opts.fill !== undefined) bytes.fill(opts.fill, 12);
    const rc = this.ioctl(VFIO_DEVICE_QUERY_GFX_PLANE, bytes);
    return { rc, info: readPlaneInfo(bytes), bytes };
  }

  /** GET_GFX_DMABUF: a new fd, or -errno. */
  public getDmabuf(id: number): number {
    const arg = new Uint8Array(4);
    new DataView(arg.buffer).setUint32(0, id >>> 0, true);
    return this.ioctl(VFIO_DEVICE_GET_GFX_DMABUF, arg);
  }

  // ---- region access --------------------------------------------------------------------------

  /** pread of `len` bytes at `off` inside region `index`: the bytes, or -errno. */
  public read(index: number, off: number, len: number): Uint8Array | number {
    const r = this.region(index);
    if (typeof r === 'number') return r;
    const buf = new Uint8Array(len);
    const n = this.sys.pread(this.fd, buf, r.offset + off);
    if (n < 0) return n;
    return n === len ? buf : -Errno.EIO;
  }

  /** pwrite of `data` at `off` inside region `index`: 0, or -errno (a short write is -EIO). */
  public write(index: number, off: number, data: Uint8Array): number {
    const r = this.region(index);
    if (typeof r === 'number') return r;
    const n = this.sys.pwrite(this.fd, data, r.offset + off);
    if (n < 0) return n;
    return n === data.byteLength ? 0 : -Errno.EIO;
  }

  public read16(index: number, off: number): number {
    const b = this.read(index, off, 2);
    return typeof b === 'number' ? b : new DataView(b.buffer).getUint16(0, true);
  }

  public write16(index: number, off: number, value: number): number {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, value & 0xffff, true);
    return this.write(index, off, b);
  }

  /** A u32 read (>= 0), or -errno. */
  public read32(index: number, off: number): number {
    const b = this.read(index, off, 4);
    return typeof b === 'number' ? b : new DataView(b.buffer).getUint32(0, true);
  }

  public write32(index: number, off: number, value: number): number {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.write(index, off, b);
  }

  public read64(index: number, off: number): bigint | number {
    const b = this.read(index, off, 8);
    return typeof b === 'number' ? b : new DataView(b.buffer).getBigUint64(0, true);
  }

  public write64(index: number, off: number, value: bigint): number {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    return this.write(index, off, b);
  }

  /** mmap of [off, off + len) of region `index`. */
  public mapRegion(index: number, off: number, len: number, prot: number): Mapping | number {
    const r = this.region(index);
    if (typeof r === 'number') return r;
    return this.sys.mmap(this.fd, r.offset + off, len, prot);
  }
}
