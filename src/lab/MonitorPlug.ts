import { Errno } from '../base/Errno.ts';
import {
  VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GFX_LINK_STATE_DOWN, VFIO_DEVICE_GFX_LINK_STATE_UP,
  VFIO_PCI_NUM_REGIONS, VFIO_REGION_SUBTYPE_GFX_EDID, VFIO_REGION_TYPE_GFX,
} from '../vfio/Abi.ts';
import { EDID_REGS_LAYOUT } from '../vfio/EdidRegs.ts';
import { encodeRegionInfoRequest, findRegionType, readRegionInfo } from '../vfio/RegionInfo.ts';
import type { Sys } from '../vfio/Sys.ts';

const REG = EDID_REGS_LAYOUT.fields;
/** Device-specific regions follow the PCI ones; a handful is plenty to search. */
const MAX_REGION_INDEX = VFIO_PCI_NUM_REGIONS + 8;

/** The fd offset of the device's GFX EDID region (found by its CAP_TYPE), or -errno. */
export function findEdidRegion(sys: Sys, fd: number): number {
  for (let index = VFIO_PCI_NUM_REGIONS; index < MAX_REGION_INDEX; index++) {
    const req = encodeRegionInfoRequest(index, 256);
    if (sys.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, req) < 0) continue;
    const t = findRegionType(req);
    if (t?.type === VFIO_REGION_TYPE_GFX && t.subtype === VFIO_REGION_SUBTYPE_GFX_EDID) {
      return Number(readRegionInfo(req).offset);
    }
  }
  return -Errno.ENOENT;
}

function write32(sys: Sys, fd: number, at: number, v: number): number {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  const r = sys.pwrite(fd, b, at);
  return r < 0 ? r : r === 4 ? 0 : -Errno.EIO;
}

/**
 * Plug a monitor (an EDID blob) into a vGPU the way a VMM does, through the VFIO EDID region:
 * link down, edid_size, the blob at edid_offset, link up. `undefined` unplugs (link down only).
 * The device model sees one hotplug per link change; the guest notices and re-reads the EDID.
 * Returns 0 or -errno (e.g. -EINVAL for a blob the region refuses).
 */
export function plugMonitor(sys: Sys, fd: number, edid: Uint8Array | undefined): number {
  const base = findEdidRegion(sys, fd);
  if (base < 0) return base;
  let r = write32(sys, fd, base + REG.linkState.offset, VFIO_DEVICE_GFX_LINK_STATE_DOWN);
  if (r < 0 || !edid) return r;
  const off = new Uint8Array(4);
  r = sys.pread(fd, off, base + REG.edidOffset.offset);
  if (r < 0) return r;
  const blobAt = new DataView(off.buffer).getUint32(0, true);
  r = write32(sys, fd, base + REG.edidSize.offset, edid.byteLength);
  if (r < 0) return r;
  r = sys.pwrite(fd, edid, base + blobAt);
  if (r < 0) return r;
  return write32(sys, fd, base + REG.linkState.offset, VFIO_DEVICE_GFX_LINK_STATE_UP);
}

/** What the EDID region holds now: the plugged blob and the device's resolution limits (0 = none). */
export interface MonitorState {
  readonly edid: Uint8Array;
  readonly maxXres: number;
  readonly maxYres: number;
}

/** Read the EDID region the way a VMM would (registers, then the blob at edid_offset), or -errno. */
export function readMonitor(sys: Sys, fd: number): MonitorState | number {
  const base = findEdidRegion(sys, fd);
  if (base < 0) return base;
  // The registers take aligned 4-byte accesses only (as in the kernel's mdev samples).
  const reg = (at: number): number => {
    const b = new Uint8Array(4);
    const r = sys.pread(fd, b, base + at);
    return r < 0 ? r : r !== 4 ? -Errno.EIO : new DataView(b.buffer).getUint32(0, true);
  };
  const [offset, maxSize, size, maxXres, maxYres] = [REG.edidOffset, REG.edidMaxSize, REG.edidSize, REG.maxXres,
    REG.maxYres].map((f) => reg(f.offset)) as [number, number, number, number, number];
  for (const v of [offset, maxSize, size, maxXres, maxYres]) if (v < 0) return v;
  const edid = new Uint8Array(Math.min(size, maxSize));
  if (edid.byteLength > 0) {
    const rb = sys.pread(fd, edid, base + offset);
    if (rb < 0) return rb;
  }
  return { edid, maxXres, maxYres };
}
