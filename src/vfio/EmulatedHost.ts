import { DirtyLog } from '../gpu/DirtyLog.ts';
import { Ggtt } from '../gpu/Ggtt.ts';
import { GuestMemory, PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { MBOCHS_TYPES } from '../vgpu/bochs/BochsRegisters.ts';
import { DisplayLink } from '../vgpu/DisplayLink.ts';
import { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import type { MediatedDevice } from '../vgpu/Plane.ts';
import { MDPY_TYPES } from '../vgpu/region/MdpyTypes.ts';
import { RegionDevice } from '../vgpu/region/RegionDevice.ts';
import { BochsMdev } from './BochsMdev.ts';
import { EmulatedKernel } from './EmulatedKernel.ts';
import { GvtMdev } from './GvtMdev.ts';
import { RegionMdev } from './RegionMdev.ts';
import type { VfioMdev } from './VfioMdev.ts';

const MiB = 1024 * 1024;

/** GVT-g SKL+ types (spec §6): aperture ("low GM") and hidden ("high GM") per vGPU, EDID. */
export const GVT_TYPES = {
  'i915-GVTg_V5_8': { apertureMiB: 64, hiddenMiB: 384, edid: [1024, 768] },
  'i915-GVTg_V5_4': { apertureMiB: 128, hiddenMiB: 512, edid: [1920, 1200] },
  'i915-GVTg_V5_2': { apertureMiB: 256, hiddenMiB: 1024, edid: [1920, 1200] },
  'i915-GVTg_V5_1': { apertureMiB: 512, hiddenMiB: 2048, edid: [1920, 1200] },
} as const;

export type VgpuKind = 'gvt' | 'bochs' | 'region';

/** Default mdev type per kind (the `emulated:gvt` shorthand). */
export const DEFAULT_TYPE: Record<VgpuKind, string> = {
  gvt: 'i915-GVTg_V5_4',
  bochs: 'mbochs-medium',
  region: 'mdpy-xga',
};

export interface CreateVgpuOptions {
  uuid?: string;
  /** Guest RAM (bytes, page multiple). Default 64 MiB for gvt, 8 MiB otherwise. */
  ramBytes?: number;
  /** gvt: export the sprite as an OVERLAY plane (default true; false = GVT's -EINVAL). */
  exportOverlay?: boolean;
}

/** Where things live in a VM's memory, for the guest's allocator. */
export interface GuestLayout {
  /** Pages the guest may allocate buffers from: [ramFirstPage, ramFirstPage + ramPages). */
  readonly ramFirstPage: number;
  readonly ramPages: number;
  /** bochs VRAM / mdpy framebuffer pages (inside guest memory). */
  readonly fbFirstPage?: number;
  readonly fbPages?: number;
}

/** One vGPU with its VM's memory, as the host created it. */
export interface Vgpu {
  readonly uuid: string;
  readonly typeName: string;
  readonly kind: VgpuKind;
  readonly memory: GuestMemory;
  readonly dirtyLog: DirtyLog;
  readonly device: MediatedDevice;
  readonly mdev: VfioMdev;
  readonly link: DisplayLink;
  readonly layout: GuestLayout;
  readonly vmId: number;
}

/**
 * An emulated host: one physical GPU (a GGTT shared by its GVT vGPUs), the mdev bus, and the
 * kernel of the VMM process that opens devices. `createVgpu` is `echo UUID > .../create`.
 */
export class EmulatedHost {
  public readonly kernel: EmulatedKernel;
  public readonly ggtt: Ggtt;
  private readonly _vgpus = new Map<string, Vgpu>();
  private _nextVm = 1;

  public constructor(opts: { fdLimit?: number; ggttPages?: number } = {}) {
    this.kernel = new EmulatedKernel(opts.fdLimit);
    this.ggtt = new Ggtt(opts.ggttPages ?? 1 << 20);
  }

  public static types(): string[] {
    return [...Object.keys(GVT_TYPES), ...Object.keys(MBOCHS_TYPES), ...Object.keys(MDPY_TYPES)];
  }

  public static kindOf(typeName: string): VgpuKind | undefined {
    if (typeName in GVT_TYPES) return 'gvt';
    if (typeName in MBOCHS_TYPES) return 'bochs';
    if (typeName in MDPY_TYPES) return 'region';
    return undefined;
  }

  public get vgpus(): Vgpu[] {
    return [...this._vgpus.values()];
  }

  public vgpu(uuid: string): Vgpu | undefined {
    return this._vgpus.get(uuid);
  }

  /** Create a vGPU of an mdev type name or a kind (`gvt`, `bochs`, `region`). Throws on bad input. */
  public createVgpu(typeOrKind: string, opts: CreateVgpuOptions = {}): Vgpu {
    const typeName = typeOrKind in DEFAULT_TYPE ? DEFAULT_TYPE[typeOrKind as VgpuKind] : typeOrKind;
    const kind = EmulatedHost.kindOf(typeName);
    if (!kind) throw new RangeError(`unknown mdev type '${typeOrKind}' (known: ${EmulatedHost.types().join(', ')})`);
    const uuid = opts.uuid ?? makeUuid(this._nextVm);
    if (this._vgpus.has(uuid)) throw new RangeError(`mdev ${uuid} exists`);
    const vmId = this._nextVm++;
    const ramBytes = opts.ramBytes ?? (kind === 'gvt' ? 64 * MiB : 8 * MiB);
    if (ramBytes <= 0 || ramBytes % PAGE_SIZE !== 0) throw new RangeError('ramBytes must be a positive page multiple');
    const ramPages = ramBytes / PAGE_SIZE;
    let vgpu: Vgpu;
    if (kind === 'gvt') {
      const t = GVT_TYPES[typeName as keyof typeof GVT_TYPES];
      const memory = new GuestMemory(ramBytes);
      const a = this.ggtt.allocate(vmId, t.apertureMiB * MiB, t.hiddenMiB * MiB, memory.pageCount);
      if (!a) throw new RangeError(`no GGTT space left for another ${typeName}`);
      const device = new GvtDevice({ memory, ggtt: this.ggtt, vmId, exportOverlay: opts.exportOverlay ?? true });
      const link = new DisplayLink();
      const mdev = new GvtMdev(uuid, typeName, device, { edidWidth: t.edid[0], edidHeight: t.edid[1], sink: link });
      vgpu = { uuid, typeName, kind, memory, dirtyLog: new DirtyLog(memory.pageCount), device, mdev, link, vmId,
        layout: { ramFirstPage: 16, ramPages: ramPages - 16 } };
    } else if (kind === 'bochs') {
      const t = MBOCHS_TYPES[typeName as keyof typeof MBOCHS_TYPES];
      const vramPages = (t.mbytes * MiB) / PAGE_SIZE;
      const memory = new GuestMemory(ramBytes + vramPages * PAGE_SIZE);
      const device = new BochsDevice({ memory, vramFirstPage: ramPages, vramPages, maxXres: t.maxXres, maxYres: t.maxYres });
      const link = new DisplayLink((blob, up) => device.setEdid(blob, up));
      const mdev = new BochsMdev(uuid, typeName, device, link);
      vgpu = { uuid, typeName, kind, memory, dirtyLog: new DirtyLog(memory.pageCount), device, mdev, link, vmId,
        layout: { ramFirstPage: 16, ramPages: ramPages - 16, fbFirstPage: ramPages, fbPages: vramPages } };
    } else {
      const t = MDPY_TYPES[typeName as keyof typeof MDPY_TYPES];
      const fbPages = Math.ceil(t.memsize / PAGE_SIZE);
      const memory = new GuestMemory(ramBytes + fbPages * PAGE_SIZE);
      const device = new RegionDevice({ memory, fbFirstPage: ramPages, width: t.width, height: t.height });
      const link = new DisplayLink();
      const mdev = new RegionMdev(uuid, typeName, device);
      vgpu = { uuid, typeName, kind, memory, dirtyLog: new DirtyLog(memory.pageCount), device, mdev, link, vmId,
        layout: { ramFirstPage: 16, ramPages: ramPages - 16, fbFirstPage: ramPages, fbPages } };
    }
    this._vgpus.set(uuid, vgpu);
    return vgpu;
  }

  /** Open the device in the host process: the VFIO_GROUP_GET_DEVICE_FD step. */
  public openDevice(uuid: string): number {
    const v = this._vgpus.get(uuid);
    if (!v) return -2; // -ENOENT
    const file = v.mdev.open();
    if (typeof file === 'number') return file;
    const fd = this.kernel.install(file, true);
    if (fd < 0) file.release();
    return fd;
  }

  /** `echo 1 > .../remove`: exported dma-bufs become orphans; device fds answer -ENODEV. */
  public destroyVgpu(uuid: string): boolean {
    const v = this._vgpus.get(uuid);
    if (!v) return false;
    v.mdev.destroy();
    if (v.kind === 'gvt') this.ggtt.release(v.vmId);
    this._vgpus.delete(uuid);
    return true;
  }
}

function makeUuid(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `6d1b0c2e-6a0e-4f5b-9b7a-${hex}`;
}
