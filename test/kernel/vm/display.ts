/**
 * In-VM test of the display client (src/display VfioDisplay) on the O_RDWR lab build of mbochs:
 * the guest side programs modes, pans and pixels through BAR2/BAR0; the client refreshes (a
 * VirtualClock, so refreshes happen exactly when asked) and must show each buffer with the right
 * pixels, hit its cache for a buffer it holds, and never ask the kernel twice for an id whose fd
 * it holds (src/linux counts such GETs: doubleGetsAvoided must stay 0). A revisited buffer whose
 * fd the client evicted is asked again: on mbochs src/linux answers that from its pin (no
 * re-export, see LinuxSys.pinDmabufs).
 *
 * Usage: node test/kernel/vm/display.js MBOCHS_UUID
 */
import { VirtualClock } from '../../../src/base/Clock.ts';
import { VfioDisplay } from '../../../src/display/VfioDisplay.ts';
import { openRealDevice } from '../../../src/linux/RealDevice.ts';
import { VFIO_DEVICE_RESET, VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR2_REGION_INDEX } from '../../../src/vfio/Abi.ts';
import { PROT_READ, PROT_WRITE } from '../../../src/vfio/Sys.ts';
import { DISPI } from '../../../src/vgpu/bochs/BochsRegisters.ts';
import { Checker, Dispi, pattern, rc, regionInfo, VFIO_API } from './VmLib.ts';

const uuid = process.argv[2];
if (!uuid) {
  console.error('usage: display.ts MBOCHS_UUID');
  process.exit(2);
}
const c: Checker = new Checker('display-mbochs');
const dev = await openRealDevice(uuid, { vfioApi: VFIO_API });
const { sys, fd } = dev;
sys.ioctl(fd, VFIO_DEVICE_RESET, new Uint8Array(0));
const bar0 = regionInfo(sys, fd, VFIO_PCI_BAR0_REGION_INDEX);
const dispi = new Dispi(sys, fd, Number(regionInfo(sys, fd, VFIO_PCI_BAR2_REGION_INDEX).info.offset));
const vram = sys.mmap(fd, Number(bar0.info.offset), Number(bar0.info.size), PROT_READ | PROT_WRITE);
if (typeof vram === 'number') {
  c.ok(false, `mmap BAR0: ${rc(vram)}`);
  c.done();
}
const vramPx = new Uint32Array(vram.chunks[0]!.buffer, vram.chunks[0]!.byteOffset, vram.length / 4);

interface Frame { w: number; h: number; yOffset: number; seed: number }

/** Guest side: program the mode (or just the pan) and draw the pattern where it scans out. */
function guest(f: Frame, modeChange: boolean): void {
  if (modeChange) {
    for (const [i, v] of [[DISPI.ENABLE, 0], [DISPI.XRES, f.w], [DISPI.YRES, f.h], [DISPI.BPP, 32],
      [DISPI.VIRT_WIDTH, f.w], [DISPI.X_OFFSET, 0], [DISPI.ENABLE, 0x41]] as const) dispi.write(i, v);
  }
  dispi.write(DISPI.Y_OFFSET, f.yOffset);
  const base = f.yOffset * f.w;
  for (let y = 0; y < f.h; y++) for (let x = 0; x < f.w; x++) vramPx[base + y * f.w + x] = pattern(x, y, f.seed);
}

const PRIMARY = 1;
const clock = new VirtualClock();
const display = new VfioDisplay(sys, fd, { clock, cacheSize: 2, intervalMs: 16 });
display.start();
c.ok(display.mode === 'dmabuf', `the client probes the dma-buf path: ${display.mode}`);

/** Refresh until the client shows a w x h buffer (mbochs needs 2 for a new mode: B12). */
function shown(f: Frame, label: string): number {
  let refreshes = 0;
  for (; refreshes < 4; refreshes++) {
    clock.advance(16);
    const s = display.console.scanout;
    if (s && s.width === f.w && s.height === f.h && display.planeInfo(PRIMARY).result === 0 && display.planeInfo(PRIMARY).dmabufId === s.id) break;
  }
  const s = display.console.scanout;
  if (!c.ok(s !== undefined && s.width === f.w && s.height === f.h, `${label}: shows ${s?.width}x${s?.height} id ${s?.id} after ${refreshes + 1} refreshes`)) return -1;
  const m = s!.mapping;
  let bad = 0;
  const rows = Math.min(f.h, Math.floor((m.chunks[0]!.length) / s!.stride));
  const px = new Uint32Array(m.chunks[0]!.buffer, m.chunks[0]!.byteOffset, Math.floor(m.chunks[0]!.length / 4));
  for (let y = 0; y < rows; y++) for (let x = 0; x < f.w; x++) if (px[y * (s!.stride / 4) + x] !== pattern(x, y, f.seed)) bad++;
  c.ok(bad === 0, `${label}: the ${rows} mapped rows are the guest's pixels (${bad} mismatches)`);
  return s!.id;
}

const A: Frame = { w: 640, h: 480, yOffset: 0, seed: 1 };
const B: Frame = { w: 800, h: 600, yOffset: 0, seed: 2 };
const A2: Frame = { w: 640, h: 480, yOffset: 480, seed: 3 };
const C: Frame = { w: 1024, h: 768, yOffset: 0, seed: 4 };

guest(A, true);
const idA = shown(A, '640x480');
guest(B, true);
shown(B, '800x600');
let gets = display.stats.gets;
guest(A, true);
c.ok(shown(A, 'back to 640x480') === idA && display.stats.gets === gets, `640x480 again: same id ${idA}, a cache hit (no GET)`);
guest(A2, false);
shown(A2, 'pan to the second 640x480 page');
guest(C, true);
shown(C, '1024x768 (the cache of 2 evicts)');
gets = display.stats.gets;
guest(A, true);
c.ok(shown(A, '640x480 after eviction') === idA && display.stats.gets === gets + 1, 'the evicted buffer is asked for again (one GET)');
const st = display.stats;
c.info(`client: ${st.refreshes} refreshes, ${st.queries} queries, ${st.gets} GETs, ${st.cacheHits} hits, ${st.evictions} evictions, ` +
  `${st.retries} retries, ${st.bytesCopied} bytes copied; src/linux: ${JSON.stringify(sys.stats)}`);
c.ok(sys.stats.doubleGetsAvoided === 0, 'the client never asked GET for an id whose fd it held');
if (sys.stats.reexportsAvoided > 0) {
  c.quirk('mbochs', 'MBOCHS-REEXPORT', `the client re-asked for ${sys.stats.reexportsAvoided} evicted buffer(s): answered from src/linux's pin (a re-export would over-put VRAM pages)`);
}
c.ok(st.bytesCopied === 0, 'zero copy on the dma-buf path');
c.ok(st.errors === 0, `no client errors (status: ${display.console.status.reason} ${display.console.status.message})`);
display.dispose();
const after = display.stats;
c.ok(after.fdsOpened === after.fdsClosed, `dispose closes every fd the client opened (${after.fdsOpened} opened, ${after.fdsClosed} closed)`);
vram.unmap();
sys.ioctl(fd, VFIO_DEVICE_RESET, new Uint8Array(0));
dev.close();
c.done();
