import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { DISPI, DISPI_ENABLE, dispiOffset } from '../vgpu/bochs/BochsRegisters.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import {
  TILING_CODE, encodePlane, planeSize, planeStride, programPlane, writePtes, type Gen9Tiling,
  type Gen9Window,
} from '../vgpu/gvt/Gen9Programming.ts';
import {
  CUR_BASE, CUR_CTL, CUR_POS, PIPECONF, PIPECONF_ENABLE, PIPESRC, PLANE_FORMAT, PLANE_SURF,
  PRIMARY_PLANE_BASE, curPosValue, pipesrcValue,
} from '../vgpu/gvt/GvtRegisters.ts';
import type { Vgpu } from '../vfio/EmulatedHost.ts';

/**
 * Test fixtures that act as a guest driver in a few register writes. They program the device
 * models directly (the guest side); the code under test talks to the VFIO side.
 */

/** Map `pages` guest pages (from `firstGuestPage`) at `gma` in the vGPU's GGTT. */
export function mapGtt(dev: GvtDevice, gma: number, firstGuestPage: number, pages: number, step = 1): void {
  writePtes(bar0(dev), gma, Array.from({ length: pages }, (_, i) => firstGuestPage + i * step));
}

function bar0(dev: GvtDevice): Gen9Window {
  return { write32: (off, v) => dev.mmioWrite32(off, v), write64: (off, v) => dev.mmioWrite64(off, v) };
}

export interface GvtPrimary {
  width: number;
  height: number;
  /** Graphics address of the surface (default: the aperture base). */
  gma?: number;
  /** Guest page backing the first surface page (default 1024). */
  guestPage?: number;
  format?: number;
  /** PLANE_CTL tiling code (PLANE_TILING; default linear). */
  tiling?: number;
  /** Skip the vblank that latches PLANE_SURF. */
  noVblank?: boolean;
}

/** Enable pipe A with a linear XRGB8888 primary plane (or the given format/tiling). */
export function gvtPrimary(dev: GvtDevice, p: GvtPrimary): { gma: number; stride: number; size: number } {
  const gma = p.gma ?? dev.aperture.base;
  const code = p.tiling ?? TILING_CODE.linear;
  const tiling = (Object.keys(TILING_CODE) as Gen9Tiling[]).find((t) => TILING_CODE[t] === code);
  if (!tiling) throw new RangeError(`tiling code ${code} has no stride unit`);
  // Sized as XRGB8888 whatever the format: a test that changes the format keeps the buffer.
  const stride = planeStride(p.width, 32, tiling);
  const size = planeSize(stride, p.height, tiling);
  mapGtt(dev, gma, p.guestPage ?? 1024, Math.ceil(size / PAGE_SIZE));
  dev.mmioWrite32(PIPESRC(0), pipesrcValue(p.width, p.height));
  dev.mmioWrite32(PIPECONF(0), PIPECONF_ENABLE);
  const regs = encodePlane({ format: p.format ?? PLANE_FORMAT.XRGB_8888, bpp: 32, tiling, stride })!;
  programPlane(bar0(dev), PRIMARY_PLANE_BASE(0), regs, gma);
  if (!p.noVblank) dev.vblank();
  return { gma, stride, size };
}

/** Flip pipe A's primary plane to another surface; latches at the vblank. */
export function gvtFlip(dev: GvtDevice, gma: number, vblank = true): void {
  dev.mmioWrite32(PLANE_SURF(0), gma);
  if (vblank) dev.vblank();
}

/** A 64×64 ARGB cursor at (x, y) backed by `guestPage`. */
export function gvtCursor(dev: GvtDevice, gma: number, guestPage: number, x: number, y: number): void {
  mapGtt(dev, gma, guestPage, 4);
  dev.mmioWrite32(CUR_CTL(0), 0x27);
  dev.mmioWrite32(CUR_POS(0), curPosValue(x, y));
  dev.mmioWrite32(CUR_BASE(0), gma);
  dev.vblank();
}

/** Program a bochs mode through the DISPI registers (16-bit writes, as a guest does). */
export function bochsMode(dev: BochsDevice, w: number, h: number, opts: { bpp?: number; virtWidth?: number; x?: number; y?: number } = {}): void {
  const set = (i: number, v: number): void => dev.mmioWrite(dispiOffset(i), 2, v);
  set(DISPI.ENABLE, 0);
  set(DISPI.XRES, w);
  set(DISPI.YRES, h);
  set(DISPI.BPP, opts.bpp ?? 32);
  set(DISPI.VIRT_WIDTH, opts.virtWidth ?? w);
  set(DISPI.X_OFFSET, opts.x ?? 0);
  set(DISPI.Y_OFFSET, opts.y ?? 0);
  set(DISPI.ENABLE, DISPI_ENABLE.ENABLED | DISPI_ENABLE.LFB_ENABLED);
}

/** Pan (the bochs page flip). */
export function bochsPan(dev: BochsDevice, y: number): void {
  dev.mmioWrite(dispiOffset(DISPI.Y_OFFSET), 2, y);
}

export function asGvt(v: Vgpu): GvtDevice {
  if (v.kind !== 'gvt') throw new Error('not a gvt vGPU');
  return v.device as GvtDevice;
}

export function asBochs(v: Vgpu): BochsDevice {
  if (v.kind !== 'bochs') throw new Error('not a bochs vGPU');
  return v.device as BochsDevice;
}
