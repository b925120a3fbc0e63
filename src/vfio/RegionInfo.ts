import { Errno } from '../base/Errno.ts';
import {
  VFIO_REGION_INFO_CAP_TYPE, VFIO_REGION_INFO_CAP_TYPE_VERSION, VFIO_REGION_INFO_FLAG_CAPS,
} from './Abi.ts';
import { capBody, placeCapChain, walkCapChain } from './InfoCap.ts';
import type { FoundCap, InfoCap } from './InfoCap.ts';
import { defineLayout, readArgsz, readLayout, writeLayout } from './StructLayout.ts';
import type { Values } from './StructLayout.ts';

/** struct vfio_region_info (VFIO_DEVICE_GET_REGION_INFO), 32 bytes; minsz is all of it. */
export const REGION_INFO_SIZE = 32;
export const REGION_INFO_MINSZ = 32;

export const REGION_INFO_LAYOUT = defineLayout('struct vfio_region_info', REGION_INFO_SIZE, {
  argsz: { offset: 0, type: 'u32', c: 'argsz' },
  flags: { offset: 4, type: 'u32', c: 'flags' }, // VFIO_REGION_INFO_FLAG_*
  index: { offset: 8, type: 'u32', c: 'index' }, // in
  capOffset: { offset: 12, type: 'u32', c: 'cap_offset' }, // from the start of the info buffer
  size: { offset: 16, type: 'u64', c: 'size' },
  offset: { offset: 24, type: 'u64', c: 'offset' }, // of the region within the device fd
});

export type RegionInfo = Values<typeof REGION_INFO_LAYOUT.fields>;

/** struct vfio_region_info_cap_type (VFIO_REGION_INFO_CAP_TYPE, version 1), 16 bytes. */
export const REGION_INFO_CAP_TYPE_SIZE = 16;

export const REGION_INFO_CAP_TYPE_LAYOUT = defineLayout(
  'struct vfio_region_info_cap_type', REGION_INFO_CAP_TYPE_SIZE, {
    id: { offset: 0, type: 'u16', c: 'header.id' },
    version: { offset: 2, type: 'u16', c: 'header.version' },
    next: { offset: 4, type: 'u32', c: 'header.next' },
    type: { offset: 8, type: 'u32', c: 'type' }, // VFIO_REGION_TYPE_*
    subtype: { offset: 12, type: 'u32', c: 'subtype' }, // VFIO_REGION_SUBTYPE_*
  },
);

/** What a driver reports for one region. */
export interface RegionInfoReply {
  readonly flags: number;
  readonly size: bigint | number;
  readonly offset: bigint | number;
}

/** Client side: a zeroed request for region `index` (the buffer holds max(argsz, 32) bytes). */
export function encodeRegionInfoRequest(index: number, argsz: number = REGION_INFO_SIZE): Uint8Array {
  const bytes = new Uint8Array(Math.max(argsz, REGION_INFO_SIZE));
  writeLayout(REGION_INFO_LAYOUT, bytes, { argsz, index });
  return bytes;
}

export function readRegionInfo(bytes: Uint8Array): RegionInfo {
  return readLayout(REGION_INFO_LAYOUT, bytes);
}

/**
 * Kernel side of GET_REGION_INFO after the index was validated, with vfio-pci's argsz rules:
 * argsz < 32 → -EINVAL. Without caps, writes flags/size/offset and cap_offset 0 (vfio-pci leaves
 * the caller's cap_offset there; zero is deterministic). With caps, sets FLAG_CAPS; if argsz is
 * too small for them, argsz becomes the size needed and cap_offset stays 0; otherwise the chain is
 * copied at offset 32 and cap_offset = 32. Index and (when large enough) argsz are left as the
 * caller wrote them. Returns 0, -EINVAL, or -EFAULT for a buffer shorter than its argsz claims.
 */
export function writeRegionInfoReply(
  bytes: Uint8Array, reply: RegionInfoReply, caps: readonly InfoCap[] = [],
): number {
  if (bytes.byteLength < REGION_INFO_MINSZ) return -Errno.EFAULT;
  const argsz = readArgsz(bytes);
  if (argsz < REGION_INFO_MINSZ) return -Errno.EINVAL;
  let flags = reply.flags;
  let capOffset = 0;
  let outArgsz = argsz;
  if (caps.length > 0) {
    flags |= VFIO_REGION_INFO_FLAG_CAPS;
    const placed = placeCapChain(bytes, argsz, REGION_INFO_SIZE, caps);
    if (typeof placed === 'number') return placed;
    capOffset = placed.capOffset;
    outArgsz = placed.argsz;
  }
  writeLayout(REGION_INFO_LAYOUT, bytes, {
    argsz: outArgsz, flags, capOffset, size: BigInt(reply.size), offset: BigInt(reply.offset),
  });
  return 0;
}

/** A VFIO_REGION_INFO_CAP_TYPE capability to pass to writeRegionInfoReply. */
export function regionTypeCap(type: number, subtype: number): InfoCap {
  const version = VFIO_REGION_INFO_CAP_TYPE_VERSION;
  return { id: VFIO_REGION_INFO_CAP_TYPE, version, body: capBody(type, subtype) };
}

/**
 * Client side: the capability chain of a reply; [] when FLAG_CAPS is clear or cap_offset is 0
 * (argsz was too small: re-ask with the returned argsz). -EINVAL for a malformed chain.
 */
export function readRegionCaps(bytes: Uint8Array): FoundCap[] | number {
  const info = readRegionInfo(bytes);
  if ((info.flags & VFIO_REGION_INFO_FLAG_CAPS) === 0 || info.capOffset === 0) return [];
  return walkCapChain(bytes.subarray(0, Math.min(info.argsz, bytes.byteLength)), info.capOffset);
}

/** Client side: the region's VFIO_REGION_INFO_CAP_TYPE (type, subtype), if it has one. */
export function findRegionType(bytes: Uint8Array): { type: number; subtype: number } | undefined {
  const caps = readRegionCaps(bytes);
  if (typeof caps === 'number') return undefined;
  const cap = caps.find((c) => c.id === VFIO_REGION_INFO_CAP_TYPE && c.version >= 1);
  if (cap === undefined || cap.bytes.byteLength < REGION_INFO_CAP_TYPE_SIZE) return undefined;
  const t = readLayout(REGION_INFO_CAP_TYPE_LAYOUT, cap.bytes);
  return { type: t.type, subtype: t.subtype };
}
