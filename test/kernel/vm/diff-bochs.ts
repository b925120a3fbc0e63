/**
 * Differential test, in the VM: the same Bochs DISPI register sequence is written to the real
 * mbochs (Linux's sample driver) and to our emulated bochs (EmulatedHost, same mdev type), and
 * after each step both are asked QUERY_GFX_PLANE(DMABUF, PRIMARY). The plane answers must agree:
 * result, format, width, height, stride, size, and the dmabuf_id pattern (ids are compared by
 * order of first appearance, so "which steps give a new id" and "which old id comes back" must
 * match; the numbers themselves differ, as mbochs' id counter survives close). Some steps also
 * GET the dma-buf and compare the outcome (fd or errno).
 *
 * Known kernel bugs are not differences but are listed: B12 (the real device's first QUERY after
 * a new mode returns -ENOMEM; we retry once, as QEMU effectively does by polling).
 *
 * Usage: node --import tsx test/kernel/vm/diff-bochs.ts MBOCHS_UUID [mdev type]
 */
import { openRealDevice } from '../../../src/linux/RealDevice.ts';
import { VFIO_DEVICE_RESET, VFIO_PCI_BAR2_REGION_INDEX } from '../../../src/vfio/Abi.ts';
import { EmulatedHost } from '../../../src/vfio/EmulatedHost.ts';
import type { PlaneInfo } from '../../../src/vfio/PlaneInfo.ts';
import type { Sys } from '../../../src/vfio/Sys.ts';
import { getDmabuf } from '../../../src/testkit/Ioctl.ts';
import { DISPI } from '../../../src/vgpu/bochs/BochsRegisters.ts';
import { Checker, Dispi, fourcc, queryPrimary, rc, regionInfo, VFIO_API } from './VmLib.ts';

const [uuid, typeName = 'mbochs-medium'] = process.argv.slice(2);
if (!uuid) {
  console.error('usage: diff-bochs.ts MBOCHS_UUID [mdev type]');
  process.exit(2);
}

type Write = readonly [index: number, value: number];
interface Step {
  readonly name: string;
  readonly writes: readonly Write[];
  /** Also GET_GFX_DMABUF the reported id and compare fd-or-errno. */
  readonly get?: boolean;
}

const mode = (w: number, h: number, bpp = 32): Write[] => [
  [DISPI.ENABLE, 0], [DISPI.XRES, w], [DISPI.YRES, h], [DISPI.BPP, bpp], [DISPI.VIRT_WIDTH, w],
  [DISPI.X_OFFSET, 0], [DISPI.Y_OFFSET, 0], [DISPI.ENABLE, 0x41],
];

/** The sequence: modes, a revisited mode, unsupported depth, panning (aligned and not), enable. */
const STEPS: readonly Step[] = [
  { name: 'reset (no mode)', writes: [] },
  { name: 'mode 640x480x32', writes: mode(640, 480), get: true },
  { name: 'query again, same mode', writes: [] },
  { name: 'mode 800x600x32', writes: mode(800, 600), get: true },
  { name: 'back to 640x480x32', writes: mode(640, 480) },
  { name: 'bpp 16', writes: mode(640, 480, 16) },
  { name: 'bpp 32 again', writes: [[DISPI.BPP, 32]] },
  { name: 'x_offset 3 (unaligned)', writes: [[DISPI.X_OFFSET, 3]], get: true },
  { name: 'x_offset 0', writes: [[DISPI.X_OFFSET, 0]] },
  { name: 'y_offset 480 (page 2)', writes: [[DISPI.Y_OFFSET, 480]], get: true },
  { name: 'y_offset 0 (pan back)', writes: [[DISPI.Y_OFFSET, 0]] },
  { name: 'y_offset 480 again', writes: [[DISPI.Y_OFFSET, 480]] },
  { name: 'enable 0', writes: [[DISPI.ENABLE, 0]] },
  { name: 'enable 0x41', writes: [[DISPI.ENABLE, 0x41]] },
  { name: 'virt_width 1024', writes: [[DISPI.Y_OFFSET, 0], [DISPI.VIRT_WIDTH, 1024]], get: true },
  { name: 'xres 32 (too small)', writes: [[DISPI.XRES, 32]] },
  { name: 'xres 640, yres 8000 (too big)', writes: [[DISPI.XRES, 640], [DISPI.YRES, 8000]] },
  { name: 'mode 1024x768x32', writes: mode(1024, 768), get: true },
];

interface Side {
  readonly name: string;
  readonly sys: Sys;
  readonly fd: number;
  readonly dispi: Dispi;
  /** dmabuf_id → label (A, B, ...), in order of first appearance. */
  readonly labels: Map<number, string>;
}

interface Answer {
  rc: number;
  info: PlaneInfo;
  enomem: number;
  label: string;
  isNew: boolean;
  get?: string;
}

function side(name: string, sys: Sys, fd: number): Side {
  const bar2 = regionInfo(sys, fd, VFIO_PCI_BAR2_REGION_INDEX);
  if (bar2.rc !== 0) throw new Error(`${name}: BAR2 region info ${rc(bar2.rc)}`);
  return { name, sys, fd, dispi: new Dispi(sys, fd, Number(bar2.info.offset)), labels: new Map() };
}

function ask(s: Side, step: Step): Answer {
  for (const [i, v] of step.writes) {
    const r = s.dispi.write(i, v);
    if (r !== 2) throw new Error(`${s.name}: DISPI write ${i}=${v} -> ${rc(r)}`);
  }
  const q = queryPrimary(s.sys, s.fd);
  const id = q.info.dmabufId;
  let label = '-';
  let isNew = false;
  if (q.rc === 0 && id !== 0) {
    const known = s.labels.get(id);
    isNew = known === undefined;
    label = known ?? String.fromCharCode(65 + s.labels.size);
    s.labels.set(id, label);
  }
  const a: Answer = { rc: q.rc, info: q.info, enomem: q.enomem, label, isNew };
  if (step.get && q.rc === 0 && id !== 0) {
    const fd = getDmabuf(s.sys, s.fd, id);
    a.get = fd >= 0 ? 'fd' : rc(fd);
    if (fd >= 0) s.sys.close(fd);
  }
  return a;
}

function show(a: Answer): string {
  if (a.rc !== 0) return `rc ${rc(a.rc)}`;
  const p = a.info;
  if (p.size === 0) return `disabled${p.dmabufId ? ` id ${p.dmabufId}?` : ''}`;
  return `${fourcc(p.drmFormat)} ${p.width}x${p.height} s${p.stride} ${p.size} id ${a.label}${a.isNew ? '*' : ''}` +
    `${a.get ? ` get:${a.get}` : ''}${a.enomem ? ` (ENOMEM x${a.enomem})` : ''}`;
}

/** Field-by-field differences between the real and the emulated answer. */
function differences(r: Answer, e: Answer): string[] {
  const d: string[] = [];
  if (r.rc !== e.rc) d.push(`rc ${rc(r.rc)} vs ${rc(e.rc)}`);
  const fields = ['drmFormat', 'width', 'height', 'stride', 'size', 'drmFormatMod', 'xPos', 'yPos', 'xHot', 'yHot'] as const;
  for (const f of fields) if (r.info[f] !== e.info[f]) d.push(`${f} ${r.info[f]} vs ${e.info[f]}`);
  if (r.label !== e.label || r.isNew !== e.isNew) d.push(`id ${r.label}${r.isNew ? '*' : ''} vs ${e.label}${e.isNew ? '*' : ''}`);
  if (r.get !== e.get) d.push(`get ${r.get} vs ${e.get}`);
  return d;
}

const c: Checker = new Checker('diff-bochs');
const real = await openRealDevice(uuid, { vfioApi: VFIO_API });
const host = new EmulatedHost();
const vgpu = host.createVgpu(real.mdevType ?? typeName);
const efd = host.openDevice(vgpu.uuid);
const R = side(`real ${real.mdevType}`, real.sys, real.fd);
const E = side(`emulated ${vgpu.typeName}`, host.kernel, efd);
c.ok(real.sys.ioctl(real.fd, VFIO_DEVICE_RESET, new Uint8Array(0)) === 0 &&
  host.kernel.ioctl(efd, VFIO_DEVICE_RESET, new Uint8Array(0)) === 0, 'both devices reset');

const rows: string[][] = [['step', 'real mbochs', 'emulated bochs', 'verdict']];
const listed: string[] = [];
let unlisted = 0;
for (const step of STEPS) {
  const r = ask(R, step);
  const e = ask(E, step);
  const diff = differences(r, e);
  const notes: string[] = [];
  if (r.enomem > 0) notes.push(`B12 (real -ENOMEM x${r.enomem} before the answer)`);
  if (e.enomem > 0) diff.push(`emulated returned -ENOMEM x${e.enomem}`);
  const verdict = diff.length ? `DIFF: ${diff.join('; ')}` : notes.length ? `same; listed: ${notes.join(', ')}` : 'same';
  if (diff.length) unlisted++;
  for (const n of notes) listed.push(`${step.name}: ${n}`);
  rows.push([step.name, show(r), show(e), verdict]);
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
for (const [k, row] of rows.entries()) {
  console.log(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join(' | '));
  if (k === 0) console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
}
console.log('(* = a new dmabuf_id; ids are labelled A, B, ... in order of first appearance)');
if (listed.length) {
  console.log(`listed kernel bugs (${listed.length} steps):`);
  for (const l of listed) console.log(`  ${l}`);
  c.quirk('mbochs', 'B12', `diff-bochs: -ENOMEM before the answer in ${listed.length} of ${STEPS.length} steps (B12)`);
}
c.ok(unlisted === 0, `${STEPS.length} steps, ${unlisted} unlisted differences`);
real.sys.ioctl(real.fd, VFIO_DEVICE_RESET, new Uint8Array(0));
real.close();
host.kernel.close(efd);
c.done();
