import { Errno } from '../base/Errno.ts';
import { defineLayout, readLayout, writeLayout } from './StructLayout.ts';
import type { Values } from './StructLayout.ts';

/**
 * struct vfio_device_gfx_plane_info (VFIO_DEVICE_QUERY_GFX_PLANE), 64 bytes, little-endian.
 * `reserved` was added in v6.7-era headers; before that the same 4 bytes were tail padding on
 * x86-64 (sizeof 64) and absent on i386 (sizeof 60). Every driver copies in and back exactly
 * PLANE_INFO_MINSZ = offsetofend(dmabuf_id) = 60 bytes and rejects argsz < 60.
 */
export const PLANE_INFO_SIZE = 64;
export const PLANE_INFO_MINSZ = 60;

export const PLANE_INFO_LAYOUT = defineLayout('struct vfio_device_gfx_plane_info', PLANE_INFO_SIZE, {
  argsz: { offset: 0, type: 'u32', c: 'argsz' }, // in
  flags: { offset: 4, type: 'u32', c: 'flags' }, // in: VFIO_GFX_PLANE_TYPE_*
  drmPlaneType: { offset: 8, type: 'u32', c: 'drm_plane_type' }, // in: DRM_PLANE_TYPE_*
  drmFormat: { offset: 12, type: 'u32', c: 'drm_format' }, // out: fourcc, 0 = none
  drmFormatMod: { offset: 16, type: 'u64', c: 'drm_format_mod' }, // out
  width: { offset: 24, type: 'u32', c: 'width' },
  height: { offset: 28, type: 'u32', c: 'height' },
  stride: { offset: 32, type: 'u32', c: 'stride' },
  size: { offset: 36, type: 'u32', c: 'size' },
  xPos: { offset: 40, type: 'u32', c: 'x_pos' },
  yPos: { offset: 44, type: 'u32', c: 'y_pos' },
  xHot: { offset: 48, type: 'u32', c: 'x_hot' }, // 0xFFFFFFFF = no hotspot
  yHot: { offset: 52, type: 'u32', c: 'y_hot' },
  dmabufId: { offset: 56, type: 'u32', c: 'dmabuf_id' }, // union with region_index
  regionIndex: { offset: 56, type: 'u32', c: 'region_index', alias: true },
  reserved: { offset: 60, type: 'u32', c: 'reserved', optional: true }, // never written
});

export type PlaneInfo = Values<typeof PLANE_INFO_LAYOUT.fields>;

/** What a driver fills in: bytes 12..59. `regionIndex` and `dmabufId` share bytes 56..59. */
export interface PlaneInfoOutputs {
  readonly drmFormat: number;
  readonly drmFormatMod: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly size: number;
  readonly xPos: number;
  readonly yPos: number;
  readonly xHot: number;
  readonly yHot: number;
  /** DMABUF queries. Ignored when `regionIndex` is given. */
  readonly dmabufId?: number;
  /** REGION queries. */
  readonly regionIndex?: number;
}

export interface PlaneInfoRequest {
  /** Defaults to PLANE_INFO_SIZE. */
  readonly argsz?: number;
  readonly flags: number;
  readonly planeType: number;
}

/** Decode; fields beyond a short buffer (a 60-byte i386 caller) read as 0. */
export function readPlaneInfo(bytes: Uint8Array): PlaneInfo {
  return readLayout(PLANE_INFO_LAYOUT, bytes);
}

const F = PLANE_INFO_LAYOUT.fields;
// The layout's offsets as plain numbers: the getters below run on every refresh.
const AT_ARGSZ = F.argsz.offset;
const AT_FLAGS = F.flags.offset;
const AT_DRM_PLANE_TYPE = F.drmPlaneType.offset;
const AT_DRM_FORMAT = F.drmFormat.offset;
const AT_DRM_FORMAT_MOD = F.drmFormatMod.offset;
const AT_WIDTH = F.width.offset;
const AT_HEIGHT = F.height.offset;
const AT_STRIDE = F.stride.offset;
const AT_SIZE = F.size.offset;
const AT_X_POS = F.xPos.offset;
const AT_Y_POS = F.yPos.offset;
const AT_X_HOT = F.xHot.offset;
const AT_Y_HOT = F.yHot.offset;
const AT_DMABUF_ID = F.dmabufId.offset;
const AT_REGION_INDEX = F.regionIndex.offset;

/**
 * Kernel side of a successful QUERY: write the OUTPUT fields (bytes 12..59). argsz, flags and
 * drm_plane_type are left as the caller wrote them (the kernel echoes back what it copied in), and
 * bytes 60..63 are never touched, since drivers copy back exactly 60 bytes.
 * Returns 0, or -EFAULT when the buffer is shorter than PLANE_INFO_MINSZ.
 *
 * Plain stores at the layout's offsets (the same bytes `writeLayout` would write): a VMM queries
 * twice per refresh, so this is the emulated ioctl's hottest path.
 */
export function writePlaneInfoOutputs(bytes: Uint8Array, info: PlaneInfoOutputs): number {
  if (bytes.byteLength < PLANE_INFO_MINSZ) return -Errno.EFAULT;
  const v = new DataView(bytes.buffer, bytes.byteOffset, PLANE_INFO_MINSZ);
  v.setUint32(AT_DRM_FORMAT, info.drmFormat, true);
  v.setBigUint64(AT_DRM_FORMAT_MOD, BigInt.asUintN(64, info.drmFormatMod), true);
  v.setUint32(AT_WIDTH, info.width, true);
  v.setUint32(AT_HEIGHT, info.height, true);
  v.setUint32(AT_STRIDE, info.stride, true);
  v.setUint32(AT_SIZE, info.size, true);
  v.setUint32(AT_X_POS, info.xPos, true);
  v.setUint32(AT_Y_POS, info.yPos, true);
  v.setUint32(AT_X_HOT, info.xHot, true);
  v.setUint32(AT_Y_HOT, info.yHot, true);
  v.setUint32(AT_DMABUF_ID, info.regionIndex ?? info.dmabufId ?? 0, true);
  return 0;
}

/** Client side: a fresh zeroed 64-byte QUERY argument. */
export function encodePlaneInfoRequest(req: PlaneInfoRequest): Uint8Array {
  const bytes = new Uint8Array(PLANE_INFO_SIZE);
  writeLayout(PLANE_INFO_LAYOUT, bytes, {
    argsz: req.argsz ?? PLANE_INFO_SIZE,
    flags: req.flags,
    drmPlaneType: req.planeType,
  });
  return bytes;
}

/**
 * One reusable QUERY argument and field reads at the layout's offsets, for a client that queries
 * on every refresh: `request` refills the same 64 bytes, the getters allocate nothing (except
 * `drmFormatMod`, a BigInt: read it on cache misses only). `read` decodes a copy.
 */
export class PlaneInfoView {
  public readonly bytes = new Uint8Array(PLANE_INFO_SIZE);
  private readonly _v = new DataView(this.bytes.buffer);

  /** Zero the struct and write the request fields (argsz 64, flags, drm_plane_type). */
  public request(flags: number, planeType: number): Uint8Array {
    this.bytes.fill(0);
    this._v.setUint32(AT_ARGSZ, PLANE_INFO_SIZE, true);
    this._v.setUint32(AT_FLAGS, flags, true);
    this._v.setUint32(AT_DRM_PLANE_TYPE, planeType, true);
    return this.bytes;
  }

  /** After a failed QUERY: the outputs read as 0 (whatever the callee left there). */
  public clearOutputs(): void {
    this.bytes.fill(0, AT_DRM_FORMAT);
  }

  public get flags(): number { return this._v.getUint32(AT_FLAGS, true); }
  public get drmPlaneType(): number { return this._v.getUint32(AT_DRM_PLANE_TYPE, true); }
  public get drmFormat(): number { return this._v.getUint32(AT_DRM_FORMAT, true); }
  public get drmFormatMod(): bigint { return this._v.getBigUint64(AT_DRM_FORMAT_MOD, true); }
  public get width(): number { return this._v.getUint32(AT_WIDTH, true); }
  public get height(): number { return this._v.getUint32(AT_HEIGHT, true); }
  public get stride(): number { return this._v.getUint32(AT_STRIDE, true); }
  public get size(): number { return this._v.getUint32(AT_SIZE, true); }
  public get xPos(): number { return this._v.getUint32(AT_X_POS, true); }
  public get yPos(): number { return this._v.getUint32(AT_Y_POS, true); }
  public get xHot(): number { return this._v.getUint32(AT_X_HOT, true); }
  public get yHot(): number { return this._v.getUint32(AT_Y_HOT, true); }
  public get dmabufId(): number { return this._v.getUint32(AT_DMABUF_ID, true); }
  public get regionIndex(): number { return this._v.getUint32(AT_REGION_INDEX, true); }

  /** The UAPI's "plane disabled": success with drm_format or size zero. */
  public get disabled(): boolean {
    return this.drmFormat === 0 || this.size === 0;
  }

  /** A decoded copy (allocates: inspection, not the refresh path). */
  public read(): PlaneInfo {
    return readPlaneInfo(this.bytes);
  }
}

