import { Errno } from '../base/Errno.ts';
import { VFIO_DEVICE_FLAGS_CAPS } from './Abi.ts';
import { placeCapChain } from './InfoCap.ts';
import type { InfoCap } from './InfoCap.ts';
import { defineLayout, readArgsz, readLayout, writeLayout } from './StructLayout.ts';
import type { Values } from './StructLayout.ts';

/**
 * struct vfio_device_info (VFIO_DEVICE_GET_INFO). It grew twice, so three caller sizes exist:
 * - 16 bytes {argsz, flags, num_regions, num_irqs}: the original struct, and still minsz;
 * - 20 bytes + cap_offset (device capabilities; the Linux 6.1 header on the build machine);
 * - 24 bytes + explicit `pad` (v6.7-era headers, making the tail padding explicit).
 * The kernel copies back 16 bytes, or 20 when argsz >= 20; it never writes `pad`. The capability
 * chain, if any, starts at sizeof(info) = 24.
 */
export const DEVICE_INFO_SIZE = 24;
export const DEVICE_INFO_MINSZ = 16;
/** offsetofend(cap_offset): from this argsz on, cap_offset is copied back. */
export const DEVICE_INFO_CAPSZ = 20;

export const DEVICE_INFO_LAYOUT = defineLayout('struct vfio_device_info', DEVICE_INFO_SIZE, {
  argsz: { offset: 0, type: 'u32', c: 'argsz' },
  flags: { offset: 4, type: 'u32', c: 'flags' }, // VFIO_DEVICE_FLAGS_*
  numRegions: { offset: 8, type: 'u32', c: 'num_regions' }, // max region index + 1
  numIrqs: { offset: 12, type: 'u32', c: 'num_irqs' }, // max IRQ index + 1
  capOffset: { offset: 16, type: 'u32', c: 'cap_offset', optional: true },
  pad: { offset: 20, type: 'u32', c: 'pad', optional: true },
});

export type DeviceInfo = Values<typeof DEVICE_INFO_LAYOUT.fields>;

export interface DeviceInfoReply {
  readonly flags: number;
  readonly numRegions: number;
  readonly numIrqs: number;
}

/** Client side: a zeroed request of `argsz` bytes (16, 20 or 24; default 24). */
export function encodeDeviceInfoRequest(argsz: number = DEVICE_INFO_SIZE): Uint8Array {
  const bytes = new Uint8Array(Math.max(argsz, DEVICE_INFO_MINSZ));
  writeLayout(DEVICE_INFO_LAYOUT, bytes, { argsz });
  return bytes;
}

/** Decode; cap_offset and pad read as 0 from a 16-byte buffer. */
export function readDeviceInfo(bytes: Uint8Array): DeviceInfo {
  return readLayout(DEVICE_INFO_LAYOUT, bytes);
}

/**
 * Kernel side of GET_INFO with vfio-pci's rules: argsz < 16 → -EINVAL; write flags, num_regions,
 * num_irqs, and cap_offset only when argsz >= 20 (so a 16-byte caller's buffer is never written
 * past byte 16). With caps, sets FLAGS_CAPS; a too-small argsz gets the size needed and
 * cap_offset 0, else the chain is copied at offset 24. Returns 0, -EINVAL or -EFAULT.
 */
export function writeDeviceInfoReply(
  bytes: Uint8Array, reply: DeviceInfoReply, caps: readonly InfoCap[] = [],
): number {
  if (bytes.byteLength < DEVICE_INFO_MINSZ) return -Errno.EFAULT;
  const argsz = readArgsz(bytes);
  if (argsz < DEVICE_INFO_MINSZ) return -Errno.EINVAL;
  const copyOut = argsz >= DEVICE_INFO_CAPSZ ? DEVICE_INFO_CAPSZ : DEVICE_INFO_MINSZ;
  if (bytes.byteLength < copyOut) return -Errno.EFAULT;
  let flags = reply.flags;
  let capOffset = 0;
  let outArgsz = argsz;
  if (caps.length > 0) {
    flags |= VFIO_DEVICE_FLAGS_CAPS;
    const placed = placeCapChain(bytes, argsz, DEVICE_INFO_SIZE, caps);
    if (typeof placed === 'number') return placed;
    capOffset = placed.capOffset;
    outArgsz = placed.argsz;
  }
  writeLayout(DEVICE_INFO_LAYOUT, bytes.subarray(0, copyOut), {
    argsz: outArgsz, flags, numRegions: reply.numRegions, numIrqs: reply.numIrqs, capOffset,
  });
  return 0;
}
