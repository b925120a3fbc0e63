import { Errno } from '../base/Errno.ts';
import { VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE } from './Abi.ts';
import type { Region } from './Region.ts';

export interface PciConfigOptions {
  vendor: number;
  device: number;
  /** 24-bit class code (0x030000 VGA, 0x038000 display other). */
  classCode: number;
  subsystemVendor?: number;
  subsystemDevice?: number;
  /** Size of the config region (mbochs/mdpy report 0xff). */
  size?: number;
  /** Extra bytes (capabilities) placed from offset 0x40. */
  extra?: Uint8Array;
}

/**
 * A minimal PCI config space for the VFIO config region: ids and class read back, writes are
 * accepted and ignored (a VMM's config-space emulation writes command/BAR registers).
 */
export class PciConfig {
  public readonly bytes: Uint8Array;

  public constructor(opts: PciConfigOptions) {
    this.bytes = new Uint8Array(Math.max(opts.size ?? 256, 0x40 + (opts.extra?.byteLength ?? 0)));
    const v = new DataView(this.bytes.buffer);
    v.setUint16(0, opts.vendor, true);
    v.setUint16(2, opts.device, true);
    v.setUint32(8, (opts.classCode << 8) >>> 0, true);
    v.setUint16(0x2c, opts.subsystemVendor ?? 0x1af4, true);
    v.setUint16(0x2e, opts.subsystemDevice ?? 0x1100, true);
    if (opts.extra) this.bytes.set(opts.extra, 0x40);
  }

  public region(index: number, offset: number, size = this.bytes.byteLength): Region {
    return {
      index, offset, size,
      flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
      read: (off, buf) => {
        if (off + buf.byteLength > size) return -Errno.EINVAL;
        buf.set(this.bytes.subarray(off, off + buf.byteLength));
        return buf.byteLength;
      },
      write: (off, buf) => (off + buf.byteLength > size ? -Errno.EINVAL : buf.byteLength),
    };
  }
}
