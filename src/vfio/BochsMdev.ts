import { Errno } from '../base/Errno.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { buildEdid } from '../vgpu/Edid.ts';
import type { DecodedPlane } from '../vgpu/Plane.ts';
import {
  VFIO_GFX_PLANE_TYPE_DMABUF, VFIO_GFX_PLANE_TYPE_PROBE, VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_NUM_REGIONS,
} from './Abi.ts';
import { registerRegion, memoryRegion } from './DeviceRegions.ts';
import { DmabufExporter } from './DmabufExporter.ts';
import { EdidRegion, type EdidSink } from './EdidRegion.ts';
import { bochsKey } from './MdevKeys.ts';
import { writePlaneInfoOutputs } from './PlaneInfo.ts';
import type { Region } from './Region.ts';
import { EMPTY_PLANE, VfioMdev } from './VfioMdev.ts';

/** mbochs' compact fd layout (spec §4.1): config 0, MMIO 4096, EDID 8192, VRAM 12288. */
export const BOCHS_LAYOUT = { config: 0, mmio: 4096, edid: 8192, vram: 12288 } as const;

/**
 * The VFIO face of an mbochs-compatible device (samples/vfio-mdev/mbochs.c), with its bugs fixed:
 * the first query after a mode change succeeds (B12), pread/pwrite on VRAM hit the offset asked
 * for, GET_REGION_INFO accepts a larger argsz, and every GET is a new dma-buf file (B13).
 * Kept from mbochs on purpose: a non-primary query answers an empty plane with success, the
 * hotspot reads 0, GET of an unknown id is -ENOENT, an unaligned pan is exported only if page
 * aligned (-EINVAL at GET), and buffers stay listed per mode (a mode revisited keeps its id),
 * bounded so a guest cannot grow them without limit (B16).
 */
export class BochsMdev extends VfioMdev {
  public readonly regions: readonly Region[];
  public readonly numRegions = VFIO_PCI_NUM_REGIONS + 1;
  public readonly exporter: DmabufExporter;
  public readonly edidRegion: EdidRegion;

  public constructor(uuid: string, typeName: string, public readonly device: BochsDevice, sink: EdidSink = device) {
    super(uuid, typeName);
    this.exporter = new DmabufExporter({
      memory: device.memory, keyOf: bochsKey, unknownIdErrno: Errno.ENOENT, retainReleased: true,
    });
    const w = device.maxXres || 1920;
    const h = device.maxYres || 1080;
    this.edidRegion = new EdidRegion({
      offset: BOCHS_LAYOUT.edid, size: 4096, edidOffset: 0x800, edidMaxSize: 0x400,
      maxXres: device.maxXres, maxYres: device.maxYres,
      initial: buildEdid({ width: Math.min(w, 1920), height: Math.min(h, 1080), name: 'vgpu-bochs' }),
    }, sink);
    this.regions = [
      registerRegion(VFIO_PCI_CONFIG_REGION_INDEX, BOCHS_LAYOUT.config, 0xff,
        (o, n) => device.configRead(o, n), (o, n, v) => device.configWrite(o, n, v)),
      registerRegion(VFIO_PCI_BAR2_REGION_INDEX, BOCHS_LAYOUT.mmio, 4096,
        (o, n) => device.mmioRead(o, n), (o, n, v) => device.mmioWrite(o, n, v)),
      this.edidRegion,
      memoryRegion(VFIO_PCI_BAR0_REGION_INDEX, BOCHS_LAYOUT.vram, device.vramBytes, (o, n) => device.vramView(o, n)),
    ];
  }

  protected _queryPlane(flags: number, planeType: number, arg: Uint8Array): number {
    if (flags & VFIO_GFX_PLANE_TYPE_PROBE) {
      return flags === (VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_DMABUF) ? 0 : -Errno.EINVAL;
    }
    if (flags !== VFIO_GFX_PLANE_TYPE_DMABUF) return -Errno.EINVAL;
    const plane = planeType === PlaneType.PRIMARY ? this.device.decodePlane(planeType) : null;
    if (plane === null) return writePlaneInfoOutputs(arg, EMPTY_PLANE);
    return this._replyDmabuf(plane, arg);
  }

  protected override _canExport(plane: DecodedPlane): number {
    // mbochs_dmabuf_export: "framebuffer not page-aligned".
    return plane.start % PAGE_SIZE === 0 ? 0 : -Errno.EINVAL;
  }
}
