import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import type { Vgpu } from '../vfio/EmulatedHost.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { DISPI, DISPI_ENABLE, dispiOffset } from '../vgpu/bochs/BochsRegisters.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import {
  encodePlane, pageRun, planeSize, planeStride, programPlane, writePtes, type Gen9Window,
} from '../vgpu/gvt/Gen9Programming.ts';
import {
  CURSOR_MODE, CURSOR_X_HOT, CURSOR_Y_HOT, CUR_BASE, CUR_CTL, CUR_POS, PIPECONF, PIPECONF_ENABLE,
  PIPESRC, PLANE_FORMAT, PRIMARY_PLANE_BASE, curPosValue, pipesrcValue,
} from '../vgpu/gvt/GvtRegisters.ts';

const WIDTH = 1024;
const HEIGHT = 768;
const CURSOR = 64;

/**
 * Program a freshly created emulated vGPU the way a booted guest would have, so `probe --demo` and
 * `snapshot --demo` have planes to show without running a guest OS: gvt gets a 1024×768
 * double-buffered primary and a 64×64 cursor with a hotspot; bochs a 1024×768 mode; mdpy always
 * shows its framebuffer. Returns a one-line description.
 */
export function setupDemoScanout(vgpu: Vgpu): string {
  if (vgpu.kind === 'gvt') {
    gvtDemo(vgpu, vgpu.device as GvtDevice);
    return 'gvt: 1024x768 XRGB8888 primary (double-buffered), 64x64 ARGB8888 cursor at (100, 50)';
  }
  if (vgpu.kind === 'bochs') {
    const dev = vgpu.device as BochsDevice;
    const set = (i: number, v: number): void => dev.mmioWrite(dispiOffset(i), 2, v);
    set(DISPI.XRES, WIDTH);
    set(DISPI.YRES, HEIGHT);
    set(DISPI.BPP, 32);
    set(DISPI.ENABLE, DISPI_ENABLE.ENABLED | DISPI_ENABLE.LFB_ENABLED);
    return 'bochs: 1024x768 XRGB8888 mode';
  }
  return 'region: the framebuffer is always scanned out';
}

/** Front and back buffer, then the cursor: consecutive guest pages mapped at the aperture start. */
function gvtDemo(vgpu: Vgpu, dev: GvtDevice): void {
  const bar0: Gen9Window = {
    write32: (o, v) => dev.mmioWrite32(o, v), write64: (o, v) => dev.mmioWrite64(o, v),
  };
  const stride = planeStride(WIDTH, 32, 'linear');
  const frame = planeSize(stride, HEIGHT, 'linear');
  const cursorStride = CURSOR * 4;
  let page = vgpu.layout.ramFirstPage;
  let gma = dev.aperture.base;
  const map = (bytes: number): { page: number; gma: number } => {
    const count = Math.ceil(bytes / PAGE_SIZE);
    const at = { page, gma };
    if (page + count > vgpu.layout.ramFirstPage + vgpu.layout.ramPages || gma + count * PAGE_SIZE >
      dev.aperture.base + dev.aperture.size) throw new RangeError('demo scanout does not fit the vGPU');
    writePtes(bar0, gma, pageRun(page, count));
    page += count;
    gma += count * PAGE_SIZE;
    return at;
  };
  const front = map(frame);
  map(frame);
  const cursor = map(cursorStride * CURSOR);
  fill(vgpu, front.page, stride, HEIGHT, 0xff204060);
  fill(vgpu, cursor.page, cursorStride, CURSOR, 0xc0ffffff);
  dev.mmioWrite32(PIPESRC(0), pipesrcValue(WIDTH, HEIGHT));
  const regs = encodePlane({ format: PLANE_FORMAT.XRGB_8888, bpp: 32, tiling: 'linear', stride })!;
  programPlane(bar0, PRIMARY_PLANE_BASE(0), regs, front.gma);
  dev.mmioWrite32(PIPECONF(0), PIPECONF_ENABLE);
  dev.mmioWrite32(CUR_CTL(0), CURSOR_MODE.ARGB_64);
  dev.mmioWrite32(CUR_BASE(0), cursor.gma);
  dev.mmioWrite32(CUR_POS(0), curPosValue(100, 50));
  dev.mmioWrite32(CURSOR_X_HOT, 1);
  dev.mmioWrite32(CURSOR_Y_HOT, 1);
  dev.vblank();
}

/** Fill `rows` rows of `stride` bytes from guest page `page` with one 0xAARRGGBB pixel. */
function fill(vgpu: Vgpu, page: number, stride: number, rows: number, argb: number): void {
  const px = [argb & 0xff, (argb >>> 8) & 0xff, (argb >>> 16) & 0xff, argb >>> 24];
  const row = Uint8Array.from({ length: stride }, (_, i) => px[i & 3]!);
  const bytes = vgpu.memory.bytes;
  for (let y = 0; y < rows; y++) bytes.set(row, page * PAGE_SIZE + y * stride);
}
