import type { Mapping } from './Sys.ts';

/**
 * One region of a VFIO device as the device file exposes it: a window of the fd at `offset`
 * (read it from VFIO_DEVICE_GET_REGION_INFO; samples use compact offsets, vfio-pci `index << 40`).
 * Handlers receive offsets relative to the region start, already bounds-checked by the device file.
 */
export interface Region {
  readonly index: number;
  readonly offset: number;
  readonly size: number;
  /** VFIO_REGION_INFO_FLAG_READ | WRITE | MMAP. */
  readonly flags: number;
  /** A VFIO_REGION_INFO_CAP_TYPE capability (device-specific regions such as the EDID region). */
  readonly capType?: { readonly type: number; readonly subtype: number };
  read(offset: number, buf: Uint8Array): number;
  write(offset: number, buf: Uint8Array): number;
  map?(offset: number, length: number): Mapping | number;
}
