import { Errno } from '../base/Errno.ts';
import { VFIO_REGION_INFO_FLAG_MMAP } from '../vfio/Abi.ts';
import { PROT_READ, PROT_WRITE, type Mapping } from '../vfio/Sys.ts';
import type { DeviceClient, RegionDesc } from './DeviceClient.ts';
import { mappingReadU32, mappingWriteU32 } from './MappingBytes.ts';

/** mdpy's display region index (MDPY_DISPLAY_REGION), the one QUERY reports. */
export const DISPLAY_REGION = 16;

/**
 * mdpy-style region display: nothing to program (the framebuffer is fixed); pixels go through an
 * mmap of the display region, or pwrite when it cannot be mapped.
 */
export class RegionProgrammer {
  public readonly family = 'region' as const;
  public fb: RegionDesc | undefined;
  private _map: Mapping | undefined;

  public constructor(private readonly _client: DeviceClient, public readonly index = DISPLAY_REGION) {}

  public prepare(): number {
    const r = this._client.region(this.index);
    if (typeof r === 'number') return r;
    if (r.size === 0) return -Errno.ENODEV;
    this.fb = r;
    if ((r.flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0) {
      const m = this._client.mapRegion(this.index, 0, r.size, PROT_READ | PROT_WRITE);
      if (typeof m !== 'number') this._map = m;
    }
    return 0;
  }

  public get mapping(): Mapping | undefined {
    return this._map;
  }

  public writePixel(offset: number, value: number): number {
    if (this._map) return mappingWriteU32(this._map, offset, value) ? 0 : -Errno.EINVAL;
    return this._client.write32(this.index, offset, value);
  }

  public readMapped(offset: number): number | undefined {
    return this._map ? mappingReadU32(this._map, offset) : undefined;
  }

  public dispose(): void {
    this._map?.unmap();
    this._map = undefined;
  }
}
