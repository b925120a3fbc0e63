import { DRM_FORMAT } from '../../kms/Fourcc.ts';

/** PCI identity of the mdpy device: Red Hat, device 0x000f. */
export const MDPY_PCI_VENDOR_ID = 0x1b36;
export const MDPY_PCI_DEVICE_ID = 0x000f;

/** The vendor capability that tells the guest driver the framebuffer layout (mdpy-defs.h). */
export const MDPY_VENDORCAP_OFFSET = 0x40;
export const MDPY_VENDORCAP_SIZE = 0x10;
export const MDPY_FORMAT_OFFSET = MDPY_VENDORCAP_OFFSET + 0x04;
export const MDPY_WIDTH_OFFSET = MDPY_VENDORCAP_OFFSET + 0x08;
export const MDPY_HEIGHT_OFFSET = MDPY_VENDORCAP_OFFSET + 0x0c;

/** Region index QUERY reports for the display (the vfio layer's business; kept with the model). */
export const MDPY_DISPLAY_REGION = 16;

/** roundup_pow_of_two for positive integers. */
export function roundUpPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Framebuffer size of an mdpy device: roundup_pow_of_two(width × height × bytes per pixel). */
export function mdpyMemsize(width: number, height: number, bytepp = 4): number {
  return roundUpPowerOfTwo(width * height * bytepp);
}

export interface MdpyType {
  readonly width: number;
  readonly height: number;
  readonly format: number;
  readonly bytepp: number;
  /** Framebuffer (BAR0 / display region) size in bytes. */
  readonly memsize: number;
}

function type(width: number, height: number): MdpyType {
  return { width, height, format: DRM_FORMAT.XRGB8888, bytepp: 4, memsize: mdpyMemsize(width, height) };
}

/**
 * The mdpy mdev types: 2, 4 and 8 MiB framebuffers (spec §5 says 16 MiB for hd, but
 * roundup_pow_of_two(1920*1080*4 = 8294400) is 8 MiB).
 */
export const MDPY_TYPES: Readonly<Record<'mdpy-vga' | 'mdpy-xga' | 'mdpy-hd', MdpyType>> = {
  'mdpy-vga': type(640, 480),
  'mdpy-xga': type(1024, 768),
  'mdpy-hd': type(1920, 1080),
};
