import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import {
  PLANE_CTL_ALPHA_MASK,
  PLANE_CTL_FORMAT_MASK,
  PLANE_CTL_FORMAT_SHIFT,
  PLANE_CTL_ORDER_RGBX,
  PLANE_CTL_TILED_MASK,
  PLANE_CTL_TILED_SHIFT,
  PLANE_CTL_YUV422_ORDER_MASK,
  PLANE_CTL_YUV422_ORDER_SHIFT,
  PLANE_FORMAT,
  PLANE_STRIDE_MASK,
  PLANE_TILING,
} from './GvtRegisters.ts';

/** A PLANE_CTL pixel format as GVT's skl table maps it (spec §3.2). */
export interface PlaneFormat {
  readonly drmFormat: number;
  readonly bpp: number;
}

const YUV422_ORDERS = [DRM_FORMAT.YUYV, DRM_FORMAT.UYVY, DRM_FORMAT.YVYU, DRM_FORMAT.VYUY] as const;

/**
 * The DRM format of a gen9 PLANE_CTL value, or undefined for a format GVT cannot export (NV12,
 * FP16, AYUV, the reserved codes). A switch over the 4-bit field, not a table lookup, so no value
 * can index past anything (bug B4).
 */
export function decodePlaneFormat(ctl: number): PlaneFormat | undefined {
  const fmt = (ctl & PLANE_CTL_FORMAT_MASK) >>> PLANE_CTL_FORMAT_SHIFT;
  const rgbx = (ctl & PLANE_CTL_ORDER_RGBX) !== 0;
  switch (fmt) {
    case PLANE_FORMAT.INDEXED:
      return { drmFormat: DRM_FORMAT.C8, bpp: 8 };
    case PLANE_FORMAT.RGB_565:
      return { drmFormat: DRM_FORMAT.RGB565, bpp: 16 };
    case PLANE_FORMAT.XRGB_8888: {
      // RGBX order puts R in the low byte: DRM's xBGR names. Alpha bits pick A over X.
      const alpha = (ctl & PLANE_CTL_ALPHA_MASK) !== 0;
      const drmFormat = rgbx
        ? (alpha ? DRM_FORMAT.ABGR8888 : DRM_FORMAT.XBGR8888)
        : (alpha ? DRM_FORMAT.ARGB8888 : DRM_FORMAT.XRGB8888);
      return { drmFormat, bpp: 32 };
    }
    case PLANE_FORMAT.XRGB_2101010:
      // GVT's table has no alpha variant for 10 bpc: alpha bits are ignored here.
      return { drmFormat: rgbx ? DRM_FORMAT.XBGR2101010 : DRM_FORMAT.XRGB2101010, bpp: 32 };
    case PLANE_FORMAT.YUV422: {
      const order = (ctl & PLANE_CTL_YUV422_ORDER_MASK) >>> PLANE_CTL_YUV422_ORDER_SHIFT;
      return { drmFormat: YUV422_ORDERS[order]!, bpp: 16 };
    }
    default:
      return undefined;
  }
}

/** Surface layout of a universal plane: modifier, bytes per row, rows per tile. */
export interface PlaneLayout {
  readonly modifier: bigint;
  readonly stride: number;
  readonly tileHeight: number;
}

/** The 3-bit tiling field of PLANE_CTL (bits 12:10). */
export function planeTiling(ctl: number): number {
  return (ctl & PLANE_CTL_TILED_MASK) >>> PLANE_CTL_TILED_SHIFT;
}

/**
 * Modifier, stride in bytes and tile height from PLANE_CTL tiling and PLANE_STRIDE (spec §2.3,
 * §3.2): stride units are 64 B linear, 512 B X, 128 B Y, and 64 B (8 bpp) / 128 B Yf.
 */
export function decodePlaneLayout(ctl: number, strideReg: number, bpp: number): PlaneLayout {
  const units = strideReg & PLANE_STRIDE_MASK;
  switch (planeTiling(ctl)) {
    case PLANE_TILING.LINEAR:
      return { modifier: DRM_FORMAT_MOD.LINEAR, stride: units * 64, tileHeight: 1 };
    case PLANE_TILING.X:
      return { modifier: DRM_FORMAT_MOD.I915_X_TILED, stride: units * 512, tileHeight: 8 };
    case PLANE_TILING.Y:
      return { modifier: DRM_FORMAT_MOD.I915_Y_TILED, stride: units * 128, tileHeight: 32 };
    case PLANE_TILING.YF:
      return {
        modifier: DRM_FORMAT_MOD.I915_Yf_TILED, stride: units * (bpp === 8 ? 64 : 128), tileHeight: 32,
      };
    default:
      // GVT quirk, kept on purpose: an unknown tiling value is only logged. The modifier stays
      // linear, the tile height 1, and the stride is the register field NOT multiplied by any unit.
      return { modifier: DRM_FORMAT_MOD.LINEAR, stride: units, tileHeight: 1 };
  }
}
