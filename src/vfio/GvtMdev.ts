import { Errno } from '../base/Errno.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { buildEdid } from '../vgpu/Edid.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import { GVT_BAR0 } from '../vgpu/gvt/GvtDevice.ts';
import {
  VFIO_GFX_PLANE_TYPE_DMABUF as VFIO_GFX_PLANE_TYPE_DMABUF_,
  VFIO_GFX_PLANE_TYPE_PROBE as VFIO_GFX_PLANE_TYPE_PROBE_, VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_NUM_REGIONS,
  VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
} from './Abi.ts';
import { DmabufExporter } from './DmabufExporter.ts';
import { EdidRegion, type EdidSink } from './EdidRegion.ts';
import { gvtKey } from './MdevKeys.ts';
import { PciConfig } from './PciConfig.ts';
import { writePlaneInfoOutputs } from './PlaneInfo.ts';
import type { Region } from './Region.ts';
import { EMPTY_PLANE, VfioMdev } from './VfioMdev.ts';
// Imports bound once at load: the tsx runtime reads an imported binding through a getter,
// and these sit on the per-refresh QUERY path.
const VFIO_GFX_PLANE_TYPE_DMABUF = VFIO_GFX_PLANE_TYPE_DMABUF_;
const VFIO_GFX_PLANE_TYPE_PROBE = VFIO_GFX_PLANE_TYPE_PROBE_;

/** kvmgt places region i at fd offset i << 40 (VFIO_PCI_INDEX_TO_OFFSET). */
export const gvtRegionOffset = (index: number): number => index * 2 ** 40;

export interface GvtMdevOptions {
  /** EDID of the type (GVT: 1024×768 for _8, 1920×1200 otherwise). */
  edidWidth: number;
  edidHeight: number;
  /** Receives EDID hotplugs (the guest-visible display link). */
  sink: EdidSink;
}

/**
 * The VFIO face of a GVT-g vGPU (kvmgt.c + dmabuf.c, spec §2): BAR0 is the MMIO window (4- and
 * 8-byte accesses, the GTT at +8 MiB), config space, the EDID region; QUERY_GFX_PLANE follows
 * intel_vgpu_query_plane step by step, GET follows intel_vgpu_get_dmabuf (new fd each call).
 */
export class GvtMdev extends VfioMdev {
  public readonly regions: readonly Region[];
  public readonly numRegions = VFIO_PCI_NUM_REGIONS + 1;
  public readonly exporter: DmabufExporter;
  public readonly edidRegion: EdidRegion;

  public constructor(uuid: string, typeName: string, public readonly device: GvtDevice, opts: GvtMdevOptions) {
    super(uuid, typeName);
    this.exporter = new DmabufExporter({
      memory: device.memory, keyOf: gvtKey, unknownIdErrno: Errno.EINVAL, retainReleased: false,
      resolvePages: (p) => device.ggtt.translateRange(device.vmId, p.start, p.size),
    });
    const edid = buildEdid({ width: opts.edidWidth, height: opts.edidHeight, name: 'vgpu-gvt' });
    this.edidRegion = new EdidRegion({
      offset: gvtRegionOffset(VFIO_PCI_NUM_REGIONS), size: 4096, edidOffset: 2048, edidMaxSize: 128,
      maxXres: opts.edidWidth, maxYres: opts.edidHeight, initial: edid,
    }, opts.sink);
    const config = new PciConfig({ vendor: 0x8086, device: 0x1912, classCode: 0x030000 });
    this.regions = [
      {
        index: VFIO_PCI_BAR0_REGION_INDEX, offset: gvtRegionOffset(0), size: GVT_BAR0.size,
        flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
        read: (off, buf) => this._mmio(off, buf, false),
        write: (off, buf) => this._mmio(off, buf, true),
      },
      this._apertureRegion(),
      config.region(VFIO_PCI_CONFIG_REGION_INDEX, gvtRegionOffset(VFIO_PCI_CONFIG_REGION_INDEX)),
      this.edidRegion,
    ];
  }

  protected _queryPlane(flags: number, planeType: number, arg: Uint8Array): number {
    // §2.3 step 1: PROBE|DMABUF answers at once; anything but plain DMABUF is -EINVAL.
    if (flags === (VFIO_GFX_PLANE_TYPE_DMABUF | VFIO_GFX_PLANE_TYPE_PROBE)) return 0;
    if (flags === 0 || (flags & ~VFIO_GFX_PLANE_TYPE_DMABUF) !== 0) return -Errno.EINVAL;
    const plane = this.device.decodePlane(planeType);
    if (typeof plane === 'number') return plane;
    // -ENODEV ("plane isn't ready") is success with zeroed outputs; we zero them explicitly.
    if (plane === null) return writePlaneInfoOutputs(arg, EMPTY_PLANE);
    return this._replyDmabuf(plane, arg);
  }

  /**
   * BAR2, the vGPU's aperture slice: CPU access to graphics memory through the GGTT, as kvmgt
   * exposes it. Each page goes through the VM's own GGTT entries; an unmapped page is -EFAULT.
   */
  private _apertureRegion(): Region {
    const dev = this.device;
    const access = (off: number, buf: Uint8Array, write: boolean): number => {
      let done = 0;
      while (done < buf.byteLength) {
        const gma = dev.aperture.base + off + done;
        const page = dev.ggtt.translate(dev.vmId, gma - (gma % PAGE_SIZE));
        if (page < 0) return done > 0 ? done : -Errno.EFAULT;
        const inPage = gma % PAGE_SIZE;
        const n = Math.min(PAGE_SIZE - inPage, buf.byteLength - done);
        const mem = dev.memory.view(page * PAGE_SIZE + inPage, n);
        if (write) mem.set(buf.subarray(done, done + n));
        else buf.set(mem, done);
        done += n;
      }
      return done;
    };
    return {
      index: VFIO_PCI_BAR2_REGION_INDEX, offset: gvtRegionOffset(VFIO_PCI_BAR2_REGION_INDEX),
      size: dev.aperture.size, flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
      read: (off, buf) => access(off, buf, false),
      write: (off, buf) => access(off, buf, true),
    };
  }

  private _mmio(off: number, buf: Uint8Array, write: boolean): number {
    // kvmgt accepts 4- and 8-byte aligned accesses to BAR0; anything else is refused.
    const n = buf.byteLength;
    if ((n !== 4 && n !== 8) || off % n !== 0) return -Errno.EINVAL;
    const v = new DataView(buf.buffer, buf.byteOffset, n);
    if (n === 4) {
      if (write) this.device.mmioWrite32(off, v.getUint32(0, true));
      else v.setUint32(0, this.device.mmioRead32(off), true);
    } else if (write) {
      this.device.mmioWrite64(off, v.getBigUint64(0, true));
    } else {
      v.setBigUint64(0, this.device.mmioRead64(off), true);
    }
    return n;
  }
}
