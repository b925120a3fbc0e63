import { errnoName } from '../base/Errno.ts';
import { PAGE_SIZE, type GuestMemory } from '../gpu/GuestMemory.ts';
import { dispiOffset } from '../vgpu/bochs/BochsRegisters.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import {
  CUR_BASE, CUR_CTL, CURSOR_X_HOT, GTT_BASE, PIPECONF, PIPESRC, PLANE_CTL, PLANE_STRIDE, PLANE_SURF,
} from '../vgpu/gvt/GvtRegisters.ts';
import type { RegionDevice } from '../vgpu/region/RegionDevice.ts';
import {
  DMA_BUF_IOCTL_SYNC, VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_PCI_DISPLAY_IRQ_INDEX, ioctlName,
} from '../vfio/Abi.ts';
import { DmabufFile } from '../vfio/DmabufFile.ts';
import type { DmabufObject } from '../vfio/DmabufObject.ts';
import { EmulatedHost, GVT_TYPES, type Vgpu, type VgpuKind } from '../vfio/EmulatedHost.ts';
import type { EmulatedKernel } from '../vfio/EmulatedKernel.ts';
import { EventFd } from '../vfio/EventFd.ts';
import { PROT_READ, PROT_WRITE, type Mapping } from '../vfio/Sys.ts';
import { VfioDeviceFile, type VfioMdev } from '../vfio/VfioMdev.ts';
import { DEVICE_REQUESTS, ioctlBuffer, pickRequest, type BufferContext } from './AbiBuffers.ts';
import {
  CheckFailure, bump, check, fmtErrno, runEngine, type Engine, type Epoch, type FuzzOptions,
  type FuzzReport,
} from './FuzzRun.ts';
import {
  applyBochsOp, applyGvtOp, bochsProgram, describeBochsOp, describeGvtOp, gvtProgram, interestingU32,
  type GvtTarget,
} from './GuestPrograms.ts';
import { MemoryWatch } from './MemoryWatch.ts';
import { Rng } from './Rng.ts';
import {
  CLOSE_ERRNOS, DUP_ERRNOS, EVENTFD_ERRNOS, OPEN_ERRNOS, READ_EVENTFD_ERRNOS, ioctlErrnos, mmapErrnos,
  rwErrnos, type FileKind,
} from './SpecErrnos.ts';

/**
 * ABI fuzzer (issue 8 item 1): random and mutated ioctl buffers and requests, region
 * pread/pwrite at random offsets and sizes (region edges included), mmap with random
 * prot/offset/length, close/dup of random fds, device close/reopen and vGPU destroy/recreate,
 * across gvt, bochs and region devices, with guests reprogramming their vGPUs in between.
 *
 * After EVERY operation: no exception escaped; the result is an integer (or a mapping); a negative
 * result is an errno the spec tables allow for that operation, file and device kind; the kernel
 * caught no oops; the caller's buffer was not written outside its bounds, and a failed device
 * ioctl wrote nothing at all; successes are checked for meaning (GET returns a new read-only
 * dma-buf fd of the right object, REGION_INFO describes the region asked for, a mapping covers
 * exactly what was asked, only the owning VM's memory, and never writable for a dma-buf).
 * After every case: the kernel's fd table is exactly the fds the process holds; no host access
 * touched a VM other than the one operated on; each device cache stays within its bound (B16).
 * At the end of each epoch everything is closed: the fd table must be empty, every device file
 * released, every exporter empty with no orphans, every exported buffer object freed.
 */
export const ABI_CASES_PER_EPOCH = 1000;

const MAX_UNEXPORTED = 64;
const KNOWN_REQUESTS = new Set<number>([...DEVICE_REQUESTS, DMA_BUF_IOCTL_SYNC]);
const MiB = 1024 * 1024;

interface VgpuState {
  readonly vgpu: Vgpu;
  readonly label: string;
  /** Recently returned dmabuf ids (GET targets). */
  readonly ids: number[];
  destroyed: boolean;
}

interface FdInfo {
  readonly file: FileKind;
  readonly state: VgpuState | undefined;
}

export const abiEngine: Engine = {
  name: 'abi',
  casesPerEpoch: ABI_CASES_PER_EPOCH,
  createEpoch: (seed, epoch, report) => new AbiEpoch(seed, epoch, report),
};

export function runAbiFuzz(opts: FuzzOptions): FuzzReport {
  return runEngine(abiEngine, opts);
}

class AbiEpoch implements Epoch {
  private readonly _rng: Rng;
  private readonly _host: EmulatedHost;
  private readonly _sys: EmulatedKernel;
  private readonly _watch = new MemoryWatch();
  /** The fds this process holds, by its own bookkeeping (checked against the kernel's table). */
  private readonly _open = new Set<number>();
  private readonly _states: VgpuState[] = [];
  private readonly _byMdev = new Map<VfioMdev, VgpuState>();
  private readonly _byMemory = new Map<GuestMemory, VgpuState>();
  private readonly _exported = new Set<DmabufObject>();
  private _trace: string[] | undefined;
  private _vmCount = 0;

  public constructor(seed: number, epoch: number, private readonly _report: FuzzReport) {
    const rng = Rng.derive(seed, 'abi', epoch);
    this._rng = rng;
    // Mostly a roomy fd table; sometimes a tiny one, so GET/dup/open hit EMFILE (B7, B15).
    const fdLimit = rng.weighted([[7, 1024], [3, rng.range(8, 24)]]);
    this._host = new EmulatedHost({ fdLimit });
    this._sys = this._host.kernel;
    for (const kind of ['gvt', 'bochs', 'region'] as const) {
      const s = this._create(kind);
      if (!s) throw new CheckFailure(`could not create the initial ${kind} vGPU`);
      this._openDevice(s, true);
    }
    for (const s of [...this._states]) {
      if (rng.chance(0.3)) this._openDevice(s, false);
      if (rng.chance(0.6)) this._guest(s, true);
    }
  }

  // ---- cases -------------------------------------------------------------------------------------

  public runCase(_index: number, trace: string[] | undefined): void {
    this._trace = trace;
    const rng = this._rng;
    const n = 1 + rng.size(6);
    for (let i = 0; i < n; i++) {
      const op = rng.weighted<() => void>([
        [30, () => this._ioctl(true)],
        [4, () => this._ioctl(false)],
        [9, () => this._rw(false)],
        [9, () => this._rw(true)],
        [8, () => this._mmap()],
        [8, () => this._queryGetMap()],
        [5, () => this._close()],
        [3, () => this._dup()],
        [2, () => this._eventfd()],
        [1, () => this._readEventfd()],
        [3, () => this._reopen()],
        [0.3, () => this._destroy()],
        [1, () => this._recreate()],
        [10, () => this._guest(this._pickLive(), false)],
        [0.3, () => this._fill()],
      ]);
      op();
      this._report.ops++;
    }
    this._caseChecks();
  }

  public finish(trace: string[] | undefined): void {
    this._trace = trace;
    const rng = this._rng;
    const fds = [...this._open];
    // Close in a random order: the last device close and dma-buf closes interleave.
    for (let i = fds.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [fds[i], fds[j]] = [fds[j]!, fds[i]!];
    }
    for (const fd of fds) {
      const r = this._sys.close(fd);
      this._log(() => `exit: close(${fd}) = ${fmtErrno(r)}`);
      check(r === 0, () => `close(${fd}) of a held fd at exit returned ${fmtErrno(r)}`);
      this._open.delete(fd);
    }
    let leaks = 0;
    const problems: string[] = [];
    const left = this._sys.fds.openCount;
    if (left !== 0) {
      leaks += left;
      problems.push(`${left} fd(s) still in the table: ${JSON.stringify(this._sys.fds.countByKind())}`);
    }
    for (const s of this._states) {
      const m = s.vgpu.mdev;
      if (m.openFiles !== 0) { leaks += m.openFiles; problems.push(`${s.label}: ${m.openFiles} device file(s) not released`); }
      const ex = m.exporter;
      if (ex && ex.listedCount !== 0) { leaks += ex.listedCount; problems.push(`${s.label}: ${ex.listedCount} buffer object(s) still listed`); }
      if (ex && ex.orphanCount !== 0) { leaks += ex.orphanCount; problems.push(`${s.label}: ${ex.orphanCount} orphan(s) not freed`); }
    }
    for (const o of this._exported) {
      if (o.state !== 'freed' || o.exports !== 0) {
        leaks++;
        problems.push(`buffer object ${o.id} is ${o.state} with ${o.exports} export(s) after every fd closed`);
      }
    }
    this._report.leaks += leaks;
    this._report.oopses += this._sys.oopses;
    check(problems.length === 0, () => `leak after closing everything: ${problems.slice(0, 4).join('; ')}`);
    check(this._sys.oopses === 0, () => `kernel oops: ${String(this._sys.lastOops)}`);
    this._watch.dispose();
  }

  private _caseChecks(): void {
    const sys = this._sys;
    check(sys.oopses === 0, () => `kernel oops: ${describeError(sys.lastOops)}`);
    check(sys.fds.openCount === this._open.size,
      () => `fd table holds ${sys.fds.openCount} fds, the process holds ${this._open.size}`);
    const v = this._watch.violations[0];
    check(v === undefined, () => `memory isolation: ${v!.reason} (${v!.how} ${v!.firstPage}+${v!.pageCount})`);
    // B16: unexported objects are bounded; exported ones are bounded by the fds that hold them.
    const held = new Map<VgpuState, Set<DmabufObject>>();
    for (const fd of this._open) {
      const f = sys.fds.get(fd);
      if (!(f instanceof DmabufFile)) continue;
      const s = this._byMemory.get(f.object.memory);
      if (!s) continue;
      let set = held.get(s);
      if (!set) held.set(s, set = new Set());
      set.add(f.object);
    }
    for (const s of this._states) {
      const ex = s.vgpu.mdev.exporter;
      if (!ex || s.destroyed) continue;
      const bound = MAX_UNEXPORTED + (held.get(s)?.size ?? 0);
      check(ex.listedCount <= bound, () => `${s.label}: ${ex.listedCount} listed objects > bound ${bound} (B16)`);
    }
  }

  // ---- syscalls -----------------------------------------------------------------------------------

  private _ioctl(onDevice: boolean): void {
    const rng = this._rng;
    const fd = onDevice ? this._pickFd('vfio-device') : this._pickFd(rng.pick(['dmabuf', 'eventfd', 'none'] as const));
    const info = this._info(fd);
    const request = pickRequest(rng);
    const raw = ioctlBuffer(rng, request, this._bufferContext(info.state));
    const { arg, outside } = this._place(raw);
    const before = arg.slice();
    this._log(() => `ioctl(${fd} ${info.file}${info.state ? ' ' + info.state.label : ''}, ${ioctlName(request)}, ${hex(before)})`);
    const r = this._act(info.state, () => this._sys.ioctl(fd, request, arg));
    const what = `ioctl(${fd}, ${ioctlName(request)}) on ${info.file}${info.state ? ' ' + info.state.vgpu.kind : ''}`;
    this._expect(r, ioctlErrnos(info.file, info.state?.vgpu.kind, request), what);
    this._log(() => `  = ${fmtErrno(r)}${r >= 0 ? ' ' + hex(arg) : ''}`);
    bump(this._report, `ioctl ${info.file} ${KNOWN_REQUESTS.has(request) ? ioctlName(request) : 'other'} ${r >= 0 ? 'ok' : errnoName(r)}`);
    check(outside(), () => `${what} wrote outside the argument buffer`);
    if (info.file !== 'vfio-device' || !info.state) {
      if (r >= 0) check(r === 0, () => `${what} returned ${r}`);
      return;
    }
    if (r < 0) {
      check(equal(arg, before), () => `${what} failed with ${fmtErrno(r)} but changed the caller's buffer`);
      return;
    }
    this._deviceIoctlSuccess(info.state, request >>> 0, arg, before, r, what);
  }

  private _deviceIoctlSuccess(s: VgpuState, request: number, arg: Uint8Array, before: Uint8Array, r: number, what: string): void {
    const mdev = s.vgpu.mdev;
    const dv = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
    switch (request) {
      case VFIO_DEVICE_GET_GFX_DMABUF: {
        check(equal(arg, before), () => `${what} changed its argument`);
        this._newDmabufFd(s, r, dv.getUint32(0, true), what);
        return;
      }
      case VFIO_DEVICE_QUERY_GFX_PLANE: {
        check(r === 0, () => `${what} returned ${r}`);
        const flags = dv.getUint32(4, true);
        if (flags & 1) {
          check(equal(arg, before), () => `${what}: a probe wrote the struct`);
          return;
        }
        check(equal(arg.subarray(0, 12), before.subarray(0, 12)), () => `${what} changed argsz/flags/type`);
        check(equal(arg.subarray(60), before.subarray(60)), () => `${what} wrote past byte 60 (B11)`);
        const format = dv.getUint32(12, true);
        const id = dv.getUint32(56, true);
        if (mdev.exporter && format !== 0) {
          check(id >= 1 && mdev.exporter.lookup(id) !== undefined, () => `${what}: dmabuf_id ${id} is not listed`);
          remember(s.ids, id);
        }
        return;
      }
      case VFIO_DEVICE_GET_REGION_INFO: {
        check(r === 0, () => `${what} returned ${r}`);
        const index = dv.getUint32(8, true);
        const region = mdev.regions.find((x) => x.index === index);
        check(region !== undefined, () => `${what}: success for region ${index} the device does not have`);
        const size = dv.getBigUint64(16, true);
        const offset = dv.getBigUint64(24, true);
        check(size === BigInt(region.size) && offset === BigInt(region.offset),
          () => `${what}: region ${index} reported ${offset}+${size}, is ${region.offset}+${region.size}`);
        return;
      }
      case VFIO_DEVICE_GET_IRQ_INFO: {
        check(r === 0, () => `${what} returned ${r}`);
        const index = dv.getUint32(8, true);
        const count = dv.getUint32(12, true);
        check(count === (index === VFIO_PCI_DISPLAY_IRQ_INDEX ? 1 : 0), () => `${what}: index ${index} count ${count}`);
        return;
      }
      case VFIO_DEVICE_GET_INFO: {
        check(r === 0, () => `${what} returned ${r}`);
        check(dv.getUint32(8, true) === mdev.numRegions && dv.getUint32(12, true) === mdev.numIrqs,
          () => `${what}: num_regions/num_irqs wrong`);
        return;
      }
      default:
        check(r === 0, () => `${what} returned ${r}`);
    }
  }

  /** A GET succeeded: it must be a new fd of a new read-only dma-buf file for that object. */
  private _newDmabufFd(s: VgpuState, r: number, id: number, what: string): void {
    check(r >= 3 && !this._open.has(r), () => `${what} returned fd ${r}, already held or reserved`);
    const f = this._sys.fds.get(r);
    check(f instanceof DmabufFile, () => `${what}: fd ${r} is a ${f?.kind ?? 'nothing'}, not a dma-buf`);
    check(f.fdRefs === 1, () => `${what}: new dma-buf file has ${f.fdRefs} fds (GET must make a new file)`);
    check(f.object.memory === s.vgpu.memory, () => `${what}: dma-buf of another VM's memory`);
    check(f.object.id === id && f.object.state === 'listed', () => `${what}: object ${f.object.id} (${f.object.state}) for id ${id}`);
    check(this._sys.getCloexec(r) === true, () => `${what}: dma-buf fd without O_CLOEXEC`);
    this._open.add(r);
    this._exported.add(f.object);
    bump(this._report, 'dmabuf fds');
  }

  private _rw(write: boolean): void {
    const rng = this._rng;
    const fd = rng.chance(0.9) ? this._pickFd('vfio-device') : this._pickFd(rng.pick(['dmabuf', 'eventfd', 'none'] as const));
    const info = this._info(fd);
    const { offset, length } = this._regionTarget(info.state);
    const data = write ? this._writeData(length) : new Uint8Array(length);
    const { arg, outside } = this._place(data);
    const before = arg.slice();
    this._log(() => `${write ? 'pwrite' : 'pread'}(${fd} ${info.file}, len ${length}, off 0x${offset.toString(16)})${write ? ' ' + hex(before) : ''}`);
    const r = this._act(info.state, () => (write ? this._sys.pwrite(fd, arg, offset) : this._sys.pread(fd, arg, offset)));
    const what = `${write ? 'pwrite' : 'pread'}(${fd}, ${length}, 0x${offset.toString(16)}) on ${info.file}${info.state ? ' ' + info.state.vgpu.kind : ''}`;
    this._expect(r, rwErrnos(info.file, write), what);
    this._log(() => `  = ${fmtErrno(r)}`);
    bump(this._report, `${write ? 'pwrite' : 'pread'} ${info.file} ${r >= 0 ? 'ok' : errnoName(r)}`);
    check(outside(), () => `${what} wrote outside the buffer`);
    if (r >= 0) check(r <= length, () => `${what} returned ${r} > ${length}`);
    if (write || r < 0) check(equal(arg, before), () => `${what} changed the caller's buffer`);
    if (r > 0 && info.file === 'vfio-device' && info.state) {
      // A memory region (VRAM, an mdpy framebuffer) reads and writes exactly the bytes at
      // `offset` of the framebuffer (the upstream samples get this wrong, spec §4.1, §5).
      const at = this._memoryRegionByte(info.state, offset);
      if (at >= 0) {
        const mem = info.state.vgpu.memory.bytes.subarray(at, at + r);
        check(equal(mem, arg.subarray(0, r)), () => `${what}: ${write ? 'memory does not hold the written bytes' : 'read bytes differ from memory'} at 0x${at.toString(16)}`);
      }
    }
  }

  /** Guest-memory byte behind a device fd offset in a mmap-able memory region, or -1. */
  private _memoryRegionByte(s: VgpuState, offset: number): number {
    const first = s.vgpu.layout.fbFirstPage;
    if (first === undefined) return -1;
    const r = s.vgpu.mdev.regions.find((x) => (x.flags & 4) !== 0 && offset >= x.offset && offset < x.offset + x.size);
    return r ? first * PAGE_SIZE + (offset - r.offset) : -1;
  }

  private _mmap(): void {
    const rng = this._rng;
    const kind = rng.weighted<FileKind>([[5, 'vfio-device'], [4, 'dmabuf'], [1, 'eventfd'], [0.5, 'none']]);
    const fd = this._pickFd(kind);
    const info = this._info(fd);
    let offset: number;
    if (info.file === 'vfio-device' && info.state && rng.chance(0.8)) {
      const r = rng.pick(info.state.vgpu.mdev.regions);
      offset = r.offset + rng.weighted([[5, 0], [2, rng.size(r.size / PAGE_SIZE) * PAGE_SIZE], [1, rng.int(r.size + 1)], [1, r.size]]);
    } else {
      offset = rng.weighted([[6, 0], [2, rng.size(64) * PAGE_SIZE], [1, rng.size(0x10000)], [0.3, rng.pick([-PAGE_SIZE, 2 ** 53, 0.5])]]);
    }
    const length = rng.weighted([[3, PAGE_SIZE], [3, rng.size(4 * MiB)], [1, rng.range(1, 64) * PAGE_SIZE],
      [0.5, rng.pick([0, -1, 1, 2 ** 40, Number.NaN])]]);
    const prot = rng.weighted([[6, PROT_READ], [2, PROT_READ | PROT_WRITE], [1, PROT_WRITE], [1, rng.int(8)]]);
    this._log(() => `mmap(${fd} ${info.file}, off 0x${offset.toString(16)}, len ${length}, prot ${prot})`);
    const m = this._act(info.state, () => this._sys.mmap(fd, offset, length, prot));
    const what = `mmap(${fd}, 0x${offset.toString(16)}, ${length}, prot ${prot}) on ${info.file}${info.state ? ' ' + info.state.vgpu.kind : ''}`;
    if (typeof m === 'number') {
      this._expect(m, mmapErrnos(info.file), what);
      this._log(() => `  = ${fmtErrno(m)}`);
      bump(this._report, `mmap ${info.file} ${errnoName(m)}`);
      return;
    }
    this._log(() => `  = mapping of ${m.chunks.length} chunk(s)`);
    bump(this._report, `mmap ${info.file} ok`);
    check(info.file !== 'dmabuf' || (prot & PROT_WRITE) === 0, () => `${what}: a writable mapping of a guest framebuffer (B8)`);
    this._checkMapping(m, length, info, what);
    if (info.file === 'vfio-device' && info.state) {
      const at = this._memoryRegionByte(info.state, offset);
      check(at >= 0 && m.chunks[0]!.byteOffset === at, () => `${what}: maps guest byte 0x${m.chunks[0]!.byteOffset.toString(16)}, expected 0x${at.toString(16)}`);
    }
    m.unmap();
  }

  /** The VMM's normal path on a dma-buf device: QUERY, GET the id, map it, maybe keep the fd. */
  private _queryGetMap(): void {
    const rng = this._rng;
    const fd = this._pickFd('vfio-device');
    const info = this._info(fd);
    if (!info.state || info.file !== 'vfio-device') return;
    const s = info.state;
    const q = new Uint8Array(64);
    const qv = new DataView(q.buffer);
    const type = rng.weighted([[6, 1], [3, 2], [1, 0]]);
    qv.setUint32(0, 64, true);
    qv.setUint32(4, s.vgpu.kind === 'region' ? 4 : 2, true);
    qv.setUint32(8, type, true);
    const r = this._act(s, () => this._sys.ioctl(fd, VFIO_DEVICE_QUERY_GFX_PLANE, q));
    const what = `QUERY(type ${type}) on ${s.label}`;
    this._log(() => `query(${fd} ${s.label}, type ${type}) = ${fmtErrno(r)} ${hex(q)}`);
    this._expect(r, ioctlErrnos('vfio-device', s.vgpu.kind, VFIO_DEVICE_QUERY_GFX_PLANE), what);
    bump(this._report, r === 0 ? 'query ok' : `query ${errnoName(r)}`);
    if (r !== 0 || s.vgpu.kind === 'region' || qv.getUint32(12, true) === 0) return;
    const id = qv.getUint32(56, true);
    const size = qv.getUint32(36, true);
    remember(s.ids, id);
    const g = new Uint8Array(4);
    new DataView(g.buffer).setUint32(0, id, true);
    const dfd = this._act(s, () => this._sys.ioctl(fd, VFIO_DEVICE_GET_GFX_DMABUF, g));
    this._log(() => `get(${fd}, id ${id}) = ${fmtErrno(dfd)}`);
    this._expect(dfd, ioctlErrnos('vfio-device', s.vgpu.kind, VFIO_DEVICE_GET_GFX_DMABUF), `GET(${id}) on ${s.label}`);
    bump(this._report, dfd >= 0 ? 'get ok' : `get ${errnoName(dfd)}`);
    if (dfd < 0) return;
    this._newDmabufFd(s, dfd, id, `GET(${id}) on ${s.label}`);
    const length = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const m = this._act(s, () => this._sys.mmap(dfd, 0, length, PROT_READ));
    this._log(() => `mmap(${dfd}, 0, ${length}) = ${typeof m === 'number' ? fmtErrno(m) : 'mapping'}`);
    if (typeof m === 'number') {
      this._expect(m, mmapErrnos('dmabuf'), `mmap of a fresh dma-buf of ${s.label}`);
    } else {
      bump(this._report, 'dmabuf mappings');
      this._checkMapping(m, length, this._info(dfd), `mmap of dma-buf ${id} of ${s.label}`);
    }
    if (rng.chance(0.6)) this._closeFd(dfd);
    // Unmap after the close: the mapping held the dma-buf open, the unmap is its final release.
    if (typeof m !== 'number') this._act(s, () => { m.unmap(); return 0; });
  }

  private _close(): void {
    const rng = this._rng;
    const fd = rng.chance(0.8) ? this._pickFd(rng.pick(['vfio-device', 'dmabuf', 'dmabuf', 'eventfd'] as const)) : this._randomFd();
    this._closeFd(fd);
  }

  private _closeFd(fd: number): void {
    const held = this._open.has(fd);
    const r = this._sys.close(fd);
    this._log(() => `close(${fd}) = ${fmtErrno(r)}`);
    this._expect(r, CLOSE_ERRNOS, `close(${fd})`);
    check(held ? r === 0 : r < 0, () => `close(${fd}) = ${fmtErrno(r)} but the process ${held ? 'holds' : 'does not hold'} it`);
    this._open.delete(fd);
    check(this._sys.getCloexec(fd) === -9, () => `fd ${fd} still in the table after close`);
  }

  private _dup(): void {
    const rng = this._rng;
    const fd = rng.chance(0.85) ? this._pickFd(rng.pick(['vfio-device', 'dmabuf', 'eventfd'] as const)) : this._randomFd();
    const r = this._sys.dup(fd);
    this._log(() => `dup(${fd}) = ${fmtErrno(r)}`);
    this._expect(r, DUP_ERRNOS, `dup(${fd})`);
    if (r < 0) return;
    check(this._open.has(fd) && !this._open.has(r) && r >= 3, () => `dup(${fd}) = ${r}`);
    check(this._sys.fds.get(r) === this._sys.fds.get(fd), () => `dup(${fd}) = ${r} names another file`);
    check(this._sys.getCloexec(r) === false, () => `dup(${fd}) = ${r} has close-on-exec`);
    this._open.add(r);
  }

  private _eventfd(): void {
    const r = this._sys.eventfd();
    this._log(() => `eventfd() = ${fmtErrno(r)}`);
    this._expect(r, EVENTFD_ERRNOS, 'eventfd()');
    if (r >= 0) {
      check(!this._open.has(r), () => `eventfd() = ${r}, already held`);
      this._open.add(r);
    }
  }

  private _readEventfd(): void {
    const rng = this._rng;
    const fd = rng.chance(0.8) ? this._pickFd('eventfd') : this._pickFd('vfio-device');
    const r = this._sys.readEventfd(fd);
    this._log(() => `read(eventfd ${fd}) = ${typeof r === 'bigint' ? r : fmtErrno(r)}`);
    if (typeof r === 'number') this._expect(r, READ_EVENTFD_ERRNOS, `read(${fd})`);
    else check(r > 0n, () => `read(eventfd ${fd}) returned a zero counter`);
  }

  /** Device close/reopen: open a device (maybe a destroyed one), or close a device fd. */
  private _reopen(): void {
    const rng = this._rng;
    if (rng.chance(0.4)) {
      this._closeFd(this._pickFd('vfio-device'));
      return;
    }
    this._openDevice(rng.pick(this._states), false);
  }

  private _openDevice(s: VgpuState, required: boolean): number {
    const r = this._host.openDevice(s.vgpu.uuid);
    this._log(() => `open(${s.label}${s.destroyed ? ', destroyed' : ''}) = ${fmtErrno(r)}`);
    if (required) check(r >= 3, () => `opening ${s.label} failed: ${fmtErrno(r)}`);
    this._expect(r, OPEN_ERRNOS, `open(${s.label})`);
    if (s.destroyed) check(r < 0, () => `open of destroyed ${s.label} succeeded`);
    if (r >= 0) {
      const f = this._sys.fds.get(r);
      check(f instanceof VfioDeviceFile && f.mdev === s.vgpu.mdev && !this._open.has(r), () => `open(${s.label}) = ${r}: wrong file`);
      this._open.add(r);
    }
    return r;
  }

  private _destroy(): void {
    const live = this._states.filter((s) => !s.destroyed);
    if (live.length <= 1) return;
    const s = this._rng.pick(live);
    const ex = s.vgpu.mdev.exporter;
    this._log(() => `destroy ${s.label}`);
    check(this._host.destroyVgpu(s.vgpu.uuid), () => `destroy ${s.label} refused`);
    s.destroyed = true;
    check(s.vgpu.mdev.destroyed, () => `${s.label} not marked destroyed`);
    if (ex) check(ex.listedCount === 0, () => `${s.label}: ${ex.listedCount} objects still listed after destroy`);
  }

  private _recreate(): void {
    const live = this._states.filter((s) => !s.destroyed).length;
    if (live >= 4 || this._states.length >= 12) return;
    const kind = this._rng.pick(['gvt', 'bochs', 'region'] as const);
    const s = this._create(kind);
    if (s && this._rng.chance(0.7)) this._openDevice(s, false);
  }

  private _create(kind: VgpuKind): VgpuState | undefined {
    const rng = this._rng;
    const type = kind === 'gvt' ? rng.pick(['i915-GVTg_V5_8', 'i915-GVTg_V5_4'] satisfies Array<keyof typeof GVT_TYPES>)
      : kind === 'bochs' ? rng.weighted([[4, 'mbochs-small'], [1, 'mbochs-medium']])
        : rng.weighted([[4, 'mdpy-vga'], [1, 'mdpy-xga']]);
    const ramBytes = kind === 'gvt' ? rng.pick([4, 8]) * MiB : MiB;
    let vgpu: Vgpu;
    try {
      vgpu = this._host.createVgpu(type, { ramBytes, exportOverlay: rng.chance(0.7) });
    } catch (err) {
      // A full GGTT is a configuration error (RangeError), not a bug.
      if (err instanceof RangeError && /GGTT/.test(err.message)) return undefined;
      throw err;
    }
    const s: VgpuState = { vgpu, label: `${kind}#${++this._vmCount}`, ids: [], destroyed: false };
    this._states.push(s);
    this._byMdev.set(vgpu.mdev, s);
    this._byMemory.set(vgpu.memory, s);
    this._watch.watch(s.label, vgpu.memory);
    this._log(() => `create ${s.label} (${type})`);
    return s;
  }

  /** Fill the fd table with eventfds up to EMFILE, then give some back. */
  private _fill(): void {
    if (this._sys.fds.limit > 64) return;
    const got: number[] = [];
    for (;;) {
      const r = this._sys.eventfd();
      if (r < 0) { this._expect(r, EVENTFD_ERRNOS, 'eventfd() filling the table'); break; }
      this._open.add(r);
      got.push(r);
    }
    this._log(() => `filled the fd table with ${got.length} eventfds`);
    for (const fd of got) if (this._rng.chance(0.5)) this._closeFd(fd);
  }

  // ---- guests ------------------------------------------------------------------------------------

  /** The guest of a live vGPU runs a random program (a valid setup first when `valid`). */
  private _guest(s: VgpuState | undefined, valid: boolean): void {
    if (!s || s.destroyed) return;
    const rng = this._rng;
    const v = s.vgpu;
    const setup = valid || rng.chance(0.4);
    if (v.kind === 'gvt') {
      const dev = v.device as GvtDevice;
      const ops = gvtProgram(rng, this._gvtTarget(dev), setup ? rng.int(3) : 12, setup ? 1 : 0.2);
      for (const op of ops) {
        this._log(() => `guest ${s.label}: ${describeGvtOp(op)}`);
        applyGvtOp(dev, op);
      }
      this._report.ops += ops.length;
    } else if (v.kind === 'bochs') {
      const dev = v.device as BochsDevice;
      const ops = bochsProgram(rng, dev.vramBytes, setup ? rng.int(3) : 10, setup ? 1 : 0.2);
      for (const op of ops) {
        this._log(() => `guest ${s.label}: ${describeBochsOp(op)}`);
        applyBochsOp(dev, op);
      }
      this._report.ops += ops.length;
    } else if (rng.chance(0.02)) {
      this._log(() => `guest ${s.label}: device reset`);
      (v.device as RegionDevice).reset();
    }
  }

  private _gvtTarget(dev: GvtDevice): GvtTarget {
    const foreign = this._states.filter((x) => !x.destroyed && x.vgpu.kind === 'gvt' && x.vgpu.device !== dev)
      .flatMap((x) => {
        const d = x.vgpu.device as GvtDevice;
        return [d.aperture, d.hidden];
      });
    return { aperture: dev.aperture, hidden: dev.hidden, pageCount: dev.memory.pageCount, foreignSlices: foreign,
      foreignPages: [[0, 64], [dev.memory.pageCount, 4096]] };
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private _pickLive(): VgpuState | undefined {
    const live = this._states.filter((s) => !s.destroyed);
    return live.length ? this._rng.pick(live) : undefined;
  }

  /** An fd of the given kind the process holds (or, sometimes / if none, any number). */
  private _pickFd(kind: FileKind): number {
    const rng = this._rng;
    if (kind === 'none' || rng.chance(0.03)) return this._randomFd();
    const of: number[] = [];
    for (const fd of this._open) if (this._info(fd).file === kind) of.push(fd);
    if (of.length === 0) return this._open.size && rng.bool() ? rng.pick([...this._open]) : this._randomFd();
    return rng.pick(of);
  }

  private _randomFd(): number {
    const rng = this._rng;
    return rng.weighted([[4, rng.range(0, 40)], [1, rng.pick([-1, 0, 1, 2, 1023, 1024, 65536, 2 ** 31, -(2 ** 31)])],
      [0.2, rng.pick([0.5, Number.NaN, 2 ** 53])]]);
  }

  private _info(fd: number): FdInfo {
    const f = this._sys.fds.get(fd);
    if (f instanceof VfioDeviceFile) return { file: 'vfio-device', state: this._byMdev.get(f.mdev) };
    if (f instanceof DmabufFile) return { file: 'dmabuf', state: this._byMemory.get(f.object.memory) };
    if (f instanceof EventFd) return { file: 'eventfd', state: undefined };
    return { file: 'none', state: undefined };
  }

  private _bufferContext(s: VgpuState | undefined): BufferContext {
    const eventfds: number[] = [];
    for (const fd of this._open) if (this._sys.fds.get(fd) instanceof EventFd) eventfds.push(fd);
    const ids = s ? s.ids : this._states.flatMap((x) => x.ids);
    return {
      fds: [...this._open], eventfds, ids,
      regionIndexes: s ? s.vgpu.mdev.regions.map((r) => r.index) : [0, 2, 7, 9, 16],
    };
  }

  /** A region offset and access size, biased toward registers and region edges. */
  private _regionTarget(s: VgpuState | undefined): { offset: number; length: number } {
    const rng = this._rng;
    const len = (): number => rng.weighted([[6, rng.pick([1, 2, 4, 4, 4, 8])], [2, rng.size(256)], [1, rng.size(65536)], [0.3, 0]]);
    if (!s || rng.chance(0.05)) {
      return { offset: rng.weighted([[3, rng.size(0x10000)], [1, rng.u32()], [1, rng.pick([-1, 2 ** 53, 2 ** 40 * 9 + 0x800, 0.5, Number.NaN])]]), length: len() };
    }
    const r = rng.pick(s.vgpu.mdev.regions);
    const length = len();
    const kind = s.vgpu.kind;
    const reg = (): number => {
      if (kind === 'gvt' && r.index === 0) {
        return rng.pick([PLANE_CTL(0), PLANE_STRIDE(0), PLANE_SURF(0), PIPECONF(0), PIPESRC(0), CUR_CTL(0), CUR_BASE(0),
          CURSOR_X_HOT, GTT_BASE + rng.int(0x1000) * 8, PLANE_SURF(rng.int(4))]);
      }
      if (kind === 'bochs' && r.size === 4096 && r.index === 2) return dispiOffset(rng.int(12));
      if (r.index === 9) return rng.chance(0.6) ? rng.int(7) * 4 : rng.pick([0x800, 2048]) + rng.size(0x400);
      return rng.int(r.size);
    };
    const at = rng.weighted<() => number>([
      [5, reg],
      [2, () => 0],
      [2, () => r.size - length],
      [1, () => r.size - length + 1],
      [1, () => r.size - 1],
      [1, () => r.size],
      [2, () => rng.int(r.size)],
      [1, () => rng.int(Math.max(1, r.size / 4)) * 4],
    ])();
    return { offset: r.offset + at, length };
  }

  private _writeData(length: number): Uint8Array {
    const rng = this._rng;
    if (length === 4 && rng.chance(0.7)) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, rng.chance(0.3) ? rng.pick([1, 2, 128, 0x80000000, 0x84000000]) : interestingU32(rng), true);
      return b;
    }
    if (length === 2 && rng.chance(0.7)) {
      const b = new Uint8Array(2);
      new DataView(b.buffer).setUint16(0, rng.pick([0, 1, 32, 64, 0x41, 640, 480, 0xffff, rng.int(0x10000)]), true);
      return b;
    }
    return rng.bytes(length);
  }

  /**
   * Place an argument in the middle of a larger buffer with random guard bytes around it (a
   * non-zero byteOffset, like a struct inside a bigger allocation); `outside()` checks the guards.
   */
  private _place(data: Uint8Array): { arg: Uint8Array; outside: () => boolean } {
    const rng = this._rng;
    if (!rng.chance(0.3)) return { arg: data, outside: () => true };
    const pre = rng.range(1, 16);
    const post = rng.range(1, 16);
    const big = rng.bytes(pre + data.byteLength + post);
    big.set(data, pre);
    const guard = big.slice();
    const arg = big.subarray(pre, pre + data.byteLength);
    return {
      arg,
      outside: () => equal(big.subarray(0, pre), guard.subarray(0, pre)) &&
        equal(big.subarray(pre + data.byteLength), guard.subarray(pre + data.byteLength)),
    };
  }

  private _checkMapping(m: Mapping, length: number, info: FdInfo, what: string): void {
    check(m.length === length, () => `${what}: mapping length ${m.length}`);
    check(m.chunks.length === m.chunkOffsets.length && m.chunks.length > 0, () => `${what}: malformed chunk list`);
    const s = info.state;
    check(s !== undefined, () => `${what}: mapping of a file that belongs to no VM`);
    const mem = s.vgpu.memory;
    let at = 0;
    for (let i = 0; i < m.chunks.length; i++) {
      const c = m.chunks[i]!;
      check(m.chunkOffsets[i] === at, () => `${what}: chunk ${i} at ${m.chunkOffsets[i]}, expected ${at}`);
      check(c.buffer === mem.buffer, () => `${what}: chunk ${i} is not ${s.label}'s memory`);
      check(c.byteOffset >= 0 && c.byteOffset + c.byteLength <= mem.size, () => `${what}: chunk ${i} outside memory`);
      if (info.file === 'vfio-device') {
        const first = s.vgpu.layout.fbFirstPage;
        const pages = s.vgpu.layout.fbPages;
        check(first !== undefined && pages !== undefined && c.byteOffset >= first * PAGE_SIZE &&
          c.byteOffset + c.byteLength <= (first + pages) * PAGE_SIZE, () => `${what}: region mapping outside the framebuffer`);
      } else {
        check(c.byteOffset % PAGE_SIZE === 0, () => `${what}: dma-buf chunk not page aligned`);
      }
      at += c.byteLength;
    }
    check(at === length, () => `${what}: chunks cover ${at} bytes of ${length}`);
  }

  private _act<T>(s: VgpuState | undefined, fn: () => T): T {
    return s ? this._watch.as(s.label, fn) : fn();
  }

  private _expect(r: number, allowed: ReadonlySet<number>, what: string): void {
    check(Number.isInteger(r), () => `${what} returned ${String(r)}, not an integer`);
    check(r >= 0 || allowed.has(-r), () => `${what} returned ${fmtErrno(r)}, allowed: ${[...allowed].map((e) => errnoName(e)).join(', ') || 'none'}`);
  }

  private _log(line: () => string): void {
    this._trace?.push(line());
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function remember(ids: number[], id: number): void {
  if (ids.includes(id)) return;
  ids.push(id);
  if (ids.length > 16) ids.shift();
}

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < Math.min(b.byteLength, 64); i++) s += b[i]!.toString(16).padStart(2, '0');
  return `[${b.byteLength}]${s}${b.byteLength > 64 ? '…' : ''}`;
}

function describeError(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

