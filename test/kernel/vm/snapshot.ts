/**
 * In-VM snapshot test on the O_RDWR lab build of mbochs (stock mbochs dma-bufs cannot be
 * mmapped): program a mode and a known pattern the way a guest driver does (DISPI registers
 * through BAR2, pixels through an mmap of BAR0), take a snapshot through the dma-buf — QUERY,
 * GET, mmap of the dma-buf, the software renderer, PNG — and check every pixel of the decoded PNG.
 * Then: the dma-buf is live (rewrite VRAM, render again), and 800x600 (a size that is not whole
 * pages) gives a short mapping whose mapped part is right.
 *
 * Usage: node --import tsx test/kernel/vm/snapshot.ts MBOCHS_UUID
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DRM_FORMAT } from '../../../src/kms/Fourcc.ts';
import type { LinuxMapping } from '../../../src/linux/LinuxSys.ts';
import { openRealDevice } from '../../../src/linux/RealDevice.ts';
import { O_RDWR } from '../../../src/linux/Libc.ts';
import { decodePng, encodePng } from '../../../src/render/Png.ts';
import { SoftwareRenderer } from '../../../src/render/SoftwareRenderer.ts';
import { VFIO_DEVICE_RESET, VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR2_REGION_INDEX } from '../../../src/vfio/Abi.ts';
import { PROT_READ, PROT_WRITE } from '../../../src/vfio/Sys.ts';
import { getDmabuf } from '../../../src/testkit/Ioctl.ts';
import { DISPI } from '../../../src/vgpu/bochs/BochsRegisters.ts';
import { Checker, Dispi, RESULTS, pattern, queryPrimary, rc, regionInfo, VFIO_API } from './VmLib.ts';

const uuid = process.argv[2];
if (!uuid) {
  console.error('usage: snapshot.ts MBOCHS_UUID');
  process.exit(2);
}
const c: Checker = new Checker('snapshot-mbochs');
const dev = await openRealDevice(uuid, { vfioApi: VFIO_API });
const { sys, fd } = dev;
const bar0 = regionInfo(sys, fd, VFIO_PCI_BAR0_REGION_INDEX);
const bar2 = regionInfo(sys, fd, VFIO_PCI_BAR2_REGION_INDEX);
const dispi = new Dispi(sys, fd, Number(bar2.info.offset));
sys.ioctl(fd, VFIO_DEVICE_RESET, new Uint8Array(0));
const vram = sys.mmap(fd, Number(bar0.info.offset), Number(bar0.info.size), PROT_READ | PROT_WRITE);
if (typeof vram === 'number') {
  c.ok(false, `mmap BAR0: ${rc(vram)}`);
  c.done();
}
const vramPx = new Uint32Array(vram.chunks[0]!.buffer, vram.chunks[0]!.byteOffset, vram.length / 4);

function setMode(w: number, h: number, seed: number): void {
  for (const [i, v] of [[DISPI.ENABLE, 0], [DISPI.XRES, w], [DISPI.YRES, h], [DISPI.BPP, 32], [DISPI.VIRT_WIDTH, w],
    [DISPI.X_OFFSET, 0], [DISPI.Y_OFFSET, 0], [DISPI.ENABLE, 0x41]] as const) dispi.write(i, v);
  fill(w, h, seed);
}

function fill(w: number, h: number, seed: number): void {
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) vramPx[y * w + x] = pattern(x, y, seed);
}

/** Pixels of an RGBA image that differ from the pattern, in the first `rows` rows. */
function mismatches(rgba: Uint8Array, w: number, rows: number, seed: number): number {
  let bad = 0;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < w; x++) {
      const p = pattern(x, y, seed);
      const i = (y * w + x) * 4;
      if (rgba[i] !== ((p >> 16) & 0xff) || rgba[i + 1] !== ((p >> 8) & 0xff) || rgba[i + 2] !== (p & 0xff) || rgba[i + 3] !== 255) bad++;
    }
  }
  return bad;
}

interface Shot { fd: number; map: LinuxMapping; renderer: SoftwareRenderer; width: number; height: number }

/** QUERY → GET → mmap(dma-buf) → render; undefined (after a failed check) when a step fails. */
function snapshot(w: number, h: number): Shot | undefined {
  const q = queryPrimary(sys, fd);
  if (q.enomem) c.quirk('mbochs', 'B12', `first QUERY after mode ${w}x${h} returned -ENOMEM (B12)`);
  const p = q.info;
  if (!c.ok(q.rc === 0 && p.width === w && p.height === h && p.drmFormat === DRM_FORMAT.XRGB8888,
    `query ${w}x${h}: rc ${rc(q.rc)} ${p.width}x${p.height} stride ${p.stride} size ${p.size} id ${p.dmabufId}`)) return undefined;
  const dfd = getDmabuf(sys, fd, p.dmabufId);
  if (!c.ok(dfd >= 0, `GET_GFX_DMABUF(${p.dmabufId}) -> ${rc(dfd)}`)) return undefined;
  c.ok(sys.accessMode(dfd) === O_RDWR, 'the lab build exports the dma-buf O_RDWR');
  const m = sys.mmap(dfd, 0, p.size, PROT_READ);
  if (!c.ok(typeof m === 'object', `mmap dma-buf (${p.size} bytes): ${typeof m === 'number' ? rc(m) : 'ok'}`) || typeof m === 'number') {
    sys.close(dfd);
    return undefined;
  }
  const map = m as LinuxMapping;
  const renderer = new SoftwareRenderer();
  const st = renderer.setPrimary({ source: map, drmFormat: p.drmFormat, modifier: p.drmFormatMod, width: w, height: h, stride: p.stride });
  c.ok(st === 'ok', `renderer accepts the plane: ${st}`);
  const r = renderer.render();
  c.ok(r.status === 'ok', `render: ${r.status} ${r.message ?? ''}`);
  return { fd: dfd, map, renderer, width: w, height: h };
}

function png(shot: Shot, name: string): Uint8Array {
  const file = encodePng(shot.renderer.framebuffer, shot.width, shot.height);
  writeFileSync(join(RESULTS, name), file);
  const img = decodePng(file);
  c.ok(img.width === shot.width && img.height === shot.height, `${name}: ${img.width}x${img.height}, ${file.length} bytes`);
  return img.rgba;
}

// 640x480: the whole plane, through a PNG.
setMode(640, 480, 7);
const s1 = snapshot(640, 480);
if (s1) {
  c.ok(s1.map.backedLength === s1.map.length, 'the whole 640x480 dma-buf is mapped');
  c.ok(mismatches(png(s1, 'snapshot-640x480.png'), 640, 480, 7) === 0, 'every pixel of the 640x480 snapshot PNG is the pattern');
  // The dma-buf shares VRAM pages: new guest pixels show in the same mapping.
  fill(640, 480, 8);
  s1.renderer.invalidate();
  s1.renderer.render();
  c.ok(mismatches(s1.renderer.framebuffer, 640, 480, 8) === 0, 'the dma-buf is live: VRAM rewritten, the next render shows it');
  s1.map.unmap();
  sys.close(s1.fd);
}

// 800x600: 1920000 bytes is not whole pages; the dma-buf core refuses to map the last partial page.
setMode(800, 600, 9);
const short0 = sys.stats.shortMaps;
const s2 = snapshot(800, 600);
if (s2) {
  const rows = Math.floor(s2.map.backedLength / (800 * 4));
  if (sys.stats.shortMaps > short0) {
    c.quirk('mbochs', 'MBOCHS-SHORT-MAP', `800x600 dma-buf of ${s2.map.length} bytes: only ${s2.map.backedLength} can be mapped (size not page aligned)`);
  }
  c.ok(rows >= 598, `${s2.map.backedLength} of ${s2.map.length} bytes mapped (${rows} whole rows)`);
  c.ok(mismatches(png(s2, 'snapshot-800x600.png'), 800, rows, 9) === 0, `the mapped ${rows} rows of the 800x600 snapshot are the pattern`);
  s2.map.unmap();
  sys.close(s2.fd);
}

c.ok(sys.stats.doubleGetsAvoided === 0, 'no GET was asked twice for a held id');
vram.unmap();
sys.ioctl(fd, VFIO_DEVICE_RESET, new Uint8Array(0));
dev.close();
c.done();
