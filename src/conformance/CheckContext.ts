import { Errno, errnoName } from '../base/Errno.ts';
import { formatName } from '../kms/Fourcc.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import {
  VFIO_GFX_PLANE_TYPE_DMABUF, VFIO_GFX_PLANE_TYPE_PROBE, VFIO_GFX_PLANE_TYPE_REGION,
  VFIO_PCI_CONFIG_REGION_INDEX,
} from '../vfio/Abi.ts';
import type { DeviceInfo } from '../vfio/DeviceInfo.ts';
import type { PlaneInfo } from '../vfio/PlaneInfo.ts';
import { PROT_READ, type Mapping, type Sys } from '../vfio/Sys.ts';
import { BOCHS_PCI_DEVICE_ID, BOCHS_PCI_VENDOR_ID } from '../vgpu/bochs/BochsRegisters.ts';
import { MDPY_PCI_DEVICE_ID, MDPY_PCI_VENDOR_ID } from '../vgpu/region/MdpyTypes.ts';
import { BochsProgrammer } from './BochsProgrammer.ts';
import type { DeviceFamily } from './Check.ts';
import { DeviceClient, type QueryResult } from './DeviceClient.ts';
import type { DisplayProgrammer, ExpectedPlane, ModeRequest } from './DisplayProgrammer.ts';
import { GvtProgrammer } from './GvtProgrammer.ts';
import { RegionProgrammer } from './RegionProgrammer.ts';

const INTEL_VENDOR_ID = 0x8086;

export interface ConformanceOptions {
  readonly sys: Sys;
  /** An open device fd (the suite may close it in its last, emulated-only, checks). */
  readonly fd: number;
  /** A real kernel device: known kernel bugs are reported as quirks, destructive checks skipped. */
  readonly real: boolean;
  /** Label for the report (e.g. the --device spec). */
  readonly device?: string;
  /** Skip detection (from PCI ids, else from the PROBE answers). */
  readonly family?: DeviceFamily;
  /** Make the emulated device see a vblank (GVT surface writes latch only then). */
  readonly vblank?: () => void;
  /** Open fds of the calling process (emulated kernels only): enables the fd-leak check. */
  readonly openFdCount?: () => number;
  /** Run only checks whose name starts with one of these. */
  readonly only?: readonly string[];
}

/** `-EINVAL` / `0` for details. */
export function rcName(rc: number): string {
  return rc < 0 ? `-${errnoName(rc)}` : String(rc);
}

export function describePlane(p: PlaneInfo): string {
  if (p.drmFormat === 0) return `empty (format 0, ${p.width}x${p.height}, size ${p.size}, id ${p.dmabufId})`;
  return `${formatName(p.drmFormat)} mod 0x${p.drmFormatMod.toString(16)} ${p.width}x${p.height} ` +
    `stride ${p.stride} size ${p.size} id ${p.dmabufId}`;
}

/** Differences between reported and expected plane outputs ('' when equal). */
export function planeMismatch(p: PlaneInfo, e: ExpectedPlane): string {
  const bad: string[] = [];
  if (p.drmFormat !== e.drmFormat) bad.push(`format ${formatName(p.drmFormat)} != ${formatName(e.drmFormat)}`);
  if (p.drmFormatMod !== e.modifier) {
    bad.push(`modifier 0x${p.drmFormatMod.toString(16)} != 0x${e.modifier.toString(16)}`);
  }
  if (p.width !== e.width) bad.push(`width ${p.width} != ${e.width}`);
  if (p.height !== e.height) bad.push(`height ${p.height} != ${e.height}`);
  if (p.stride !== e.stride) bad.push(`stride ${p.stride} != ${e.stride}`);
  if (p.size !== e.size) bad.push(`size ${p.size} != ${e.size}`);
  return bad.join(', ');
}

/**
 * Everything a check may use: the device file (sys + fd, wrapped by `client`), the programming
 * layer of the detected family, what the suite observed so far, and fd bookkeeping so that every
 * fd a check opens is closed after it, whatever happens.
 */
export class CheckContext {
  public readonly sys: Sys;
  public readonly real: boolean;
  public readonly client: DeviceClient;
  public readonly family: DeviceFamily;
  public readonly vblank: (() => void) | undefined;
  public readonly openFdCount: (() => number) | undefined;
  public readonly behaviour: Record<string, string> = {};
  /** GET_INFO at start (undefined when it failed). */
  public readonly info: DeviceInfo | undefined;
  public readonly gvt: GvtProgrammer | undefined;
  public readonly bochs: BochsProgrammer | undefined;
  public readonly region: RegionProgrammer | undefined;
  /** The dma-buf family's programmer, when it prepared fine. */
  public readonly prog: DisplayProgrammer | undefined;
  /** Why there is no programmer (n/a reason for checks that need one). */
  public readonly progProblem: string | undefined;
  /** Open fds when the suite started (emulated only). */
  public readonly baselineFds: number | undefined;
  /** Set by the check that closes the device fd (the last ones). */
  public deviceClosed = false;
  private readonly _tracked = new Set<number>();
  /** id → fd of dma-bufs this check holds: a real device must never see a second GET of one. */
  private readonly _live = new Map<number, number>();

  public constructor(opts: ConformanceOptions) {
    this.sys = opts.sys;
    this.real = opts.real;
    this.vblank = opts.vblank;
    this.openFdCount = opts.openFdCount;
    this.baselineFds = opts.openFdCount?.();
    this.client = new DeviceClient(opts.sys, opts.fd);
    const info = this.client.getInfo();
    this.info = info.rc < 0 ? undefined : info.info;
    this.family = opts.family ?? detectFamily(this.client);
    let problem: string | undefined;
    let gvt: GvtProgrammer | undefined;
    let bochs: BochsProgrammer | undefined;
    let region: RegionProgrammer | undefined;
    if (this.family === 'gvt') {
      gvt = new GvtProgrammer(this.client, opts.vblank, opts.real);
      const rc = gvt.prepare();
      if (rc < 0) problem = `GVT programming layer: ${rcName(rc)}`;
      else if (gvt.latch !== true) problem = gvt.latch;
    } else if (this.family === 'bochs') {
      bochs = new BochsProgrammer(this.client);
      const rc = bochs.prepare();
      if (rc < 0) problem = `bochs programming layer: ${rcName(rc)}`;
    } else if (this.family === 'region') {
      region = new RegionProgrammer(this.client);
      const rc = region.prepare();
      if (rc < 0) problem = `region programming layer: ${rcName(rc)}`;
    } else {
      problem = `no programming layer for a '${this.family}' device`;
    }
    this.gvt = gvt;
    this.bochs = bochs;
    this.region = region;
    this.prog = problem === undefined ? (gvt ?? bochs) : undefined;
    this.progProblem = problem;
  }

  public get fd(): number {
    return this.client.fd;
  }

  /** Whether the device exports dma-bufs (as opposed to a region display). */
  public get isDmabuf(): boolean {
    return this.family === 'gvt' || this.family === 'bochs' || this.family === 'dmabuf';
  }

  /** The flags of a plain QUERY on this device. */
  public get queryFlags(): number {
    return this.family === 'region' ? VFIO_GFX_PLANE_TYPE_REGION : VFIO_GFX_PLANE_TYPE_DMABUF;
  }

  // ---- queries ---------------------------------------------------------------------------------

  /**
   * QUERY of a plane with the device's flags. On a REAL device an -ENOMEM is retried once (mbochs
   * B12: the first query after a mode change fails); the dedicated check reports that quirk.
   */
  public query(planeType: number = PlaneType.PRIMARY): QueryResult {
    const r = this.client.query(this.queryFlags, planeType);
    if (this.real && r.rc === -Errno.ENOMEM) return this.client.query(this.queryFlags, planeType);
    return r;
  }

  /** Program `mode` and query the primary plane: the plane and what was expected, or an error. */
  public show(mode: ModeRequest): { q: QueryResult; expected: ExpectedPlane } | string {
    if (!this.prog) return this.progProblem ?? 'no programming layer';
    const expected = this.prog.setMode(mode);
    if (typeof expected === 'number') return `setting ${mode.width}x${mode.height}: ${rcName(expected)}`;
    const q = this.query();
    if (q.rc < 0) return `QUERY after setting ${mode.width}x${mode.height}: ${rcName(q.rc)}`;
    return { q, expected };
  }

  // ---- fds -------------------------------------------------------------------------------------

  /**
   * GET_GFX_DMABUF, tracked. Throws (a failure of the calling check) before a second GET of an id
   * whose dma-buf is still open on a REAL device: mbochs would corrupt the file refcount (B13).
   */
  public getDmabuf(id: number): number {
    if (this.real && this._live.has(id)) {
      throw new Error(`refusing a second GET of live dma-buf id ${id} on a real device (B13)`);
    }
    const fd = this.client.getDmabuf(id);
    if (fd >= 0) {
      this._tracked.add(fd);
      this._live.set(id, fd);
    }
    return fd;
  }

  public eventfd(): number {
    const fd = this.sys.eventfd();
    if (fd >= 0) this._tracked.add(fd);
    return fd;
  }

  public close(fd: number): number {
    this._tracked.delete(fd);
    for (const [id, f] of this._live) if (f === fd) this._live.delete(id);
    return this.sys.close(fd);
  }

  /** Forget an fd the check closed some other way (e.g. with the device). */
  public untrack(fd: number): void {
    this._tracked.delete(fd);
    for (const [id, f] of this._live) if (f === fd) this._live.delete(id);
  }

  /** mmap PROT_READ of the first `length` bytes (page-rounded) of a dma-buf. */
  public mapDmabuf(fd: number, length: number, prot = PROT_READ): Mapping | number {
    return this.sys.mmap(fd, 0, Math.ceil(length / 4096) * 4096, prot);
  }

  /** Close every fd the current check left open. */
  public cleanup(): void {
    for (const fd of [...this._tracked]) this.close(fd);
    this._live.clear();
  }

  /**
   * Unmap the programmers' region mappings (BAR0, the display region). A mapping holds the device
   * file open as Linux's vma->vm_file does, so a check that needs the device really closed calls
   * this first; the programmers fall back to pwrite afterwards.
   */
  public unmapRegions(): void {
    this.gvt?.dispose();
    this.bochs?.dispose();
    this.region?.dispose();
  }

  /** The device family programmers' mappings. */
  public dispose(): void {
    this.cleanup();
    this.unmapRegions();
  }
}

/** The family from the PCI ids in config space, else from which PROBE the device accepts. */
function detectFamily(client: DeviceClient): DeviceFamily {
  const ids = client.read32(VFIO_PCI_CONFIG_REGION_INDEX, 0);
  if (ids >= 0) {
    const vendor = ids & 0xffff;
    const device = ids >>> 16;
    if (vendor === INTEL_VENDOR_ID) return 'gvt';
    if (vendor === BOCHS_PCI_VENDOR_ID && device === BOCHS_PCI_DEVICE_ID) return 'bochs';
    if (vendor === MDPY_PCI_VENDOR_ID && device === MDPY_PCI_DEVICE_ID) return 'region';
  }
  const probe = (f: number): number => client.query(VFIO_GFX_PLANE_TYPE_PROBE | f, PlaneType.PRIMARY).rc;
  if (probe(VFIO_GFX_PLANE_TYPE_DMABUF) === 0) return 'dmabuf';
  if (probe(VFIO_GFX_PLANE_TYPE_REGION) === 0) return 'region';
  return 'unknown';
}
