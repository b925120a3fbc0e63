import type { MmioTarget } from '../guest/host/HostPort.ts';
import { GVT_EDID_WINDOW, GVT_EDID_WINDOW_SIZE, GVT_HOTPLUG_COUNT } from '../guest/os/GvtEdidWindow.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import type { DisplayLink } from '../vgpu/DisplayLink.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';

/** Accesses the glue dropped before they reached the device (sizes the device never takes). */
export interface MmioCounters {
  dropped: number;
}

/**
 * A guest's gvt BAR0 as the host mediates it: 4- and 8-byte accesses go to the device model
 * (kvmgt refuses any other size, so 1- and 2-byte ones are dropped and read 0).
 *
 * LAB EXTENSION (documented in src/guest/os/GvtEdidWindow.ts): the device model has no GMBUS/DDC,
 * so this glue answers 32-bit reads of BAR0 0x7A000..0x7A07F with the EDID the vGPU's DisplayLink
 * offers (zeros while the link is down) and 0x7A080 with the link's hotplug counter
 * (DisplayLink.generation). The window is read-only; every other offset is forwarded unchanged.
 */
export function gvtMmio(dev: GvtDevice, link: DisplayLink,
  counters: MmioCounters = { dropped: 0 }): MmioTarget {
  const inWindow = (o: number): boolean =>
    (o >= GVT_EDID_WINDOW && o < GVT_EDID_WINDOW + GVT_EDID_WINDOW_SIZE) || o === GVT_HOTPLUG_COUNT;
  return {
    read(offset: number, size: number): number | bigint {
      if (size === 8) return dev.mmioRead64(offset);
      if (size !== 4) {
        counters.dropped++;
        return 0;
      }
      if (offset === GVT_HOTPLUG_COUNT) return link.generation >>> 0;
      if (inWindow(offset)) {
        if (offset % 4 !== 0) return 0;
        const e = link.edid;
        let v = 0;
        for (let i = 3; i >= 0; i--) v = v * 256 + (e?.[offset - GVT_EDID_WINDOW + i] ?? 0);
        return v;
      }
      return dev.mmioRead32(offset);
    },
    write(offset: number, size: number, value: number | bigint): void {
      if (inWindow(offset)) {
        counters.dropped++;
        return;
      }
      if (size === 8 && typeof value === 'bigint') dev.mmioWrite64(offset, value);
      else if (size === 4 && typeof value === 'number') dev.mmioWrite32(offset, value);
      else counters.dropped++;
    },
    vblank(): void {
      dev.vblank();
    },
  };
}

/**
 * A guest's bochs MMIO BAR (BAR2): 1-, 2- and 4-byte accesses go to the device model, which
 * ignores everything it does not understand; 8-byte accesses do not exist on this BAR. VRAM
 * (BAR0) is not here: it is guest memory, written directly.
 */
export function bochsMmio(dev: BochsDevice, counters: MmioCounters = { dropped: 0 }): MmioTarget {
  return {
    read(offset: number, size: number): number | bigint {
      if (size === 8) {
        counters.dropped++;
        return 0n;
      }
      return dev.mmioRead(offset, size);
    },
    write(offset: number, size: number, value: number | bigint): void {
      if (typeof value !== 'number' || size === 8) {
        counters.dropped++;
        return;
      }
      dev.mmioWrite(offset, size, value);
    },
    vblank(): void {
      dev.vblank();
    },
  };
}
