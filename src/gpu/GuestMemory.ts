/** Guest pages are 4 KiB, like x86 and the GGTT. */
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/**
 * A VM's physical memory: one SharedArrayBuffer, shared between the guest worker (which writes
 * pixels into it) and the host mediator (which exports views of it). Nothing else is reachable
 * through a GuestMemory: every accessor checks its range, so an index computed from guest input
 * can never reach another VM's buffer or host memory.
 */
export class GuestMemory {
  public readonly buffer: SharedArrayBuffer;
  public readonly bytes: Uint8Array;
  public readonly pageCount: number;
  /** Optional probe called with every page range the host reads on behalf of the guest (tests). */
  public accessProbe: ((firstPage: number, pageCount: number) => void) | undefined;

  public constructor(sizeOrBuffer: number | SharedArrayBuffer) {
    if (typeof sizeOrBuffer === 'number') {
      if (!Number.isInteger(sizeOrBuffer) || sizeOrBuffer <= 0 || sizeOrBuffer % PAGE_SIZE !== 0) {
        throw new RangeError(`guest memory size must be a positive multiple of ${PAGE_SIZE}, got ${sizeOrBuffer}`);
      }
      this.buffer = new SharedArrayBuffer(sizeOrBuffer);
    } else {
      if (sizeOrBuffer.byteLength % PAGE_SIZE !== 0) throw new RangeError('guest memory buffer is not page sized');
      this.buffer = sizeOrBuffer;
    }
    this.bytes = new Uint8Array(this.buffer);
    this.pageCount = this.buffer.byteLength / PAGE_SIZE;
  }

  public get size(): number {
    return this.buffer.byteLength;
  }

  public hasPage(page: number): boolean {
    return Number.isInteger(page) && page >= 0 && page < this.pageCount;
  }

  /** A zero-copy view of `count` pages from `first`; throws RangeError outside this memory. */
  public pages(first: number, count: number): Uint8Array {
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0 || first + count > this.pageCount) {
      throw new RangeError(`pages ${first}+${count} outside guest memory of ${this.pageCount} pages`);
    }
    this.accessProbe?.(first, count);
    return new Uint8Array(this.buffer, first * PAGE_SIZE, count * PAGE_SIZE);
  }

  /** A zero-copy view of a byte range; throws RangeError outside this memory. */
  public view(offset: number, length: number): Uint8Array {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`bytes ${offset}+${length} outside guest memory of ${this.size} bytes`);
    }
    return new Uint8Array(this.buffer, offset, length);
  }
}
