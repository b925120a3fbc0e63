/**
 * Register map of the mbochs-compatible device (QEMU stdvga "secondary-vga" minus legacy VGA):
 * BAR0 is VRAM, BAR2 is a 4 KiB MMIO window laid out as below. A guest driver programs the mode
 * through the Bochs DISPI registers with 16-bit accesses at `DISPI_MMIO_BASE + index * 2`.
 */

/** BAR2 (MMIO) size in bytes. */
export const BOCHS_MMIO_SIZE = 0x1000;

/** MMIO window layout: [start, end) byte ranges. */
export const BOCHS_MMIO = {
  /** EDID block as the guest sees it (zeros unless the link is up). */
  EDID_START: 0x000,
  EDID_END: 0x400,
  /** Legacy VGA I/O ports remapped: ignored (reads 0). */
  VGA_START: 0x400,
  VGA_END: 0x420,
  /** Bochs DISPI registers: 16-bit accesses only. */
  DISPI_START: 0x500,
  DISPI_END: 0x516,
  /** QEMU extended registers (framebuffer endianness): ignored (reads 0). */
  QEXT_START: 0x600,
  QEXT_END: 0x608,
} as const;

/** DISPI register indices (VBE_DISPI_INDEX_*). */
export const DISPI = {
  ID: 0x0,
  XRES: 0x1,
  YRES: 0x2,
  BPP: 0x3,
  ENABLE: 0x4,
  BANK: 0x5,
  VIRT_WIDTH: 0x6,
  VIRT_HEIGHT: 0x7,
  X_OFFSET: 0x8,
  Y_OFFSET: 0x9,
  /** Read-only here (mbochs lets a guest overwrite it; nothing good comes of that). */
  VIDEO_MEMORY_64K: 0xa,
} as const;

/** Number of DISPI registers. */
export const DISPI_COUNT = 0xb;

/** MMIO byte offset of a DISPI register. */
export function dispiOffset(index: number): number {
  return BOCHS_MMIO.DISPI_START + index * 2;
}

/** Value of ID after reset (VBE_DISPI_ID5). */
export const DISPI_ID5 = 0xb0c5;

/** ENABLE register bits. Only ENABLED matters to the device; LFB and NOCLEARMEM are ignored. */
export const DISPI_ENABLE = {
  DISABLED: 0x00,
  ENABLED: 0x01,
  GETCAPS: 0x02,
  DAC_8BIT: 0x20,
  LFB_ENABLED: 0x40,
  NOCLEARMEM: 0x80,
} as const;

/** The only BPP the device scans out (as DRM_FORMAT_XRGB8888, 4 bytes per pixel). */
export const BOCHS_BPP = 32;
/** Smallest XRES and YRES accepted. */
export const BOCHS_MIN_RES = 64;

/** PCI identity: QEMU stdvga. */
export const BOCHS_PCI_VENDOR_ID = 0x1234;
export const BOCHS_PCI_DEVICE_ID = 0x1111;

/** Size of the EDID blob buffer (the EDID region's `edid_max_size`). */
export const BOCHS_EDID_MAX_SIZE = 0x400;

/** VRAM sizes of the mbochs mdev types, and the resolution hint the EDID region reports. */
export interface BochsType {
  readonly mbytes: number;
  /** EDID region `max_xres` / `max_yres`; 0 = no limit. */
  readonly maxXres: number;
  readonly maxYres: number;
}

export const MBOCHS_TYPES: Readonly<Record<'mbochs-small' | 'mbochs-medium' | 'mbochs-large', BochsType>> = {
  'mbochs-small': { mbytes: 4, maxXres: 800, maxYres: 600 },
  'mbochs-medium': { mbytes: 16, maxXres: 1920, maxYres: 1440 },
  'mbochs-large': { mbytes: 64, maxXres: 0, maxYres: 0 },
};
