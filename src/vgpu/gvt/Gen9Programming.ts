import { Errno } from '../../base/Errno.ts';
import { PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { strideUnit, tileRows } from './Gen9Format.ts';
import {
  GTT_BASE, GTT_ENTRY_SIZE, PLANE_REG, PLANE_STRIDE_MASK, PLANE_TILING, gttPte, planeCtlValue,
} from './GvtRegisters.ts';

/**
 * What a gen9 guest driver writes to put a surface on a universal plane: the stride it must pick,
 * the PLANE_CTL / PLANE_STRIDE values, and the GGTT entries that map its pages. The guest OS
 * driver, the conformance programmer, the test guest, the demo scanout and the fuzzer all program
 * planes through here, so they and the decoder (Gen9Format.ts) share one stride rule.
 */

/** The surface tilings a universal plane scans out, by name. */
export type Gen9Tiling = 'linear' | 'x' | 'y' | 'yf';

/** PLANE_CTL tiling code (bits 12:10) of each tiling. */
export const TILING_CODE: Readonly<Record<Gen9Tiling, number>> = {
  linear: PLANE_TILING.LINEAR,
  x: PLANE_TILING.X,
  y: PLANE_TILING.Y,
  yf: PLANE_TILING.YF,
};

/** The smallest stride in bytes that holds `width` pixels of `bpp` and the plane can scan out. */
export function planeStride(width: number, bpp: number, tiling: Gen9Tiling): number {
  const unit = strideUnit(TILING_CODE[tiling], bpp)!;
  return Math.ceil((width * bpp) / 8 / unit) * unit;
}

/** Bytes a surface occupies: `stride` × the height rounded up to whole tile rows. */
export function planeSize(stride: number, height: number, tiling: Gen9Tiling): number {
  const rows = tileRows(TILING_CODE[tiling])!;
  return stride * Math.ceil(height / rows) * rows;
}

/** A surface as a universal plane shows it. */
export interface Gen9Plane {
  /** PLANE_CTL pixel format code (PLANE_FORMAT). */
  readonly format: number;
  /** Bits per pixel of that format (Yf strides depend on it). */
  readonly bpp: number;
  readonly tiling: Gen9Tiling;
  /** Bytes per row: a whole number of stride units. */
  readonly stride: number;
  readonly rgbxOrder?: boolean;
  /** Alpha mode (0 ignore, 1 pre-multiplied, 2 straight). */
  readonly alpha?: number;
  readonly yuvOrder?: number;
}

/** PLANE_CTL and PLANE_STRIDE register values of an enabled plane. */
export interface Gen9PlaneRegs {
  readonly ctl: number;
  readonly stride: number;
}

/**
 * The register values showing `p`, or undefined when its stride is no whole number of units or
 * does not fit the 10-bit field (the hardware would scan a different stride than the buffer's).
 */
export function encodePlane(p: Gen9Plane): Gen9PlaneRegs | undefined {
  const code = TILING_CODE[p.tiling];
  const unit = strideUnit(code, p.bpp)!;
  const units = p.stride / unit;
  if (!Number.isInteger(units) || units < 1 || units > PLANE_STRIDE_MASK) return undefined;
  const ctl = planeCtlValue({
    format: p.format, tiling: code, rgbxOrder: p.rgbxOrder, alpha: p.alpha, yuvOrder: p.yuvOrder,
  });
  return { ctl, stride: units };
}

/**
 * BAR0 of a gvt vGPU as a programmer reaches it: the device model itself, a guest's posted
 * register window, or a VFIO region through the device file. A write returns -errno (or 0 or
 * nothing) so a failure on a real device stops the sequence.
 */
export interface Gen9Window {
  write32(offset: number, value: number): number | void;
  write64(offset: number, value: bigint): number | void;
}

/**
 * Write a universal plane whose registers start at `base` (PRIMARY_PLANE_BASE / SPRITE_PLANE_BASE):
 * CTL and STRIDE, then SURF last, since the SURF write arms the flip that latches at the next
 * vblank. Returns 0 or the first -errno.
 */
export function programPlane(w: Gen9Window, base: number, regs: Gen9PlaneRegs, gma: number): number {
  const writes: ReadonlyArray<readonly [number, number]> = [
    [base + PLANE_REG.CTL, regs.ctl], [base + PLANE_REG.STRIDE, regs.stride], [base + PLANE_REG.SURF, gma],
  ];
  for (const [off, v] of writes) {
    const rc = w.write32(off, v) ?? 0;
    if (rc < 0) return rc;
  }
  return 0;
}

/**
 * Map graphics pages from `gma` (page aligned) to the guest pages `pages`, one 64-bit PTE per page
 * through the GTT window. Returns 0 or the first -errno.
 */
export function writePtes(w: Gen9Window, gma: number, pages: ArrayLike<number>): number {
  if (gma % PAGE_SIZE !== 0) return -Errno.EINVAL;
  const first = gma / PAGE_SIZE;
  for (let i = 0; i < pages.length; i++) {
    const rc = w.write64(GTT_BASE + (first + i) * GTT_ENTRY_SIZE, gttPte(pages[i]!)) ?? 0;
    if (rc < 0) return rc;
  }
  return 0;
}

/** Invalidate `count` PTEs from `gma` (before the graphics range is reused). */
export function clearPtes(w: Gen9Window, gma: number, count: number): number {
  if (gma % PAGE_SIZE !== 0) return -Errno.EINVAL;
  const first = gma / PAGE_SIZE;
  for (let i = 0; i < count; i++) {
    const rc = w.write64(GTT_BASE + (first + i) * GTT_ENTRY_SIZE, 0n) ?? 0;
    if (rc < 0) return rc;
  }
  return 0;
}

/** A run of `count` consecutive guest pages from `first` (for `writePtes`). */
export function pageRun(first: number, count: number): Uint32Array {
  const pages = new Uint32Array(count);
  for (let i = 0; i < count; i++) pages[i] = first + i;
  return pages;
}
