import type { GgttRange } from '../gpu/Ggtt.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { DISPI, dispiOffset } from '../vgpu/bochs/BochsRegisters.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { strideUnit, tileRows } from '../vgpu/gvt/Gen9Format.ts';
import { encodePlane, planeStride } from '../vgpu/gvt/Gen9Programming.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import {
  BAR0_SIZE, CURSOR_X_HOT, CURSOR_Y_HOT, CUR_BASE, CUR_CTL, CUR_POS, GTT_BASE, PIPECONF,
  PIPECONF_ENABLE, PIPESRC, PLANE_CTL, PLANE_FORMAT, PLANE_OFFSET, PLANE_POS, PLANE_SIZE,
  PLANE_STRIDE, PLANE_SURF, PLANE_TILING, PVINFO_BASE, SPRITE_CTL, SPRITE_SIZE, SPRITE_STRIDE, SPRITE_SURF,
  curPosValue, gttPte, pipesrcValue, planeCtlValue, planeSizeValue,
} from '../vgpu/gvt/GvtRegisters.ts';
import type { Rng } from './Rng.ts';

/**
 * Random guest programs: what a hostile (or just buggy) guest driver can do to its vGPU. A program
 * is a list of register writes, GTT writes and vblanks. Generators start, some of the time, from
 * a VALID display configuration and mutate it, so the decoder's deep paths (translation, range
 * checks, the cache) are reached, not only its first rejection.
 */

/** One guest action on a GVT vGPU. `map` is a run of GTT writes (one PTE per page). */
export type GvtOp =
  | { readonly t: 'w32'; readonly off: number; readonly v: number }
  | { readonly t: 'w64'; readonly off: number; readonly v: bigint }
  | { readonly t: 'map'; readonly gma: number; readonly page: number; readonly count: number;
      readonly step: number; readonly halves: boolean }
  | { readonly t: 'vblank' };

/** One guest action on an mbochs-style vGPU: an MMIO access (DISPI registers) or a vblank. */
export type BochsOp =
  | { readonly t: 'mmio'; readonly off: number; readonly size: number; readonly v: number }
  | { readonly t: 'vblank' };

/** What a GVT guest can aim at: its own slices and memory, and other VMs' ranges. */
export interface GvtTarget {
  readonly aperture: GgttRange;
  readonly hidden: GgttRange;
  /** Pages of the VM's own memory. */
  readonly pageCount: number;
  /** Other VMs' GGTT slices (a guest must not reach them). */
  readonly foreignSlices: readonly GgttRange[];
  /** Page ranges other VMs keep their buffers in, as [first, count] (numbers a PTE may name). */
  readonly foreignPages: ReadonlyArray<readonly [number, number]>;
}

const INTERESTING_U32 = [
  0, 1, 2, 3, 4, 0x3f, 0x40, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0x1001, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0x80000001, 0xfffff000, 0xfffffffe, 0xffffffff,
];

export function interestingU32(rng: Rng): number {
  return rng.weighted([
    [4, () => rng.pick(INTERESTING_U32)],
    [2, () => rng.u32()],
    [1, () => (1 << rng.int(32)) >>> 0],
    [1, () => rng.size(0x10000)],
  ])();
}

// ---- GVT -----------------------------------------------------------------------------------------

const FORMATS = [
  PLANE_FORMAT.XRGB_8888, PLANE_FORMAT.XRGB_8888, PLANE_FORMAT.XRGB_2101010, PLANE_FORMAT.RGB_565,
  PLANE_FORMAT.INDEXED, PLANE_FORMAT.YUV422,
];
const BPP: Record<number, number> = { 4: 32, 2: 32, 14: 16, 12: 8, 0: 16 };
const TILINGS = [PLANE_TILING.LINEAR, PLANE_TILING.LINEAR, PLANE_TILING.X, PLANE_TILING.Y, PLANE_TILING.YF];
const CURSOR_MODES = [0x00, 0x22, 0x23, 0x27, 0x07, 0x27];

/** A GMA the guest may aim a surface at: its own slices, their edges, other VMs', anything. */
export function pickGma(rng: Rng, t: GvtTarget, sizeHint = PAGE_SIZE): number {
  const inside = (r: GgttRange): number => r.base + rng.int(Math.max(1, r.size / PAGE_SIZE)) * PAGE_SIZE;
  const nearEnd = (r: GgttRange): number => Math.max(0, r.base + r.size - rng.range(0, 4) * PAGE_SIZE -
    (rng.bool() ? Math.ceil(sizeHint / PAGE_SIZE) * PAGE_SIZE : 0));
  return rng.weighted<() => number>([
    [6, () => t.aperture.base + rng.size(64) * PAGE_SIZE],
    [4, () => t.hidden.base + rng.size(64) * PAGE_SIZE],
    [2, () => inside(t.aperture)],
    [2, () => inside(t.hidden)],
    [3, () => nearEnd(t.aperture)],
    [3, () => nearEnd(t.hidden)],
    [3, () => (t.foreignSlices.length ? inside(rng.pick(t.foreignSlices)) : rng.u32())],
    [1, () => (t.foreignSlices.length ? nearEnd(rng.pick(t.foreignSlices)) : 0)],
    [1, () => rng.u32()],
    [1, () => interestingU32(rng)],
    // Unaligned: the SURF mask drops the low 12 bits, a GTT base must not.
    [1, () => t.aperture.base + rng.int(PAGE_SIZE)],
  ])() >>> 0;
}

/** A guest page number for a PTE: own memory mostly, but also other VMs' ranges and past the end. */
export function pickPage(rng: Rng, t: GvtTarget): number {
  return rng.weighted<() => number>([
    [8, () => rng.int(t.pageCount)],
    [2, () => t.pageCount - 1 - rng.int(4)],
    [2, () => t.pageCount + rng.int(8)],
    [3, () => {
      if (!t.foreignPages.length) return rng.u32() >>> 12;
      const [first, count] = rng.pick(t.foreignPages);
      return first + rng.int(count);
    }],
    [1, () => rng.u32() >>> 12],
    [1, () => rng.u32()],
  ])();
}

/** A PTE value: valid bit mostly set; high dword sometimes non-zero (a page far past memory). */
export function pickPte(rng: Rng, t: GvtTarget): bigint {
  const page = BigInt(Math.max(0, pickPage(rng, t)));
  let pte = (page << 12n) | (rng.chance(0.9) ? 1n : 0n) | (rng.chance(0.2) ? BigInt(rng.int(0x1000) & ~1) : 0n);
  if (rng.chance(0.05)) pte |= BigInt(rng.u32()) << 32n;
  return BigInt.asUintN(64, pte);
}

/** A GTT window offset: own slices (edges included), other VMs' slices, anywhere, misaligned. */
export function pickGttOffset(rng: Rng, t: GvtTarget): number {
  const gma = rng.weighted<() => number>([
    [6, () => pickGma(rng, t)],
    [1, () => t.aperture.base + t.aperture.size],
    [1, () => t.hidden.base - PAGE_SIZE],
    [1, () => rng.int(BAR0_SIZE / 2 / 8) * PAGE_SIZE],
  ])();
  const index = Math.floor(gma / PAGE_SIZE);
  const off = GTT_BASE + index * 8;
  return rng.chance(0.03) ? off + rng.range(1, 7) : off;
}

/** A valid primary (and maybe cursor) configuration on a pipe: the program a real driver runs. */
export function validGvtSetup(rng: Rng, t: GvtTarget, out: GvtOp[]): void {
  const pipe = rng.weighted([[6, 0], [1, 1], [1, 2]]);
  const fmt = rng.pick(FORMATS);
  const bpp = BPP[fmt] ?? 32;
  const tiling = rng.pick(TILINGS);
  const width = rng.chance(0.5) ? rng.range(1, 320) : rng.range(1, 1920);
  const height = rng.chance(0.5) ? rng.range(1, 240) : rng.range(1, 1200);
  const unit = strideUnit(tiling, bpp)!;
  const th = tileRows(tiling)!;
  const units = Math.min(0x3ff, Math.ceil((width * bpp) / 8 / unit));
  const size = units * unit * Math.ceil(height / th) * th;
  const pages = Math.max(1, Math.ceil(size / PAGE_SIZE));
  const slice = rng.chance(0.6) ? t.aperture : t.hidden;
  const room = Math.max(0, slice.size / PAGE_SIZE - pages);
  const gma = slice.base + (rng.chance(0.7) ? rng.int(Math.min(room, 256) + 1) : rng.int(room + 1)) * PAGE_SIZE;
  const firstPage = rng.int(Math.max(1, t.pageCount - pages));
  const step = rng.chance(0.8) ? 1 : rng.range(2, 3);
  // A run longer than memory allows (or one page short) is part of the game: holes and overruns.
  const count = rng.chance(0.9) ? pages : Math.max(1, pages - rng.range(1, 2));
  out.push({ t: 'map', gma, page: firstPage, count: Math.min(count, 4096), step, halves: rng.chance(0.2) });
  out.push({ t: 'w32', off: PIPESRC(pipe), v: pipesrcValue(width, height) });
  out.push({ t: 'w32', off: PIPECONF(pipe), v: PIPECONF_ENABLE });
  out.push({ t: 'w32', off: PLANE_CTL(pipe), v: planeCtlValue({
    format: fmt, tiling, rgbxOrder: rng.bool(), alpha: rng.int(4), yuvOrder: rng.int(4) }) });
  out.push({ t: 'w32', off: PLANE_STRIDE(pipe), v: units });
  out.push({ t: 'w32', off: PLANE_SURF(pipe), v: gma });
  if (rng.chance(0.5)) {
    const mode = rng.pick(CURSOR_MODES);
    const side = mode === 0x22 ? 128 : mode === 0x23 ? 256 : 64;
    const cgma = pickGma(rng, t, side * side * 4);
    out.push({ t: 'map', gma: cgma - (cgma % PAGE_SIZE), page: rng.int(t.pageCount), count: (side * side * 4) / PAGE_SIZE,
      step: 1, halves: false });
    out.push({ t: 'w32', off: CUR_CTL(pipe), v: mode });
    out.push({ t: 'w32', off: CUR_POS(pipe), v: curPosValue(rng.range(-100, 2000), rng.range(-100, 1200)) });
    out.push({ t: 'w32', off: CUR_BASE(pipe), v: cgma });
    if (rng.bool()) {
      out.push({ t: 'w32', off: CURSOR_X_HOT, v: rng.chance(0.8) ? rng.int(side + 2) : interestingU32(rng) });
      out.push({ t: 'w32', off: CURSOR_Y_HOT, v: rng.chance(0.8) ? rng.int(side + 2) : interestingU32(rng) });
    }
  }
  if (rng.chance(0.3)) {
    // The sprite (OVERLAY): sized by PLANE_SIZE, with its own surface.
    const sw = rng.range(1, 256);
    const sh = rng.range(1, 256);
    const sgma = pickGma(rng, t, sw * sh * 4);
    out.push({ t: 'map', gma: sgma - (sgma % PAGE_SIZE), page: rng.int(t.pageCount), count: Math.ceil((sw * 4 * sh) / PAGE_SIZE) + 1,
      step: 1, halves: false });
    out.push({ t: 'w32', off: SPRITE_SIZE(pipe), v: planeSizeValue(sw, sh) });
    const sprite = encodePlane({
      format: PLANE_FORMAT.XRGB_8888, bpp: 32, tiling: 'linear', stride: planeStride(sw, 32, 'linear'),
    })!;
    out.push({ t: 'w32', off: SPRITE_CTL(pipe), v: sprite.ctl });
    out.push({ t: 'w32', off: SPRITE_STRIDE(pipe), v: sprite.stride });
    out.push({ t: 'w32', off: SPRITE_SURF(pipe), v: sgma });
  }
  out.push({ t: 'vblank' });
}

/** One random guest action, biased toward the registers the decoder reads. */
export function randomGvtOp(rng: Rng, t: GvtTarget): GvtOp {
  const pipe = rng.weighted([[6, 0], [2, 1], [2, 2], [1, 3]]);
  const w = (off: number, v: number): GvtOp => ({ t: 'w32', off, v: v >>> 0 });
  return rng.weighted<() => GvtOp>([
    [6, () => w(PLANE_CTL(pipe), rng.chance(0.6)
      ? planeCtlValue({ enable: rng.chance(0.85), format: rng.int(16), tiling: rng.int(8), rgbxOrder: rng.bool(),
        alpha: rng.int(4), yuvOrder: rng.int(4) })
      : interestingU32(rng))],
    [4, () => w(PLANE_STRIDE(pipe), rng.chance(0.7) ? rng.size(0x3ff) : interestingU32(rng))],
    [6, () => w(PLANE_SURF(pipe), pickGma(rng, t))],
    [3, () => w(PIPESRC(pipe), rng.chance(0.7) ? pipesrcValue(rng.range(1, 8192), rng.range(1, 4096)) : interestingU32(rng))],
    [3, () => w(PIPECONF(pipe), rng.weighted([[4, PIPECONF_ENABLE], [2, 0], [1, interestingU32(rng)]]))],
    [3, () => w(CUR_CTL(pipe), rng.chance(0.8) ? rng.pick(CURSOR_MODES) : interestingU32(rng))],
    [3, () => w(CUR_BASE(pipe), pickGma(rng, t))],
    [2, () => w(CUR_POS(pipe), rng.chance(0.5) ? curPosValue(rng.range(-8191, 8191), rng.range(-4095, 4095)) : rng.u32())],
    [2, () => w(rng.bool() ? CURSOR_X_HOT : CURSOR_Y_HOT, rng.chance(0.6) ? rng.int(260) : interestingU32(rng))],
    [1, () => w(PVINFO_BASE + rng.int(0x1000 / 4) * 4, interestingU32(rng))],
    [2, () => w(rng.pick([SPRITE_CTL(pipe), SPRITE_STRIDE(pipe), SPRITE_SIZE(pipe), SPRITE_SURF(pipe)]),
      rng.bool() ? pickGma(rng, t) : interestingU32(rng))],
    [1, () => w(rng.pick([PLANE_POS(pipe), PLANE_SIZE(pipe), PLANE_OFFSET(pipe)]), interestingU32(rng))],
    [8, () => ({ t: 'w64', off: pickGttOffset(rng, t), v: pickPte(rng, t) })],
    [3, () => {
      const pte = pickPte(rng, t);
      const half = rng.bool();
      return w(pickGttOffset(rng, t) + (half ? 4 : 0), Number(half ? pte >> 32n : pte & 0xffffffffn));
    }],
    [3, () => ({ t: 'map', gma: pickGma(rng, t) & ~(PAGE_SIZE - 1), page: pickPage(rng, t), count: rng.size(64) + 1,
      step: rng.chance(0.8) ? 1 : rng.range(0, 5), halves: rng.chance(0.2) })],
    [4, () => ({ t: 'vblank' })],
    [1, () => w(rng.int(BAR0_SIZE / 4) * 4, interestingU32(rng))],
    [1, () => w(rng.chance(0.5) ? rng.u32() : rng.range(0x70000, 0x73000), rng.u32())],
    [1, () => ({ t: 'w64', off: rng.chance(0.5) ? rng.int(BAR0_SIZE / 8) * 8 : rng.u32(), v: rng.u64() })],
  ])();
}

/** A guest program: sometimes a valid setup first, then mutations and vblanks. */
export function gvtProgram(rng: Rng, t: GvtTarget, maxOps = 24, validChance = 0.35): GvtOp[] {
  const out: GvtOp[] = [];
  if (rng.chance(validChance)) validGvtSetup(rng, t, out);
  const n = rng.size(maxOps);
  for (let i = 0; i < n; i++) out.push(randomGvtOp(rng, t));
  if (rng.chance(0.8)) out.push({ t: 'vblank' });
  return out;
}

/** Run a GVT op against the device; `onWrite` observes every 32/64-bit access actually issued. */
export function applyGvtOp(dev: GvtDevice, op: GvtOp, onWrite?: (off: number, v: number | bigint) => void): void {
  switch (op.t) {
    case 'w32':
      onWrite?.(op.off, op.v);
      dev.mmioWrite32(op.off, op.v);
      return;
    case 'w64':
      onWrite?.(op.off, op.v);
      dev.mmioWrite64(op.off, op.v);
      return;
    case 'vblank':
      dev.vblank();
      return;
    case 'map': {
      const first = Math.floor(op.gma / PAGE_SIZE);
      for (let i = 0; i < op.count; i++) {
        const off = GTT_BASE + (first + i) * 8;
        if (off + 8 > BAR0_SIZE) return;
        const pte = gttPte(Math.max(0, op.page + i * op.step));
        if (op.halves) {
          // A 32-bit guest writes the high dword first, then the low one with the valid bit.
          const hi = Number(pte >> 32n);
          const lo = Number(pte & 0xffffffffn);
          onWrite?.(off + 4, hi);
          dev.mmioWrite32(off + 4, hi);
          onWrite?.(off, lo);
          dev.mmioWrite32(off, lo);
        } else {
          onWrite?.(off, pte);
          dev.mmioWrite64(off, pte);
        }
      }
      return;
    }
  }
}

export function describeGvtOp(op: GvtOp): string {
  switch (op.t) {
    case 'w32': return `mmio32[0x${op.off.toString(16)}] = 0x${op.v.toString(16)}`;
    case 'w64': return `mmio64[0x${op.off.toString(16)}] = 0x${op.v.toString(16)}`;
    case 'map': return `gtt map gma 0x${op.gma.toString(16)} → page ${op.page} ×${op.count} step ${op.step}${op.halves ? ' (dwords)' : ''}`;
    case 'vblank': return 'vblank';
  }
}

// ---- bochs ---------------------------------------------------------------------------------------

/** A valid mode (mbochs_check_framebuffer passes), as a bochs guest driver programs it. */
export function validBochsSetup(rng: Rng, vramBytes: number, out: BochsOp[]): void {
  const set = (i: number, v: number): void => { out.push({ t: 'mmio', off: dispiOffset(i), size: 2, v: v & 0xffff }); };
  const w = rng.chance(0.5) ? rng.range(64, 800) : rng.range(64, 2048);
  const maxH = Math.max(64, Math.floor(vramBytes / (w * 4)));
  const h = rng.range(64, Math.min(1536, maxH));
  set(DISPI.ENABLE, 0);
  set(DISPI.XRES, w);
  set(DISPI.YRES, h);
  set(DISPI.BPP, 32);
  set(DISPI.VIRT_WIDTH, rng.chance(0.7) ? w : w + rng.size(256));
  set(DISPI.X_OFFSET, rng.chance(0.8) ? 0 : rng.size(64));
  set(DISPI.Y_OFFSET, rng.chance(0.6) ? 0 : rng.size(h));
  set(DISPI.ENABLE, rng.pick([0x41, 0x01, 0xc1]));
}

export function randomBochsOp(rng: Rng): BochsOp {
  const set = (i: number, v: number): BochsOp => ({ t: 'mmio', off: dispiOffset(i), size: 2, v: v & 0xffff });
  const res = (): number => rng.weighted([[3, rng.range(64, 2048)], [2, rng.pick([0, 1, 63, 64, 65, 0xffff])], [1, rng.u32()]]);
  return rng.weighted<() => BochsOp>([
    [4, () => set(rng.bool() ? DISPI.XRES : DISPI.YRES, res())],
    [2, () => set(DISPI.BPP, rng.pick([32, 32, 0, 8, 15, 16, 24, 0xffff]))],
    [3, () => set(DISPI.ENABLE, rng.pick([0, 1, 0x41, 0xc1, 0x02, 0xffff]))],
    [2, () => set(DISPI.VIRT_WIDTH, res())],
    [5, () => set(DISPI.Y_OFFSET, rng.weighted([[3, rng.size(2048)], [1, 0xffff], [1, rng.u32()]]))],
    [3, () => set(DISPI.X_OFFSET, rng.weighted([[3, rng.size(1024)], [1, 0xffff], [1, 1]]))],
    [1, () => set(rng.pick([DISPI.ID, DISPI.BANK, DISPI.VIRT_HEIGHT, DISPI.VIDEO_MEMORY_64K, 0xb, 0xc]), rng.u32())],
    [2, () => ({ t: 'mmio', off: rng.range(0, 0x1100), size: rng.pick([0, 1, 2, 3, 4, 8]), v: rng.u32() })],
    [2, () => ({ t: 'vblank' })],
  ])();
}

export function bochsProgram(rng: Rng, vramBytes: number, maxOps = 16, validChance = 0.35): BochsOp[] {
  const out: BochsOp[] = [];
  if (rng.chance(validChance)) validBochsSetup(rng, vramBytes, out);
  const n = rng.size(maxOps);
  for (let i = 0; i < n; i++) out.push(randomBochsOp(rng));
  return out;
}

export function applyBochsOp(dev: BochsDevice, op: BochsOp): void {
  if (op.t === 'vblank') dev.vblank();
  else dev.mmioWrite(op.off, op.size, op.v);
}

export function describeBochsOp(op: BochsOp): string {
  return op.t === 'vblank' ? 'vblank' : `mmio${op.size * 8}[0x${op.off.toString(16)}] = 0x${op.v.toString(16)}`;
}
