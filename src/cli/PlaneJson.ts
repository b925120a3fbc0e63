import { formatName } from '../kms/Fourcc.ts';
import { modifierName } from '../kms/Modifier.ts';
import type { PlaneInfo } from '../vfio/PlaneInfo.ts';

/**
 * A plane as the CLI's --json outputs describe it (probe, snapshot): one shape everywhere, in the
 * kernel's names for `struct vfio_device_gfx_plane_info` (vfio/PlaneInfo.ts), plus readable names.
 */
export interface PlaneJson {
  /** The union member: `dmabufId` in dma-buf mode, `regionIndex` in region mode. */
  readonly dmabufId?: number;
  readonly regionIndex?: number;
  readonly drmFormat: number;
  readonly format: string;
  /** The modifier as 16 hex digits (it exceeds 2^53), and its name. */
  readonly drmFormatMod: string;
  readonly modifierName: string;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly size: number;
  /** Signed: a cursor may hang off the top/left edge. */
  readonly xPos: number;
  readonly yPos: number;
  /** null = unknown (0xFFFFFFFF). */
  readonly xHot: number | null;
  readonly yHot: number | null;
}

const unknown = (v: number): number | null => (v >>> 0 === 0xffffffff ? null : v >>> 0);

export function planeJson(p: PlaneInfo, union: 'dmabufId' | 'regionIndex' = 'dmabufId'): PlaneJson {
  return {
    [union]: p[union], drmFormat: p.drmFormat, format: formatName(p.drmFormat),
    drmFormatMod: `0x${p.drmFormatMod.toString(16).padStart(16, '0')}`, modifierName: modifierName(p.drmFormatMod),
    width: p.width, height: p.height, stride: p.stride, size: p.size,
    xPos: p.xPos | 0, yPos: p.yPos | 0, xHot: unknown(p.xHot), yHot: unknown(p.yHot),
  };
}

/** The id a plane line prints: dmabuf_id or region_index, whichever the JSON carries. */
export function planeId(p: PlaneJson): number {
  return p.dmabufId ?? p.regionIndex ?? 0;
}
