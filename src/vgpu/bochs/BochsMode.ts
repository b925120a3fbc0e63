import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { BOCHS_BPP, BOCHS_MIN_RES, DISPI, DISPI_ENABLE } from './BochsRegisters.ts';

/** A validated scanout mode (mbochs `struct mbochs_mode`). Offsets and sizes are VRAM bytes. */
export interface BochsMode {
  readonly drmFormat: number;
  readonly bytepp: number;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  /** VRAM byte offset of the first visible pixel (the panning offset). */
  readonly offset: number;
  /** stride × height. */
  readonly size: number;
}

/**
 * mbochs_check_framebuffer (spec §4.2): the mode the DISPI registers describe, or undefined when
 * the display is disabled or the mode is invalid. Rules, in upstream order:
 *  1. ENABLE bit 0x01 set (LFB/NOCLEARMEM bits are ignored);
 *  2. BPP == 32 → XRGB8888, 4 bytes per pixel; every other depth is unsupported;
 *  3. XRES ≥ 64 and YRES ≥ 64;
 *  4. offset + size ≤ VRAM bytes, with virt_width = max(VIRT_WIDTH, XRES), stride = virt_width*4,
 *     size = stride*YRES, offset = X_OFFSET*4 + Y_OFFSET*stride.
 * Registers are u16, so every product stays far below 2^53 (upstream computes them in u64).
 * Offset alignment is NOT checked here: mbochs accepts an unaligned pan at QUERY and fails only
 * the export (GET → -EINVAL), which the vfio layer does by looking at `offset`.
 */
export function checkBochsMode(regs: ArrayLike<number>, vramBytes: number): BochsMode | undefined {
  if (((regs[DISPI.ENABLE] ?? 0) & DISPI_ENABLE.ENABLED) === 0) return undefined;
  if (regs[DISPI.BPP] !== BOCHS_BPP) return undefined;
  const bytepp = 4;
  const width = regs[DISPI.XRES] ?? 0;
  const height = regs[DISPI.YRES] ?? 0;
  const virtWidth = Math.max(regs[DISPI.VIRT_WIDTH] ?? 0, width);
  const stride = virtWidth * bytepp;
  const size = stride * height;
  const offset = (regs[DISPI.X_OFFSET] ?? 0) * bytepp + (regs[DISPI.Y_OFFSET] ?? 0) * stride;
  if (width < BOCHS_MIN_RES || height < BOCHS_MIN_RES) return undefined;
  if (offset + size > vramBytes) return undefined;
  return { drmFormat: DRM_FORMAT.XRGB8888, bytepp, width, height, stride, offset, size };
}
