import { errnoName } from '../base/Errno.ts';
import { PAGE_SIZE, type GuestMemory } from '../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import { HOTSPOT_UNKNOWN, type DecodedPlane } from '../vgpu/Plane.ts';
import { VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_DEVICE_RESET } from '../vfio/Abi.ts';
import { DmabufFile } from '../vfio/DmabufFile.ts';
import { EmulatedHost, GVT_TYPES, type Vgpu } from '../vfio/EmulatedHost.ts';
import type { EmulatedKernel } from '../vfio/EmulatedKernel.ts';
import { PROT_READ, PROT_WRITE, type Mapping } from '../vfio/Sys.ts';
import { bump, check, fmtErrno, runEngine, type Engine, type Epoch, type FuzzOptions, type FuzzReport } from './FuzzRun.ts';
import { GgttShadow } from './GgttShadow.ts';
import {
  applyBochsOp, applyGvtOp, bochsProgram, describeBochsOp, describeGvtOp, gvtProgram, randomGvtOp,
  validBochsSetup, validGvtSetup, type BochsOp, type GvtOp, type GvtTarget,
} from './GuestPrograms.ts';
import { MemoryWatch } from './MemoryWatch.ts';
import { Rng } from './Rng.ts';
import { rejectedPlaneErrnos } from './SpecErrnos.ts';

/**
 * Guest fuzzer with canaries (issue 8 item 2). One emulated host runs four VMs — two GVT vGPUs,
 * an mbochs one and an mdpy one — and a separate host buffer. Every page of every VM's memory
 * holds a tag naming its VM and page number; the host buffer holds its own pattern. Each case
 * picks a VICTIM VM whose guest runs a random register program (PLANE_CTL/STRIDE/SURF,
 * PIPESRC/PIPECONF, CURCNTR/CURBASE/CURPOS, the PV-info hotspot, DISPI indexes, GTT entries
 * aimed inside the VM, past its memory, at other VMs' page numbers and at other VMs' GGTT
 * slices), then the host queries its planes, exports and maps them the way a VMM does.
 *
 * Checks:
 *  - every rejected QUERY has the spec's errno (gvt: EINVAL or EFAULT; bochs: none — a bad mode
 *    is an empty plane with success) and a disabled plane is success with zeroed outputs;
 *  - every exported plane names only the victim's pages: its GGTT range lies in ONE of the
 *    victim's slices (B1), and each page is the one an independent shadow of the victim's GGTT
 *    names (so not a page of another VM, not past memory); size is stride × tile-rounded height
 *    (B3); cursor and hotspot rules hold;
 *  - every dma-buf mapping's chunks are views of the victim's own SharedArrayBuffer, inside it,
 *    at exactly the pages the shadow names AT MAP TIME (the guest may remap in between, B5), and
 *    a mapping is refused (EINVAL) exactly when the shadow has a hole; never writable (B8);
 *  - GuestMemory.accessProbe and view() are instrumented on every VM: while the host acts for
 *    the victim, any access to another VM's memory, or outside the victim's, is a failure;
 *  - at the end of each epoch every VM's tags and the host buffer are intact, and the fd table
 *    and every exporter are back to empty.
 */
export const GUEST_CASES_PER_EPOCH = 250;

const MiB = 1024 * 1024;
const PLACEHOLDER_VM = 0x7000;
const HOST_CANARY = 0xdeadbeef;

interface VmState {
  readonly label: string;
  readonly tag: number;
  readonly vgpu: Vgpu;
  readonly fd: number;
  /** GVT only: the independent model of this guest's GGTT. */
  readonly shadow: GgttShadow | undefined;
}

export const guestEngine: Engine = {
  name: 'guest',
  casesPerEpoch: GUEST_CASES_PER_EPOCH,
  createEpoch: (seed, epoch, report) => new CanaryEpoch(seed, epoch, report),
};

export function runGuestFuzz(opts: FuzzOptions): FuzzReport {
  return runEngine(guestEngine, opts);
}

/** The tag every 32-bit word of page `page` of VM `tag` holds. */
export function canaryWord(tag: number, page: number): number {
  return (((0xc0 | tag) << 24) | (page & 0xffffff)) >>> 0;
}

export function fillCanary(memory: GuestMemory, tag: number): void {
  const words = new Uint32Array(memory.buffer);
  for (let p = 0; p < memory.pageCount; p++) words.fill(canaryWord(tag, p), p * 1024, (p + 1) * 1024);
}

/** First page whose words are not all its tag, or -1. */
export function findCanaryDamage(memory: GuestMemory, tag: number): number {
  const words = new Uint32Array(memory.buffer);
  for (let p = 0; p < memory.pageCount; p++) {
    const w = canaryWord(tag, p);
    for (let i = p * 1024; i < (p + 1) * 1024; i++) if (words[i] !== w) return p;
  }
  return -1;
}

class CanaryEpoch implements Epoch {
  private readonly _rng: Rng;
  private readonly _sys: EmulatedKernel;
  private readonly _watch = new MemoryWatch();
  private readonly _vms: VmState[] = [];
  private readonly _hostCanary = new SharedArrayBuffer(256 * 1024);
  private readonly _open = new Set<number>();
  private _trace: string[] | undefined;

  public constructor(seed: number, epoch: number, private readonly _report: FuzzReport) {
    const rng = Rng.derive(seed, 'guest', epoch);
    this._rng = rng;
    const host = new EmulatedHost();
    this._sys = host.kernel;
    const victimType = rng.pick(['i915-GVTg_V5_4', 'i915-GVTg_V5_8'] satisfies Array<keyof typeof GVT_TYPES>);
    // Most epochs shape the GGTT so gvt-a's aperture slice ends exactly where its hidden slice
    // begins, and gvt-b's hidden slice follows gvt-a's: the layout in which the per-end range
    // check of B1 let a surface straddle into GGTT space that is not the guest's.
    const adjacent = rng.chance(0.7);
    if (adjacent) {
      const ap = GVT_TYPES[victimType].apertureMiB * MiB;
      host.ggtt.assign(PLACEHOLDER_VM, {
        aperture: { base: 0, size: host.ggtt.mappableSize - ap },
        hidden: { base: host.ggtt.mappableSize, size: 0 },
        guestPageCount: 0,
      });
    }
    const a = host.createVgpu(victimType, { ramBytes: rng.pick([4, 8]) * MiB, exportOverlay: rng.chance(0.8) });
    if (adjacent) host.ggtt.release(PLACEHOLDER_VM);
    // gvt-b has more memory than gvt-a: its buffers sit at page numbers a's memory does not have.
    const b = host.createVgpu('i915-GVTg_V5_8', { ramBytes: 12 * MiB });
    const c = host.createVgpu('mbochs-small', { ramBytes: MiB });
    const d = host.createVgpu('mdpy-vga', { ramBytes: MiB });
    const named: Array<[string, Vgpu]> = [['gvt-a', a], ['gvt-b', b], ['bochs', c], ['region', d]];
    named.forEach(([label, vgpu], i) => {
      const fd = host.openDevice(vgpu.uuid);
      check(fd >= 3, () => `open ${label}: ${fmtErrno(fd)}`);
      this._open.add(fd);
      const dev = vgpu.device as GvtDevice;
      const shadow = vgpu.kind === 'gvt' ? new GgttShadow(dev.aperture, dev.hidden, vgpu.memory.pageCount) : undefined;
      fillCanary(vgpu.memory, i + 1);
      this._watch.watch(label, vgpu.memory);
      this._vms.push({ label, tag: i + 1, vgpu, fd, shadow });
    });
    new Uint32Array(this._hostCanary).fill(HOST_CANARY);
    // Every VM shows something, so the others' exporters and GGTT entries are live too.
    for (const vm of this._vms) this._guestSetup(vm);
  }

  public runCase(_index: number, trace: string[] | undefined): void {
    this._trace = trace;
    const rng = this._rng;
    const victim = rng.weighted([[5, this._vms[0]!], [2, this._vms[1]!], [3, this._vms[2]!]]);
    this._log(() => `victim ${victim.label}`);
    this._program(victim);
    if (rng.chance(0.05)) this._reset(victim);
    const types = rng.weighted([[4, [1, 2]], [2, [1]], [2, [1, 2, 0]], [1, [rng.int(4)]]]);
    const held: number[] = [];
    for (const type of types) this._queryExportMap(victim, type, held);
    if (rng.chance(0.1)) {
      // Another VM's display is used by the host too (its own actingFor).
      const other = rng.pick(this._vms.filter((v) => v !== victim && v.vgpu.kind !== 'region'));
      this._queryExportMap(other, 1, held);
    }
    for (const fd of held) this._close(fd);
    const v = this._watch.violations[0];
    check(v === undefined, () => `memory isolation: ${v!.reason} (${v!.how} ${v!.firstPage}+${v!.pageCount})`);
    check(this._sys.oopses === 0, () => `kernel oops: ${String(this._sys.lastOops)}`);
  }

  public finish(trace: string[] | undefined): void {
    this._trace = trace;
    for (const fd of [...this._open]) this._close(fd);
    const problems: string[] = [];
    let leaks = 0;
    if (this._sys.fds.openCount !== 0) { leaks += this._sys.fds.openCount; problems.push(`${this._sys.fds.openCount} fds left`); }
    for (const vm of this._vms) {
      const ex = vm.vgpu.mdev.exporter;
      if (ex && (ex.listedCount !== 0 || ex.orphanCount !== 0)) {
        leaks += ex.listedCount + ex.orphanCount;
        problems.push(`${vm.label}: ${ex.listedCount} listed, ${ex.orphanCount} orphans`);
      }
      const damaged = findCanaryDamage(vm.vgpu.memory, vm.tag);
      check(damaged < 0, () => `${vm.label}'s memory was modified at page ${damaged}`);
    }
    const host = new Uint32Array(this._hostCanary);
    check(host.every((w) => w === HOST_CANARY), () => 'the host canary buffer was modified');
    this._report.leaks += leaks;
    this._report.oopses += this._sys.oopses;
    check(problems.length === 0, () => `leak after closing everything: ${problems.join('; ')}`);
    this._watch.dispose();
  }

  // ---- guest side --------------------------------------------------------------------------------

  private _target(vm: VmState): GvtTarget {
    const dev = vm.vgpu.device as GvtDevice;
    const foreignSlices = this._vms.filter((v) => v !== vm && v.vgpu.kind === 'gvt')
      .flatMap((v) => [(v.vgpu.device as GvtDevice).aperture, (v.vgpu.device as GvtDevice).hidden]);
    // Page numbers where the other VMs keep their buffers (RAM and framebuffers), and their ends.
    const foreignPages = this._vms.filter((v) => v !== vm).flatMap((v) => {
      const l = v.vgpu.layout;
      const out: Array<[number, number]> = [[l.ramFirstPage, Math.min(l.ramPages, 4096)], [v.vgpu.memory.pageCount - 16, 32]];
      if (l.fbFirstPage !== undefined && l.fbPages !== undefined) out.push([l.fbFirstPage, l.fbPages]);
      return out;
    });
    return { aperture: dev.aperture, hidden: dev.hidden, pageCount: vm.vgpu.memory.pageCount, foreignSlices, foreignPages };
  }

  private _guestSetup(vm: VmState): void {
    if (vm.vgpu.kind === 'gvt') {
      const ops: GvtOp[] = [];
      validGvtSetup(this._rng, this._target(vm), ops);
      this._runGvt(vm, ops);
    } else if (vm.vgpu.kind === 'bochs') {
      const ops: BochsOp[] = [];
      validBochsSetup(this._rng, (vm.vgpu.device as BochsDevice).vramBytes, ops);
      this._runBochs(vm, ops);
    }
  }

  private _program(vm: VmState): void {
    if (vm.vgpu.kind === 'gvt') this._runGvt(vm, gvtProgram(this._rng, this._target(vm), 24));
    else this._runBochs(vm, bochsProgram(this._rng, (vm.vgpu.device as BochsDevice).vramBytes, 16));
  }

  private _runGvt(vm: VmState, ops: readonly GvtOp[]): void {
    const dev = vm.vgpu.device as GvtDevice;
    const shadow = vm.shadow!;
    for (const op of ops) {
      this._log(() => `  guest ${vm.label}: ${describeGvtOp(op)}`);
      applyGvtOp(dev, op, (off, v) => shadow.observe(off, v));
    }
    this._report.ops += ops.length;
  }

  private _runBochs(vm: VmState, ops: readonly BochsOp[]): void {
    const dev = vm.vgpu.device as BochsDevice;
    for (const op of ops) {
      this._log(() => `  guest ${vm.label}: ${describeBochsOp(op)}`);
      applyBochsOp(dev, op);
    }
    this._report.ops += ops.length;
  }

  /** VFIO_DEVICE_RESET from the host: the guest's GGTT entries are invalidated. */
  private _reset(vm: VmState): void {
    const r = this._watch.as(vm.label, () => this._sys.ioctl(vm.fd, VFIO_DEVICE_RESET, new Uint8Array(0)));
    this._log(() => `  host: reset ${vm.label} = ${fmtErrno(r)}`);
    check(r === 0, () => `reset of ${vm.label}: ${fmtErrno(r)}`);
    vm.shadow?.reset();
  }

  // ---- host side ---------------------------------------------------------------------------------

  private _queryExportMap(vm: VmState, type: number, held: number[]): void {
    const rng = this._rng;
    const q = new Uint8Array(64);
    const qv = new DataView(q.buffer);
    qv.setUint32(0, 64, true);
    qv.setUint32(4, 2, true); // VFIO_GFX_PLANE_TYPE_DMABUF
    qv.setUint32(8, type, true);
    const r = this._watch.as(vm.label, () => this._sys.ioctl(vm.fd, VFIO_DEVICE_QUERY_GFX_PLANE, q));
    this._report.ops++;
    const what = `QUERY(type ${type}) on ${vm.label}`;
    this._log(() => `  host: ${what} = ${fmtErrno(r)}`);
    check(Number.isInteger(r), () => `${what} returned ${String(r)}`);
    if (r < 0) {
      const allowed = rejectedPlaneErrnos(vm.vgpu.kind);
      check(allowed.has(-r), () => `${what}: rejected with ${fmtErrno(r)}; the spec allows ${[...allowed].map((e) => errnoName(e)).join(', ') || 'no error'}`);
      bump(this._report, `${vm.vgpu.kind} rejected ${errnoName(r)}`);
      return;
    }
    check(r === 0, () => `${what} returned ${r}`);
    const out = {
      format: qv.getUint32(12, true), mod: qv.getBigUint64(16, true), width: qv.getUint32(24, true),
      height: qv.getUint32(28, true), stride: qv.getUint32(32, true), size: qv.getUint32(36, true),
      xHot: qv.getUint32(48, true), yHot: qv.getUint32(52, true), id: qv.getUint32(56, true),
    };
    if (out.format === 0) {
      check(out.size === 0 && out.width === 0 && out.height === 0 && out.id === 0,
        () => `${what}: a disabled plane must have zeroed outputs`);
      bump(this._report, `${vm.vgpu.kind} empty`);
      return;
    }
    const obj = vm.vgpu.mdev.exporter!.lookup(out.id);
    check(obj !== undefined, () => `${what}: dmabuf_id ${out.id} is not listed`);
    const p = obj.plane;
    check(p.drmFormat === out.format && p.modifier === out.mod && p.width === out.width && p.height === out.height &&
      p.stride === out.stride && p.size === out.size, () => `${what}: reply differs from the listed object`);
    this._checkPlane(vm, type, p, out.xHot, out.yHot, what);
    bump(this._report, `${vm.vgpu.kind} planes`);
    if (!rng.chance(0.6)) return;

    // GET: a new fd, except a bochs pan that is not page aligned (EINVAL, as mbochs).
    const g = new Uint8Array(4);
    new DataView(g.buffer).setUint32(0, out.id, true);
    const dfd = this._watch.as(vm.label, () => this._sys.ioctl(vm.fd, VFIO_DEVICE_GET_GFX_DMABUF, g));
    this._report.ops++;
    this._log(() => `  host: GET(${out.id}) = ${fmtErrno(dfd)}`);
    const unaligned = vm.vgpu.kind === 'bochs' && p.start % PAGE_SIZE !== 0;
    if (unaligned) {
      check(dfd === -22, () => `GET of an unaligned bochs pan returned ${fmtErrno(dfd)}, expected -EINVAL`);
      return;
    }
    check(dfd >= 3, () => `GET(${out.id}) on ${vm.label} just after QUERY failed: ${fmtErrno(dfd)}`);
    this._open.add(dfd);
    held.push(dfd);
    const f = this._sys.fds.get(dfd);
    check(f instanceof DmabufFile && f.object === obj, () => `GET(${out.id}) gave another object`);
    bump(this._report, 'exports');

    // The guest may remap its GGTT between QUERY/GET and the map (B5).
    if (vm.shadow && rng.chance(0.3)) {
      const t = this._target(vm);
      const n = 1 + rng.size(6);
      const ops: GvtOp[] = [];
      for (let i = 0; i < n; i++) {
        ops.push(rng.chance(0.6)
          ? { t: 'w64', off: 0x800000 + (Math.floor(p.start / PAGE_SIZE) + rng.int(p.pages.length)) * 8,
            v: (BigInt(rng.chance(0.7) ? rng.int(t.pageCount) : rng.int(t.pageCount * 2)) << 12n) | (rng.chance(0.85) ? 1n : 0n) }
          : randomGvtOp(rng, t));
      }
      this._runGvt(vm, ops);
    }
    const length = Math.ceil(p.size / PAGE_SIZE) * PAGE_SIZE;
    if (rng.chance(0.1)) {
      const w = this._watch.as(vm.label, () => this._sys.mmap(dfd, 0, length, PROT_READ | PROT_WRITE));
      check(w === -13, () => `a writable mapping of ${vm.label}'s framebuffer was not refused with EACCES (B8)`);
    }
    const m = this._watch.as(vm.label, () => this._sys.mmap(dfd, 0, length, PROT_READ));
    this._report.ops++;
    this._checkMapping(vm, p, m, length);
  }

  /** Every page of an exported plane is the victim's, as its own GGTT (shadow) names it. */
  private _checkPlane(vm: VmState, type: number, p: DecodedPlane, xHot: number, yHot: number, what: string): void {
    // bochs names every page a pan touches: an unaligned start adds one (it cannot be exported).
    const pages = Math.ceil(((vm.vgpu.kind === 'bochs' ? p.start % PAGE_SIZE : 0) + p.size) / PAGE_SIZE);
    check(p.size > 0 && p.pages.length === pages, () => `${what}: ${p.pages.length} pages for ${p.size} bytes`);
    for (let k = 0; k < p.pages.length; k++) {
      const pg = p.pages[k]!;
      check(pg < vm.vgpu.memory.pageCount, () => `${what}: page ${pg} outside ${vm.label}'s memory`);
    }
    if (vm.vgpu.kind === 'gvt') {
      const shadow = vm.shadow!;
      check(p.start % PAGE_SIZE === 0, () => `${what}: start 0x${p.start.toString(16)} not page aligned`);
      check(shadow.rangeInOneSlice(p.start, p.size),
        () => `${what}: range 0x${p.start.toString(16)}+0x${p.size.toString(16)} is not inside one of ${vm.label}'s GGTT slices (B1)`);
      const first = p.start / PAGE_SIZE;
      for (let k = 0; k < p.pages.length; k++) {
        const want = shadow.page(first + k);
        check(p.pages[k] === want, () => `${what}: page ${k} is guest page ${p.pages[k]}, ${vm.label}'s GGTT names ${want}`);
      }
      const th = p.modifier === DRM_FORMAT_MOD.I915_X_TILED ? 8
        : p.modifier === DRM_FORMAT_MOD.I915_Y_TILED || p.modifier === DRM_FORMAT_MOD.I915_Yf_TILED ? 32 : 1;
      check(p.size === p.stride * Math.ceil(p.height / th) * th, () => `${what}: size ${p.size} is not stride × tile-rounded height (B3)`);
      if (type === 2) {
        check([64, 128, 256].includes(p.width) && p.height === p.width && p.stride === p.width * 4 &&
          p.drmFormat === DRM_FORMAT.ARGB8888, () => `${what}: not a valid cursor image`);
        const hotOk = xHot === HOTSPOT_UNKNOWN ? yHot === HOTSPOT_UNKNOWN : xHot <= p.width && yHot <= p.height;
        check(hotOk, () => `${what}: hotspot ${xHot},${yHot} outside the ${p.width}px cursor`);
      }
    } else {
      const dev = vm.vgpu.device as BochsDevice;
      check(type === 1, () => `${what}: bochs exported a non-primary plane`);
      check(p.start + p.size <= dev.vramBytes && p.width >= 64 && p.height >= 64 && p.size === p.stride * p.height,
        () => `${what}: mode outside VRAM or below 64×64`);
      const first = dev.vramFirstPage + Math.floor(p.start / PAGE_SIZE);
      for (let k = 0; k < p.pages.length; k++) {
        check(p.pages[k] === first + k && first + k < dev.vramFirstPage + dev.vramPages, () => `${what}: page ${k} is not VRAM page ${first + k}`);
      }
    }
  }

  /** A mapping shows exactly the pages the guest's GGTT names now, in the guest's own memory. */
  private _checkMapping(vm: VmState, p: DecodedPlane, m: Mapping | number, length: number): void {
    const what = `mmap of ${vm.label}'s dma-buf`;
    const first = p.start / PAGE_SIZE;
    const expected: number[] = [];
    for (let k = 0; k < length / PAGE_SIZE; k++) {
      expected.push(vm.shadow ? vm.shadow.page(first + k) : p.pages[k]!);
    }
    const hole = expected.indexOf(-1);
    if (typeof m === 'number') {
      this._log(() => `  host: ${what} = ${fmtErrno(m)}`);
      check(m === -22 && hole >= 0, () => `${what}: ${fmtErrno(m)}, though the GGTT maps every page`);
      bump(this._report, 'mappings refused (GGTT hole)');
      return;
    }
    this._log(() => `  host: ${what} = ${m.chunks.length} chunk(s)`);
    check(hole < 0, () => `${what} succeeded although the guest unmapped page ${hole} (B5)`);
    const mem = vm.vgpu.memory;
    const words = new Uint32Array(mem.buffer);
    let at = 0;
    for (let i = 0; i < m.chunks.length; i++) {
      const c = m.chunks[i]!;
      check(c.buffer !== this._hostCanary, () => `${what}: chunk ${i} is the host canary buffer`);
      const owner = this._vms.find((v) => v.vgpu.memory.buffer === c.buffer);
      check(c.buffer === mem.buffer, () => `${what}: chunk ${i} maps ${owner ? owner.label : 'foreign'} memory (a canary page)`);
      check(c.byteOffset % PAGE_SIZE === 0 && c.byteOffset + c.byteLength <= mem.size && m.chunkOffsets[i] === at,
        () => `${what}: chunk ${i} misplaced`);
      for (let j = 0; j * PAGE_SIZE < c.byteLength; j++) {
        const k = at / PAGE_SIZE + j;
        const page = c.byteOffset / PAGE_SIZE + j;
        check(page === expected[k], () => `${what}: page ${k} shows guest page ${page}, the GGTT names ${expected[k]}`);
        const w = words[page * 1024];
        check(w === canaryWord(vm.tag, page), () => `${what}: page ${k} holds 0x${w?.toString(16)}, not ${vm.label}'s tag`);
      }
      at += c.byteLength;
    }
    check(at === length, () => `${what}: ${at} bytes mapped of ${length}`);
    bump(this._report, 'mappings checked');
    m.unmap();
  }

  private _close(fd: number): void {
    const r = this._sys.close(fd);
    check(r === 0, () => `close(${fd}) = ${fmtErrno(r)}`);
    this._open.delete(fd);
  }

  private _log(line: () => string): void {
    this._trace?.push(line());
  }
}

