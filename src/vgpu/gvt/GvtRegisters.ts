/**
 * Register map of the emulated Intel gen9 (Skylake-class) display engine, as a guest driver sees
 * it in BAR0. Offsets are bytes into BAR0; every register is 32 bits wide. Per-pipe registers
 * repeat every PIPE_STRIDE bytes (pipe A = 0, B = 1, C = 2).
 *
 * Semantics of our model (see GvtDevice for the full story):
 *  - PLANE_SURF / CUR_BASE / SPRITE_SURF writes ARM a flip that latches at the next vblank; every
 *    other register takes effect at once. The *_SURFLIVE registers read the latched value.
 *  - Unknown offsets read 0 and ignore writes; read-only registers ignore writes.
 */

/** BAR0 size: 8 MiB of registers, then the 8 MiB GTT window. */
export const BAR0_SIZE = 0x1000000;

export const PIPE_COUNT = 3;
export const PIPE_STRIDE = 0x1000;

// ---- Pipe / transcoder -----------------------------------------------------------------------

/** PIPECONF (TRANSCONF): bit 31 enable (rw); bit 30 state, read-only mirror of bit 31. */
export const PIPECONF = (pipe: number): number => 0x70008 + pipe * PIPE_STRIDE;
export const PIPECONF_ENABLE = 0x80000000;
export const PIPECONF_STATE = 0x40000000;

/** PIPESRC: ((width - 1) << 16) | (height - 1); width bits 28:16, height bits 11:0. */
export const PIPESRC = (pipe: number): number => 0x6001c + pipe * PIPE_STRIDE;
export const pipesrcValue = (width: number, height: number): number =>
  ((((width - 1) & 0x1fff) << 16) | ((height - 1) & 0xfff)) >>> 0;

/**
 * PIPE_FRMCOUNT (read-only): our vblank counter. Incremented by every vblank while the pipe is
 * enabled (as hardware counts frames only on a running pipe). Wraps at 2^32.
 */
export const PIPE_FRMCOUNT = (pipe: number): number => 0x70040 + pipe * PIPE_STRIDE;
/** PIPE_FLIPCOUNT (read-only): primary-plane flips latched on this pipe. Wraps at 2^32. */
export const PIPE_FLIPCOUNT = (pipe: number): number => 0x70044 + pipe * PIPE_STRIDE;

// ---- Universal planes (gen9 PLANE_* layout): plane 1 = primary, plane 2 = sprite/overlay -------

/** Register offsets relative to a universal plane's base. */
export const PLANE_REG = {
  CTL: 0x00,
  STRIDE: 0x08,
  /** PLANE_POS: (y << 16) | x. Stored only (the exported plane has no position). */
  POS: 0x0c,
  /** PLANE_SIZE: ((h - 1) << 16) | (w - 1). Sizes the sprite; ignored for the primary. */
  SIZE: 0x10,
  SURF: 0x1c,
  /** PLANE_OFFSET (DSPTILEOFF): panning offset, decoded by GVT but ignored; stored only. */
  OFFSET: 0x24,
  /** PLANE_SURFLIVE (read-only): the latched surface address. */
  SURFLIVE: 0x2c,
} as const;

export const PRIMARY_PLANE_BASE = (pipe: number): number => 0x70180 + pipe * PIPE_STRIDE;
export const SPRITE_PLANE_BASE = (pipe: number): number => 0x70280 + pipe * PIPE_STRIDE;

/** Primary plane (DSPCNTR/PLANE_CTL_1 and friends), pipe A at 0x70180. */
export const PLANE_CTL = (pipe: number): number => PRIMARY_PLANE_BASE(pipe) + PLANE_REG.CTL;
export const PLANE_STRIDE = (pipe: number): number => PRIMARY_PLANE_BASE(pipe) + PLANE_REG.STRIDE;
export const PLANE_POS = (pipe: number): number => PRIMARY_PLANE_BASE(pipe) + PLANE_REG.POS;
export const PLANE_SIZE = (pipe: number): number => PRIMARY_PLANE_BASE(pipe) + PLANE_REG.SIZE;
export const PLANE_SURF = (pipe: number): number => PRIMARY_PLANE_BASE(pipe) + PLANE_REG.SURF;
export const PLANE_OFFSET = (pipe: number): number => PRIMARY_PLANE_BASE(pipe) + PLANE_REG.OFFSET;
export const PLANE_SURFLIVE = (pipe: number): number => PRIMARY_PLANE_BASE(pipe) + PLANE_REG.SURFLIVE;

/** Sprite/overlay plane ("plane 2"), pipe A at 0x70280. */
export const SPRITE_CTL = (pipe: number): number => SPRITE_PLANE_BASE(pipe) + PLANE_REG.CTL;
export const SPRITE_STRIDE = (pipe: number): number => SPRITE_PLANE_BASE(pipe) + PLANE_REG.STRIDE;
export const SPRITE_POS = (pipe: number): number => SPRITE_PLANE_BASE(pipe) + PLANE_REG.POS;
export const SPRITE_SIZE = (pipe: number): number => SPRITE_PLANE_BASE(pipe) + PLANE_REG.SIZE;
export const SPRITE_SURF = (pipe: number): number => SPRITE_PLANE_BASE(pipe) + PLANE_REG.SURF;
export const SPRITE_OFFSET = (pipe: number): number => SPRITE_PLANE_BASE(pipe) + PLANE_REG.OFFSET;
export const SPRITE_SURFLIVE = (pipe: number): number => SPRITE_PLANE_BASE(pipe) + PLANE_REG.SURFLIVE;
/** PLANE_SIZE / PLANE_POS values. */
export const planeSizeValue = (width: number, height: number): number =>
  ((((height - 1) & 0xfff) << 16) | ((width - 1) & 0x1fff)) >>> 0;
export const planePosValue = (x: number, y: number): number => (((y & 0xfff) << 16) | (x & 0x1fff)) >>> 0;

// PLANE_CTL bit fields (gen9).
export const PLANE_CTL_ENABLE = 0x80000000;
/** Bits 27:24: source pixel format. */
export const PLANE_CTL_FORMAT_SHIFT = 24;
export const PLANE_CTL_FORMAT_MASK = 0xf << PLANE_CTL_FORMAT_SHIFT;
export const PLANE_FORMAT = {
  YUV422: 0x0,
  NV12: 0x1,
  XRGB_2101010: 0x2,
  XRGB_8888: 0x4,
  XRGB_16161616F: 0x6,
  AYUV: 0x8,
  INDEXED: 0xc,
  RGB_565: 0xe,
} as const;
/** Bit 20: RGBX channel order (R in the low byte) instead of BGRX. */
export const PLANE_CTL_ORDER_RGBX = 1 << 20;
/** Bits 17:16: byte order of packed YUV 4:2:2 (0 YUYV, 1 UYVY, 2 YVYU, 3 VYUY). */
export const PLANE_CTL_YUV422_ORDER_SHIFT = 16;
export const PLANE_CTL_YUV422_ORDER_MASK = 3 << PLANE_CTL_YUV422_ORDER_SHIFT;
/** Bits 12:10: surface tiling. */
export const PLANE_CTL_TILED_SHIFT = 10;
export const PLANE_CTL_TILED_MASK = 7 << PLANE_CTL_TILED_SHIFT;
export const PLANE_TILING = { LINEAR: 0, X: 1, Y: 4, YF: 5 } as const;
/** Bits 5:4: alpha mode (0 = ignore alpha; 1, 2, 3 = pre-multiplied / straight / reserved). */
export const PLANE_CTL_ALPHA_SHIFT = 4;
export const PLANE_CTL_ALPHA_MASK = 3 << PLANE_CTL_ALPHA_SHIFT;
/** PLANE_STRIDE bits 9:0: stride in units of 64 B (linear), 512 B (X), 128 B (Y), 64/128 B (Yf). */
export const PLANE_STRIDE_MASK = 0x3ff;
/** PLANE_SURF bits 31:12: the surface GMA (4 KiB aligned). */
export const PLANE_SURF_ADDR_MASK = 0xfffff000;

/** A PLANE_CTL value from its fields (convenience for guest drivers and tests). */
export function planeCtlValue(f: {
  enable?: boolean;
  format: number;
  tiling?: number;
  rgbxOrder?: boolean;
  alpha?: number;
  yuvOrder?: number;
}): number {
  return (
    ((f.enable === false ? 0 : PLANE_CTL_ENABLE) |
      ((f.format & 0xf) << PLANE_CTL_FORMAT_SHIFT) |
      (f.rgbxOrder ? PLANE_CTL_ORDER_RGBX : 0) |
      (((f.yuvOrder ?? 0) & 3) << PLANE_CTL_YUV422_ORDER_SHIFT) |
      (((f.tiling ?? 0) & 7) << PLANE_CTL_TILED_SHIFT) |
      (((f.alpha ?? 0) & 3) << PLANE_CTL_ALPHA_SHIFT)) >>>
    0
  );
}

// ---- Cursor --------------------------------------------------------------------------------------

export const CUR_CTL = (pipe: number): number => 0x70080 + pipe * PIPE_STRIDE;
export const CUR_BASE = (pipe: number): number => 0x70084 + pipe * PIPE_STRIDE;
/** CURPOS: x bits 12:0 with sign bit 15, y bits 27:16 with sign bit 31 (sign + magnitude). */
export const CUR_POS = (pipe: number): number => 0x70088 + pipe * PIPE_STRIDE;
/** CURSURFLIVE (read-only): the latched cursor base. */
export const CUR_SURFLIVE = (pipe: number): number => 0x700ac + pipe * PIPE_STRIDE;

/** CURCNTR & 0x27 selects the mode; 0 disables the cursor. */
export const CURSOR_MODE_MASK = 0x27;
export const CURSOR_MODE = {
  DISABLE: 0x00,
  ARGB_128: 0x22,
  ARGB_256: 0x23,
  /** 64×64 32-bit AND/XOR; GVT exports it as ARGB8888 like 0x27. */
  AX_64: 0x07,
  ARGB_64: 0x27,
} as const;
export const CUR_POS_X_MASK = 0x1fff;
export const CUR_POS_X_SIGN = 1 << 15;
export const CUR_POS_Y_SHIFT = 16;
export const CUR_POS_Y_MASK = 0xfff;
export const CUR_POS_Y_SIGN = 0x80000000;
/** A CURPOS value for a (possibly negative) position. */
export function curPosValue(x: number, y: number): number {
  const xs = x < 0 ? CUR_POS_X_SIGN : 0;
  const ys = y < 0 ? CUR_POS_Y_SIGN : 0;
  return (
    (ys | ((Math.abs(y) & CUR_POS_Y_MASK) << CUR_POS_Y_SHIFT) | xs | (Math.abs(x) & CUR_POS_X_MASK)) >>> 0
  );
}

// ---- PV-info page (struct vgt_if), 4 KiB at 0x78000 ---------------------------------------------

export const PVINFO_BASE = 0x78000;
export const PVINFO_SIZE = 0x1000;
/** Offsets within the page. Read-only unless marked rw. */
export const PVINFO = {
  /** u64 VGT_MAGIC: a guest checks it to know it runs on a mediated GPU. */
  MAGIC_LO: 0x000,
  MAGIC_HI: 0x004,
  /** version_major (bits 15:0), version_minor (bits 31:16). */
  VERSION: 0x008,
  /** vgt_id: our vmId. */
  VGT_ID: 0x00c,
  VGT_CAPS: 0x010,
  /** Ballooning info: this vGPU's aperture ("mappable") and hidden slices, bytes. */
  APERTURE_BASE: 0x040,
  APERTURE_SIZE: 0x044,
  HIDDEN_BASE: 0x048,
  HIDDEN_SIZE: 0x04c,
  FENCE_NUM: 0x050,
  /** rw: the guest driver sets 1 when its display is initialised. */
  DISPLAY_READY: 0x804,
  /** rw: guest-to-host notification; stored, no effect. */
  G2V_NOTIFY: 0x818,
  /** rw: cursor hotspot; 0xFFFFFFFF = unknown (power-on value). */
  CURSOR_X_HOT: 0x830,
  CURSOR_Y_HOT: 0x834,
} as const;
export const VGT_MAGIC = 0x4776544776544776n;
export const VGT_MAGIC_LO = 0x76544776;
export const VGT_MAGIC_HI = 0x47765447;
export const VGT_VERSION_MAJOR = 1;
export const VGT_VERSION_MINOR = 0;
export const VGT_FENCE_NUM = 4;
export const CURSOR_X_HOT = PVINFO_BASE + PVINFO.CURSOR_X_HOT;
export const CURSOR_Y_HOT = PVINFO_BASE + PVINFO.CURSOR_Y_HOT;

// ---- GTT window ----------------------------------------------------------------------------------

/** The guest's view of the GGTT: entry i (graphics page i) at GTT_BASE + 8 * i, 64-bit PTEs. */
export const GTT_BASE = 0x800000;
export const GTT_SIZE = 0x800000;
export const GTT_ENTRY_SIZE = 8;
/** PTE: bits 63:12 guest physical address, bit 0 valid. */
export const GTT_PTE_VALID = 1n;
export const gttPte = (guestPage: number): bigint => (BigInt(guestPage) << 12n) | GTT_PTE_VALID;
