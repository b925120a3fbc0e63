import { Errno } from '../base/Errno.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { DMA_BUF_IOCTL_SYNC } from './Abi.ts';
import type { DmabufObject } from './DmabufObject.ts';
import { OpenFile } from './OpenFile.ts';
import { PROT_WRITE, type Mapping } from './Sys.ts';

/**
 * One exported dma-buf (a new `struct file` per GET, like GVT). Read-only to the host (B8: GVT
 * marks the proxy object read-only): PROT_WRITE mappings are refused. A mapping is zero-copy:
 * one view per run of contiguous guest pages.
 */
export class DmabufFile extends OpenFile {
  public readonly kind = 'dmabuf';
  private _released = false;

  public constructor(
    public readonly object: DmabufObject,
    private readonly _onRelease: (file: DmabufFile) => void,
  ) {
    super();
  }

  /** Bytes of the buffer (what lseek(SEEK_END) reports): the page-rounded object size. */
  public get size(): number {
    return Math.ceil(this.object.size / PAGE_SIZE) * PAGE_SIZE;
  }

  public override mmap(offset: number, length: number, prot: number): Mapping | number {
    if (prot & PROT_WRITE) return -Errno.EACCES;
    if (this.object.state !== 'listed' && this.object.state !== 'orphan') return -Errno.ENODEV;
    // An orphan's vGPU is gone: its pages can no longer be pinned (GVT get_pages → -ENODEV).
    if (this.object.state === 'orphan') return -Errno.ENODEV;
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length <= 0) return -Errno.EINVAL;
    if (offset % PAGE_SIZE !== 0) return -Errno.EINVAL;
    if (offset + length > this.size) return -Errno.EINVAL;
    // The guest may have remapped its GGTT since QUERY: translate again, refuse on a hole (B5).
    const pages = this.object.resolvePages ? this.object.resolvePages() : this.object.pages;
    if (pages === null) return -Errno.EINVAL;
    return mapPages(this.object, pages, offset, length);
  }

  public override ioctl(request: number, arg: Uint8Array): number {
    if (request !== DMA_BUF_IOCTL_SYNC) return -Errno.ENOTTY;
    if (arg.byteLength < 8) return -Errno.EFAULT;
    // struct dma_buf_sync { __u64 flags }: READ 1, WRITE 2, START 0, END 4.
    const flags = new DataView(arg.buffer, arg.byteOffset, 8).getBigUint64(0, true);
    if (flags & ~7n || (flags & 3n) === 0n) return -Errno.EINVAL;
    return 0;
  }

  public override release(): void {
    if (this._released) return;
    this._released = true;
    this._onRelease(this);
  }
}

/** Zero-copy mapping of [offset, offset+length) of an object's pages, merged into runs. */
export function mapPages(object: DmabufObject, pages: Uint32Array, offset: number, length: number): Mapping {
  const first = offset / PAGE_SIZE;
  const count = Math.ceil(length / PAGE_SIZE);
  const chunks: Uint8Array[] = [];
  const chunkOffsets: number[] = [];
  let i = 0;
  while (i < count) {
    const start = pages[first + i]!;
    let run = 1;
    while (i + run < count && pages[first + i + run] === start + run) run++;
    const view = object.memory.pages(start, run);
    const bytes = Math.min(run * PAGE_SIZE, length - i * PAGE_SIZE);
    chunks.push(bytes === view.byteLength ? view : view.subarray(0, bytes));
    chunkOffsets.push(i * PAGE_SIZE);
    i += run;
  }
  // The views stay valid after unmap (guest memory outlives them); unmapping is bookkeeping only.
  return { length, chunks, chunkOffsets, unmap: () => {} };
}
