import { Errno } from '../base/Errno.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR2_REGION_INDEX, VFIO_REGION_INFO_FLAG_MMAP } from '../vfio/Abi.ts';
import { PROT_READ, PROT_WRITE, type Mapping } from '../vfio/Sys.ts';
import { BOCHS_BPP, DISPI, DISPI_ENABLE, dispiOffset } from '../vgpu/bochs/BochsRegisters.ts';
import type { DeviceClient, RegionDesc } from './DeviceClient.ts';
import type { DisplayProgrammer, ExpectedPlane, ModeRequest } from './DisplayProgrammer.ts';
import { mappingReadU32, mappingWriteU32 } from './MappingBytes.ts';

const BAR0 = VFIO_PCI_BAR0_REGION_INDEX;
const BAR2 = VFIO_PCI_BAR2_REGION_INDEX;

/**
 * mbochs-style programming: Bochs DISPI registers by 2-byte pwrite at BAR2 + 0x500 + 2 * index;
 * pixels through an mmap of BAR0 (VRAM), falling back to pwrite only when BAR0 cannot be mapped
 * (on real mbochs pread/pwrite of BAR0 land 8192 bytes off, so mmap is the reliable path).
 * Buffer 1 of a mode sits right after buffer 0 (Y_OFFSET = height): the flip is a pan.
 */
export class BochsProgrammer implements DisplayProgrammer {
  public readonly family = 'bochs' as const;
  public readonly latch = true as const;
  public vram: RegionDesc | undefined;
  private _map: Mapping | undefined;
  private _mode: { width: number; height: number; stride: number; xOffset: number } | undefined;

  public constructor(private readonly _client: DeviceClient) {}

  public prepare(): number {
    const mmio = this._client.region(BAR2);
    if (typeof mmio === 'number') return mmio;
    const vram = this._client.region(BAR0);
    if (typeof vram === 'number') return vram;
    if (vram.size === 0) return -Errno.ENODEV;
    this.vram = vram;
    if ((vram.flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0) {
      const m = this._client.mapRegion(BAR0, 0, vram.size, PROT_READ | PROT_WRITE);
      if (typeof m !== 'number') this._map = m;
    }
    return 0;
  }

  /** Whether pixels go through an mmap of VRAM (else pwrite). */
  public get mapped(): boolean {
    return this._map !== undefined;
  }

  public dispi(index: number, value: number): number {
    return this._client.write16(BAR2, dispiOffset(index), value);
  }

  public readDispi(index: number): number {
    return this._client.read16(BAR2, dispiOffset(index));
  }

  /** Bytes of one buffer of the current mode (stride × height). */
  public get bufferBytes(): number {
    return this._mode ? this._mode.stride * this._mode.height : 0;
  }

  public setMode(mode: ModeRequest): ExpectedPlane | number {
    const virt = Math.max(mode.virtWidth ?? mode.width, mode.width);
    const stride = virt * 4;
    const xOffset = mode.xOffset ?? 0;
    const steps: [number, number][] = [
      [DISPI.ENABLE, DISPI_ENABLE.DISABLED], [DISPI.XRES, mode.width], [DISPI.YRES, mode.height],
      [DISPI.BPP, BOCHS_BPP], [DISPI.VIRT_WIDTH, virt], [DISPI.X_OFFSET, xOffset], [DISPI.Y_OFFSET, 0],
      [DISPI.ENABLE, DISPI_ENABLE.ENABLED | DISPI_ENABLE.LFB_ENABLED],
    ];
    for (const [index, value] of steps) {
      const rc = this.dispi(index, value);
      if (rc < 0) return rc;
    }
    this._mode = { width: mode.width, height: mode.height, stride, xOffset };
    return {
      drmFormat: DRM_FORMAT.XRGB8888, modifier: DRM_FORMAT_MOD.LINEAR, width: mode.width,
      height: mode.height, stride, size: stride * mode.height,
    };
  }

  public disable(): number {
    return this.dispi(DISPI.ENABLE, DISPI_ENABLE.DISABLED);
  }

  public flip(buffer: 0 | 1): number {
    if (!this._mode) return -Errno.EINVAL;
    return this.dispi(DISPI.Y_OFFSET, buffer * this._mode.height);
  }

  /** VRAM byte offset where buffer `buffer` of the current mode starts. */
  public bufferStart(buffer: 0 | 1): number {
    if (!this._mode) return 0;
    return this._mode.xOffset * 4 + buffer * this.bufferBytes;
  }

  public writePixel(buffer: 0 | 1, offset: number, value: number): number {
    return this.writeVram32(this.bufferStart(buffer) + offset, value);
  }

  public writeVram32(offset: number, value: number): number {
    if (this._map) return mappingWriteU32(this._map, offset, value) ? 0 : -Errno.EINVAL;
    return this._client.write32(BAR0, offset, value);
  }

  /** VRAM through the mapping (undefined when BAR0 is not mapped or out of range). */
  public readVramMapped(offset: number): number | undefined {
    return this._map ? mappingReadU32(this._map, offset) : undefined;
  }

  public dispose(): void {
    this._map?.unmap();
    this._map = undefined;
  }
}
