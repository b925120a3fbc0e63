import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import {
  PLANE_CTL_ALPHA_MASK as PLANE_CTL_ALPHA_MASK_, PLANE_CTL_FORMAT_MASK as PLANE_CTL_FORMAT_MASK_,
  PLANE_CTL_FORMAT_SHIFT as PLANE_CTL_FORMAT_SHIFT_, PLANE_CTL_ORDER_RGBX as PLANE_CTL_ORDER_RGBX_,
  PLANE_CTL_TILED_MASK as PLANE_CTL_TILED_MASK_, PLANE_CTL_TILED_SHIFT as PLANE_CTL_TILED_SHIFT_,
  PLANE_CTL_YUV422_ORDER_MASK as PLANE_CTL_YUV422_ORDER_MASK_,
  PLANE_CTL_YUV422_ORDER_SHIFT as PLANE_CTL_YUV422_ORDER_SHIFT_, PLANE_FORMAT as PLANE_FORMAT_,
  PLANE_STRIDE_MASK as PLANE_STRIDE_MASK_, PLANE_TILING as PLANE_TILING_,
} from './GvtRegisters.ts';
// Imports bound once at load: the tsx runtime reads an imported binding through a getter,
// and these sit on the per-refresh QUERY path.
const PLANE_CTL_ALPHA_MASK = PLANE_CTL_ALPHA_MASK_;
const PLANE_CTL_FORMAT_MASK = PLANE_CTL_FORMAT_MASK_;
const PLANE_CTL_FORMAT_SHIFT = PLANE_CTL_FORMAT_SHIFT_;
const PLANE_CTL_ORDER_RGBX = PLANE_CTL_ORDER_RGBX_;
const PLANE_CTL_TILED_MASK = PLANE_CTL_TILED_MASK_;
const PLANE_CTL_TILED_SHIFT = PLANE_CTL_TILED_SHIFT_;
const PLANE_CTL_YUV422_ORDER_MASK = PLANE_CTL_YUV422_ORDER_MASK_;
const PLANE_CTL_YUV422_ORDER_SHIFT = PLANE_CTL_YUV422_ORDER_SHIFT_;
const PLANE_FORMAT = PLANE_FORMAT_;
const PLANE_STRIDE_MASK = PLANE_STRIDE_MASK_;
const PLANE_TILING = PLANE_TILING_;

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
 * Bytes per PLANE_STRIDE unit for a tiling code (spec §2.3): 64 linear, 512 X, 128 Y, and for Yf
 * 64 at 8 bpp else 128; undefined for a reserved code. The one stride rule of the project, as
 * GVT-g keeps one `intel_vgpu_get_stride`: the decoder and every guest that programs a plane
 * (Gen9Programming.ts) use it.
 */
export function strideUnit(tiling: number, bpp: number): number | undefined {
  switch (tiling) {
    case PLANE_TILING.LINEAR: return 64;
    case PLANE_TILING.X: return 512;
    case PLANE_TILING.Y: return 128;
    case PLANE_TILING.YF: return bpp === 8 ? 64 : 128;
    default: return undefined;
  }
}

/** Rows per tile for a tiling code: 1 linear, 8 X, 32 Y and Yf; undefined for a reserved code. */
export function tileRows(tiling: number): number | undefined {
  switch (tiling) {
    case PLANE_TILING.LINEAR: return 1;
    case PLANE_TILING.X: return 8;
    case PLANE_TILING.Y:
    case PLANE_TILING.YF: return 32;
    default: return undefined;
  }
}

const MODIFIERS: Readonly<Record<number, bigint>> = {
  [PLANE_TILING.LINEAR]: DRM_FORMAT_MOD.LINEAR,
  [PLANE_TILING.X]: DRM_FORMAT_MOD.I915_X_TILED,
  [PLANE_TILING.Y]: DRM_FORMAT_MOD.I915_Y_TILED,
  [PLANE_TILING.YF]: DRM_FORMAT_MOD.I915_Yf_TILED,
};

/** Modifier, stride in bytes and tile height from PLANE_CTL tiling and PLANE_STRIDE (spec §3.2). */
export function decodePlaneLayout(ctl: number, strideReg: number, bpp: number): PlaneLayout {
  const units = strideReg & PLANE_STRIDE_MASK;
  const tiling = planeTiling(ctl);
  const unit = strideUnit(tiling, bpp);
  // GVT quirk, kept on purpose: an unknown tiling value is only logged. The modifier stays
  // linear, the tile height 1, and the stride is the register field NOT multiplied by any unit.
  if (unit === undefined) return { modifier: DRM_FORMAT_MOD.LINEAR, stride: units, tileHeight: 1 };
  return { modifier: MODIFIERS[tiling]!, stride: units * unit, tileHeight: tileRows(tiling)! };
}
