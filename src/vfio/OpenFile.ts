import { Errno } from '../base/Errno.ts';
import type { FdTable } from './FdTable.ts';
import type { Mapping } from './Sys.ts';

/**
 * An open file description (Linux `struct file`). Several fds may share one (dup), and every live
 * mapping holds it too (a vma's `vm_file`); the file is released when the last fd is closed and
 * the last mapping unmapped. Every operation answers like the syscall: a non-negative result or
 * `-errno`; the defaults are what Linux answers for a file that does not implement the operation.
 */
export abstract class OpenFile {
  /** Number of fds referring to this file. */
  public fdRefs = 0;
  /** Number of live mappings of this file (each holds a reference, as `vma->vm_file` does). */
  public mapRefs = 0;
  public abstract readonly kind: string;

  /** Drop one reference (an fd closed, a mapping unmapped); the last one releases the file. */
  public put(ref: 'fd' | 'map'): void {
    if (ref === 'fd') this.fdRefs--;
    else this.mapRefs--;
    if (this.fdRefs === 0 && this.mapRefs === 0) this.release();
  }

  /** `fds` is the calling process's fd table (GET_GFX_DMABUF installs into it). */
  public ioctl(_request: number, _arg: Uint8Array, _fds: FdTable): number {
    return -Errno.ENOTTY;
  }
  public pread(_buf: Uint8Array, _offset: number): number {
    return -Errno.EINVAL;
  }
  public pwrite(_buf: Uint8Array, _offset: number): number {
    return -Errno.EINVAL;
  }
  public mmap(_offset: number, _length: number, _prot: number): Mapping | number {
    return -Errno.ENODEV;
  }
  /** Called once, when the last fd or mapping referring to this file goes (Linux's fput → release). */
  public release(): void {}
}
