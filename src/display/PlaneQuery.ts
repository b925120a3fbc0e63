import { VFIO_DEVICE_QUERY_GFX_PLANE } from '../vfio/Abi.ts';
import { PLANE_INFO_SIZE } from '../vfio/PlaneInfo.ts';
import type { Sys } from '../vfio/Sys.ts';

/** A decoded QUERY_GFX_PLANE answer, for inspection (probe, stats). */
export interface PlaneSnapshot {
  readonly planeType: number;
  /** 0 on success, else the -errno QUERY returned (the fields are then all 0). */
  readonly result: number;
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly size: number;
  /** Positions as signed 32-bit (the ABI's u32 read as two's complement). */
  readonly xPos: number;
  readonly yPos: number;
  /** u32; 0xFFFFFFFF = unknown. */
  readonly xHot: number;
  readonly yHot: number;
  /** dmabuf_id (DMABUF queries) or region_index (REGION queries). */
  readonly id: number;
}

/**
 * One reusable `struct vfio_device_gfx_plane_info` buffer (64 bytes) and typed reads of it, so a
 * refresh allocates nothing for its queries. Offsets are the ABI's (vfio/PlaneInfo.ts layout).
 */
export class PlaneQuery {
  public readonly bytes = new Uint8Array(PLANE_INFO_SIZE);
  private readonly _v = new DataView(this.bytes.buffer);
  private _planeType = 0;
  private _result = 0;

  /** Issue QUERY_GFX_PLANE; returns the ioctl result. */
  public run(sys: Sys, fd: number, flags: number, planeType: number): number {
    this.bytes.fill(0);
    this._v.setUint32(0, PLANE_INFO_SIZE, true);
    this._v.setUint32(4, flags, true);
    this._v.setUint32(8, planeType, true);
    this._planeType = planeType;
    const r = sys.ioctl(fd, VFIO_DEVICE_QUERY_GFX_PLANE, this.bytes);
    this._result = r;
    if (r < 0) this.bytes.fill(0, 12);
    return r;
  }

  public get drmFormat(): number { return this._v.getUint32(12, true); }
  /** Allocates a BigInt: read it on cache misses only. */
  public get modifier(): bigint { return this._v.getBigUint64(16, true); }
  public get width(): number { return this._v.getUint32(24, true); }
  public get height(): number { return this._v.getUint32(28, true); }
  public get stride(): number { return this._v.getUint32(32, true); }
  public get size(): number { return this._v.getUint32(36, true); }
  public get xPos(): number { return this._v.getInt32(40, true); }
  public get yPos(): number { return this._v.getInt32(44, true); }
  public get xHot(): number { return this._v.getUint32(48, true); }
  public get yHot(): number { return this._v.getUint32(52, true); }
  public get id(): number { return this._v.getUint32(56, true); }

  /** The UAPI's "plane disabled": success with drm_format or size zero. */
  public get disabled(): boolean {
    return this.drmFormat === 0 || this.size === 0;
  }

  public snapshot(): PlaneSnapshot {
    return {
      planeType: this._planeType, result: this._result < 0 ? this._result : 0,
      drmFormat: this.drmFormat, modifier: this.modifier, width: this.width, height: this.height,
      stride: this.stride, size: this.size, xPos: this.xPos, yPos: this.yPos, xHot: this.xHot,
      yHot: this.yHot, id: this.id,
    };
  }
}
