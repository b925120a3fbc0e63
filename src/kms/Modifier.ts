/**
 * DRM format modifiers (drm_fourcc.h). They exceed 2^53, so they are BigInt everywhere.
 * `fourcc_mod_code(vendor, v) = (vendor << 56) | (v & 0x00ffffffffffffff)`.
 */
export const DRM_FORMAT_MOD_VENDOR_NONE = 0n;
export const DRM_FORMAT_MOD_VENDOR_INTEL = 0x01n;

export function fourccModCode(vendor: bigint, value: bigint): bigint {
  return ((vendor & 0xffn) << 56n) | (value & 0x00ff_ffff_ffff_ffffn);
}

export const DRM_FORMAT_MOD = {
  LINEAR: 0n,
  I915_X_TILED: fourccModCode(DRM_FORMAT_MOD_VENDOR_INTEL, 1n),
  I915_Y_TILED: fourccModCode(DRM_FORMAT_MOD_VENDOR_INTEL, 2n),
  I915_Yf_TILED: fourccModCode(DRM_FORMAT_MOD_VENDOR_INTEL, 3n),
  /** Not all ones: `fourcc_mod_code(NONE, (1 << 56) - 1)` = 0x00ffffffffffffff. */
  INVALID: fourccModCode(DRM_FORMAT_MOD_VENDOR_NONE, (1n << 56n) - 1n),
} as const;

export function modifierName(mod: bigint): string {
  switch (mod) {
    case DRM_FORMAT_MOD.LINEAR: return 'LINEAR';
    case DRM_FORMAT_MOD.I915_X_TILED: return 'I915_X_TILED';
    case DRM_FORMAT_MOD.I915_Y_TILED: return 'I915_Y_TILED';
    case DRM_FORMAT_MOD.I915_Yf_TILED: return 'I915_Yf_TILED';
    case DRM_FORMAT_MOD.INVALID: return 'INVALID';
    default: return `0x${mod.toString(16).padStart(16, '0')}`;
  }
}
