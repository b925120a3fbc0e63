import { Errno } from '../base/Errno.ts';
import { VFIO_DEVICE_GET_REGION_INFO, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ } from '../vfio/Abi.ts';
import { encodeRegionInfoRequest, readRegionInfo } from '../vfio/RegionInfo.ts';
import { PROT_READ, type Mapping, type Sys } from '../vfio/Sys.ts';

/**
 * The region (copy) path's access to one device region (spec §1.8): GET_REGION_INFO for its
 * offset in the device fd, then mmap when the region allows it, else pread. `copy` moves bytes
 * from the region into the client's staging buffer: this is the copy the dma-buf path avoids.
 */
export class RegionReader {
  public readonly index: number;
  public readonly offset: number;
  public readonly size: number;
  private _mapping: Mapping | undefined;

  private constructor(private readonly _sys: Sys, private readonly _fd: number, index: number,
    offset: number, size: number, mapping: Mapping | undefined) {
    this.index = index;
    this.offset = offset;
    this.size = size;
    this._mapping = mapping;
  }

  public static open(sys: Sys, fd: number, index: number): RegionReader | number {
    const req = encodeRegionInfoRequest(index);
    const r = sys.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, req);
    if (r < 0) return r;
    const info = readRegionInfo(req);
    if ((info.flags & VFIO_REGION_INFO_FLAG_READ) === 0) return -Errno.EACCES;
    const offset = Number(info.offset);
    const size = Number(info.size);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || size <= 0) return -Errno.EINVAL;
    let mapping: Mapping | undefined;
    if (info.flags & VFIO_REGION_INFO_FLAG_MMAP) {
      const m = sys.mmap(fd, offset, size, PROT_READ);
      if (typeof m !== 'number') mapping = m;
    }
    return new RegionReader(sys, fd, index, offset, size, mapping);
  }

  public get mapped(): boolean {
    return this._mapping !== undefined;
  }

  /** Copy region bytes [0, dst.length) into `dst`; returns bytes copied or -errno. */
  public copy(dst: Uint8Array): number {
    const n = dst.length;
    if (n > this.size) return -Errno.EINVAL;
    const m = this._mapping;
    if (m === undefined) return this._sys.pread(this._fd, dst, this.offset);
    // Usually one chunk; a scattered mapping is copied chunk by chunk.
    const chunks = m.chunks;
    for (let i = 0; i < chunks.length; i++) {
      const at = m.chunkOffsets[i]!;
      if (at >= n) break;
      const c = chunks[i]!;
      const len = Math.min(c.length, n - at);
      dst.set(len === c.length ? c : c.subarray(0, len), at);
    }
    return n;
  }

  public close(): void {
    this._mapping?.unmap();
    this._mapping = undefined;
  }
}
