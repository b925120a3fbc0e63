import type { Vgpu } from '../vfio/EmulatedHost.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { DISPI, DISPI_ENABLE, dispiOffset } from '../vgpu/bochs/BochsRegisters.ts';
import { GvtGuest } from './GvtGuest.ts';

/**
 * Program a freshly created emulated vGPU the way a booted guest would have, so `probe --demo`
 * has planes to show without running a guest OS: gvt gets a 1024×768 double-buffered primary and
 * a 64×64 cursor with a hotspot; bochs a 1024×768 mode; mdpy always shows its framebuffer.
 * Returns a one-line description.
 */
export function setupDemoScanout(vgpu: Vgpu): string {
  if (vgpu.kind === 'gvt') {
    const g = new GvtGuest(vgpu);
    const front = g.alloc({ width: 1024, height: 768 });
    g.alloc({ width: 1024, height: 768 });
    const cursor = g.alloc({ width: 64, height: 64 });
    g.fillRect(front, 0, 0, 1024, 768, 0xff204060, false);
    g.fillRect(cursor, 0, 0, 64, 64, 0xc0ffffff, false);
    g.showPrimary(front);
    g.showCursor(cursor, 100, 50);
    g.setHotspot(1, 1);
    g.vblank();
    return 'gvt: 1024x768 XRGB8888 primary (double-buffered), 64x64 ARGB8888 cursor at (100, 50)';
  }
  if (vgpu.kind === 'bochs') {
    const dev = vgpu.device as BochsDevice;
    const set = (i: number, v: number): void => dev.mmioWrite(dispiOffset(i), 2, v);
    set(DISPI.XRES, 1024);
    set(DISPI.YRES, 768);
    set(DISPI.BPP, 32);
    set(DISPI.ENABLE, DISPI_ENABLE.ENABLED | DISPI_ENABLE.LFB_ENABLED);
    return 'bochs: 1024x768 XRGB8888 mode';
  }
  return 'region: the framebuffer is always scanned out';
}
