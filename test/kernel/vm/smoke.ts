/**
 * In-VM smoke test of src/linux on a real mdev: open through /dev/vfio, GET_INFO, region info,
 * the QUERY/GET flow, close-on-exec of received fds, the double-GET guard, mmap of regions and
 * dma-bufs. Uses only src/linux and the src/vfio codecs.
 *
 * Usage: node --import tsx test/kernel/vm/smoke.ts mbochs|mdpy UUID
 */
import { openRealDevice } from '../../../src/linux/RealDevice.ts';
import { O_RDONLY } from '../../../src/linux/Libc.ts';
import {
  VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_RESET, VFIO_GFX_PLANE_TYPE_DMABUF,
  VFIO_GFX_PLANE_TYPE_PROBE, VFIO_GFX_PLANE_TYPE_REGION, VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_BAR2_REGION_INDEX,
} from '../../../src/vfio/Abi.ts';
import { encodeDeviceInfoRequest, readDeviceInfo } from '../../../src/vfio/DeviceInfo.ts';
import { PROT_READ, PROT_WRITE } from '../../../src/vfio/Sys.ts';
import { getDmabuf, query } from '../../../src/testkit/Ioctl.ts';
import { DISPI, DISPI_ID5 } from '../../../src/vgpu/bochs/BochsRegisters.ts';
import { DRM_FORMAT } from '../../../src/kms/Fourcc.ts';
import { PlaneType } from '../../../src/kms/PlaneType.ts';
import { Checker, Dispi, fourcc, pattern, queryPrimary, rc, regionInfo, VFIO_API } from './VmLib.ts';

const [kind, uuid] = process.argv.slice(2);
if ((kind !== 'mbochs' && kind !== 'mdpy') || !uuid) {
  console.error('usage: smoke.ts mbochs|mdpy UUID');
  process.exit(2);
}
const c: Checker = new Checker(`smoke-${kind}`);
const dev = await openRealDevice(uuid, { vfioApi: VFIO_API });
const { sys, fd } = dev;
c.ok(fd >= 0 && sys.getCloexec(fd) === true, `opened ${dev.sysfsPath} (${dev.mdevType}, driver ${dev.driver}, ${dev.api === 'cdev' ? `${dev.cdevPath}, iommufd devid ${dev.iommufd?.devid} IOAS ${dev.iommufd?.ioasId}` : dev.groupPath}) -> device fd ${fd}, cloexec`);
// auto means cdev exactly when the kernel gave the mdev one (6.6+ with CONFIG_VFIO_DEVICE_CDEV)
const wantApi = VFIO_API !== 'auto' ? VFIO_API : dev.cdevPath ? 'cdev' : 'group';
c.ok(dev.api === wantApi, `--vfio-api ${VFIO_API}: opened through ${dev.api} (cdev ${dev.cdevPath ?? 'none'})`);

const di = encodeDeviceInfoRequest();
c.ok(sys.ioctl(fd, VFIO_DEVICE_GET_INFO, di) === 0, 'VFIO_DEVICE_GET_INFO');
const info = readDeviceInfo(di);
c.ok((info.flags & VFIO_DEVICE_FLAGS_PCI) !== 0, `flags 0x${info.flags.toString(16)} num_regions ${info.numRegions} num_irqs ${info.numIrqs}`);

if (kind === 'mbochs') {
  c.ok(query(sys, fd, VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_DMABUF, 0).rc === 0, 'PROBE|DMABUF -> 0');
  c.ok(query(sys, fd, VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_REGION, 0).rc === -22, 'PROBE|REGION -> -EINVAL');
  const bar0 = regionInfo(sys, fd, VFIO_PCI_BAR0_REGION_INDEX);
  const bar2 = regionInfo(sys, fd, VFIO_PCI_BAR2_REGION_INDEX);
  c.ok(bar0.rc === 0 && bar2.rc === 0, `BAR0 offset ${bar0.info.offset} size ${bar0.info.size}; BAR2 offset ${bar2.info.offset}`);
  const dispi = new Dispi(sys, fd, Number(bar2.info.offset));
  c.ok(sys.ioctl(fd, VFIO_DEVICE_RESET, new Uint8Array(0)) === 0, 'VFIO_DEVICE_RESET');
  c.ok(dispi.read(DISPI.ID) === DISPI_ID5, `DISPI ID 0x${dispi.read(DISPI.ID).toString(16)}`);
  let q = queryPrimary(sys, fd);
  c.ok(q.rc === 0 && q.info.size === 0 && q.info.dmabufId === 0, 'disabled plane before a mode is set');

  const W = 640, H = 480;
  for (const [i, v] of [[DISPI.ENABLE, 0], [DISPI.XRES, W], [DISPI.YRES, H], [DISPI.BPP, 32], [DISPI.VIRT_WIDTH, W],
    [DISPI.X_OFFSET, 0], [DISPI.Y_OFFSET, 0], [DISPI.ENABLE, 0x41]] as const) dispi.write(i, v);
  const vram = sys.mmap(fd, Number(bar0.info.offset), W * H * 4, PROT_READ | PROT_WRITE);
  c.ok(typeof vram === 'object', `mmap BAR0 read-write: ${typeof vram === 'number' ? rc(vram) : 'ok'}`);
  if (typeof vram === 'number') c.done();
  const px = new Uint32Array(vram.chunks[0]!.buffer, vram.chunks[0]!.byteOffset, W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px[y * W + x] = pattern(x, y, 1);

  q = queryPrimary(sys, fd);
  if (q.enomem > 0) c.quirk('mbochs', 'B12', `first QUERY_GFX_PLANE after a new mode returned -ENOMEM ${q.enomem}x (B12)`);
  const p = q.info;
  c.ok(q.rc === 0 && p.drmFormat === DRM_FORMAT.XRGB8888 && p.width === W && p.height === H && p.stride === W * 4 &&
    p.size === W * H * 4 && p.dmabufId > 0,
  `query: ${fourcc(p.drmFormat)} ${p.width}x${p.height} stride ${p.stride} size ${p.size} id ${p.dmabufId} hot ${p.xHot},${p.yHot}`);
  if (p.xHot === 0 && p.yHot === 0) c.quirk('mbochs', 'MBOCHS-HOTSPOT-0', 'x_hot/y_hot are 0, not 0xFFFFFFFF (unknown)');

  const fixedBefore = sys.stats.cloexecFixed;
  const d1 = getDmabuf(sys, fd, p.dmabufId);
  c.ok(d1 >= 0, `GET_GFX_DMABUF(${p.dmabufId}) -> ${rc(d1)}`);
  c.ok(sys.getCloexec(d1) === true, 'the dma-buf fd we hand out is close-on-exec');
  if (sys.stats.cloexecFixed > fixedBefore) c.quirk('mbochs', 'MBOCHS-CLOEXEC', 'GET_GFX_DMABUF returns an fd without FD_CLOEXEC (dma_buf_fd(buf, 0)); src/linux sets it');
  c.ok(sys.fileSize(d1) === p.size, `dma-buf size by lseek ${sys.fileSize(d1)}`);
  const acc = sys.accessMode(d1);
  const m = sys.mmap(d1, 0, p.size, PROT_READ);
  if (typeof m === 'number') {
    c.ok(m === -22 && acc === O_RDONLY, `mmap dma-buf -> ${rc(m)}, file is ${acc === O_RDONLY ? 'O_RDONLY' : acc}`);
    c.quirk('mbochs', 'MBOCHS-RO-MMAP', 'dma-buf exported O_RDONLY: mmap fails with -EINVAL (pixels need the O_RDWR lab build)');
  } else {
    const d = new Uint32Array(m.chunks[0]!.buffer, m.chunks[0]!.byteOffset, W * H);
    let bad = 0;
    for (let i = 0; i < W * H; i++) if (d[i] !== pattern(i % W, Math.floor(i / W), 1)) bad++;
    c.ok(bad === 0, `dma-buf pixels match BAR0 (${bad} mismatches)`);
    m.unmap();
  }
  // A second GET for a held id: answered with dup() (the kernel would double-install one file).
  const d2 = getDmabuf(sys, fd, p.dmabufId);
  c.ok(d2 >= 0 && d2 !== d1 && sys.stats.doubleGetsAvoided === 1, `second GET of id ${p.dmabufId} -> fd ${d2} by dup (guard)`);
  c.quirk('mbochs', 'B13', 'a second GET of a held id would install one file twice: src/linux answers it with dup()');
  c.ok(sys.close(d1) === 0 && sys.close(d2) === 0, 'both dma-buf fds close');
  // mbochs re-exports a released id without page references (its release then over-puts VRAM
  // pages): src/linux pins mbochs dma-bufs, so this GET is a dup of the pin, not a re-export.
  const d3 = getDmabuf(sys, fd, p.dmabufId);
  c.ok(d3 >= 0 && sys.stats.reexportsAvoided === 1 && sys.stats.doubleGetsAvoided === 1,
    `GET after both fds closed -> ${rc(d3)} from the pin (no re-export)`);
  c.ok(sys.getCloexec(d3) === true && sys.fileSize(d3) === p.size, 'the pinned dma-buf is the same buffer');
  c.quirk('mbochs', 'MBOCHS-REEXPORT', 'a GET of a released id would re-export without page references: src/linux answers it from its pin');
  sys.close(d3);
  c.ok(getDmabuf(sys, fd, 9999) === -2, 'GET of an unknown id -> -ENOENT');
  vram.unmap();
  sys.ioctl(fd, VFIO_DEVICE_RESET, new Uint8Array(0));
} else {
  c.ok(query(sys, fd, VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_REGION, 0).rc === 0, 'PROBE|REGION -> 0');
  c.ok(query(sys, fd, VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_DMABUF, 0).rc === -22, 'PROBE|DMABUF -> -EINVAL');
  const q = query(sys, fd, VFIO_GFX_PLANE_TYPE_REGION, PlaneType.PRIMARY);
  const p = q.info;
  c.ok(q.rc === 0 && p.width > 0 && p.regionIndex > 0,
    `query: ${fourcc(p.drmFormat)} ${p.width}x${p.height} stride ${p.stride} size ${p.size} region ${p.regionIndex}`);
  if (p.regionIndex >= info.numRegions) c.quirk('mdpy', 'MDPY-NUM-REGIONS', `display region ${p.regionIndex} >= num_regions ${info.numRegions}`);
  const ri = regionInfo(sys, fd, p.regionIndex);
  c.ok(ri.rc === 0 && ri.info.size >= BigInt(p.size), `region ${p.regionIndex}: offset ${ri.info.offset} size ${ri.info.size}`);
  const fb = sys.mmap(fd, Number(ri.info.offset), p.size, PROT_READ | PROT_WRITE);
  const fb2 = sys.mmap(fd, Number(ri.info.offset), p.size, PROT_READ);
  if (c.ok(typeof fb === 'object' && typeof fb2 === 'object', 'mmap the display region twice')) {
    if (typeof fb === 'object' && typeof fb2 === 'object') {
      const a = new Uint32Array(fb.chunks[0]!.buffer, fb.chunks[0]!.byteOffset, p.width * p.height);
      const b = new Uint32Array(fb2.chunks[0]!.buffer, fb2.chunks[0]!.byteOffset, p.width * p.height);
      for (let i = 0; i < a.length; i++) a[i] = pattern(i % p.width, Math.floor(i / p.width), 5);
      let bad = 0;
      for (let i = 0; i < b.length; i++) if (b[i] !== pattern(i % p.width, Math.floor(i / p.width), 5)) bad++;
      c.ok(bad === 0, `second mapping sees the pixels (${bad} mismatches)`);
      fb.unmap();
      fb2.unmap();
    }
  }
}
dev.close();
c.ok(sys.getCloexec(fd) === -9, 'device fd closed');
c.done();
