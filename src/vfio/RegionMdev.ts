import { Errno } from '../base/Errno.ts';
import { MDPY_DISPLAY_REGION } from '../vgpu/region/MdpyTypes.ts';
import type { RegionDevice } from '../vgpu/region/RegionDevice.ts';
import {
  VFIO_GFX_PLANE_TYPE_PROBE, VFIO_GFX_PLANE_TYPE_REGION, VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
} from './Abi.ts';
import { memoryRegion, registerRegion } from './DeviceRegions.ts';
import { writePlaneInfoOutputs } from './PlaneInfo.ts';
import type { Region } from './Region.ts';
import { VfioMdev } from './VfioMdev.ts';

/** mdpy's fd layout: config at 0; BAR0 and the display region 16 both at 4096. */
export const MDPY_LAYOUT = { config: 0, fb: 4096 } as const;

/**
 * The VFIO face of an mdpy-compatible region display (samples/vfio-mdev/mdpy.c, spec §5): no
 * dma-buf (GET is -ENOTTY); QUERY with REGION returns the framebuffer whatever the plane type,
 * `size` = region size, `region_index` = 16. Fixed on purpose: num_regions is 17, so the display
 * region is inside it (mdpy reports 9), and pread/pwrite honour the offset.
 */
export class RegionMdev extends VfioMdev {
  public readonly regions: readonly Region[];
  public readonly numRegions = MDPY_DISPLAY_REGION + 1;
  public readonly exporter = undefined;

  public constructor(uuid: string, typeName: string, public readonly device: RegionDevice) {
    super(uuid, typeName);
    const fb = (o: number, n: number): Uint8Array => device.fbView(o, n);
    this.regions = [
      registerRegion(VFIO_PCI_CONFIG_REGION_INDEX, MDPY_LAYOUT.config, 0xff,
        (o, n) => device.configRead(o, n), (o, n, v) => device.configWrite(o, n, v)),
      memoryRegion(VFIO_PCI_BAR0_REGION_INDEX, MDPY_LAYOUT.fb, device.memsize, fb),
      memoryRegion(MDPY_DISPLAY_REGION, MDPY_LAYOUT.fb, device.memsize, fb),
    ];
  }

  protected _queryPlane(flags: number, planeType: number, arg: Uint8Array): number {
    if (flags & VFIO_GFX_PLANE_TYPE_PROBE) {
      return flags === (VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_REGION) ? 0 : -Errno.EINVAL;
    }
    if (flags !== VFIO_GFX_PLANE_TYPE_REGION) return -Errno.EINVAL;
    const p = this.device.decodePlane(planeType);
    return writePlaneInfoOutputs(arg, {
      drmFormat: p.drmFormat, drmFormatMod: 0n, width: p.width, height: p.height, stride: p.stride,
      size: p.size, xPos: 0, yPos: 0, xHot: 0, yHot: 0, regionIndex: MDPY_DISPLAY_REGION,
    });
  }
}
